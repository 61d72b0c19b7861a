// What enroll did, in a person's words.
import type {EnrollResult} from './enroll.ts'

/** The summary enroll ends with: where this machine stands, what it has, and what to do next. */
export function describeEnrollment(result: EnrollResult): string[] {
  const lines = [
    '',
    `${result.machine} is ${result.state} in the fleet at ${result.forge}${result.embeddedForge ? ' (a bare repository on this machine)' : ''}.`,
    `  key:    ${result.identityFile} (${result.keyType}${result.keyCreated ? ', new' : ''})`,
    `  source: ${result.sourceDir}`,
    `  agents: ${result.agents.message}`,
  ]
  if (result.sshPublicKey)
    lines.push(`  ssh:    ${result.sshPublicKey.split(' ')[0]} key in the roster (in every machine's ~/.ssh/authorized_keys while this machine is active)`)
  if (result.sshAddress) lines.push(`  ssh:    reached by its peers at ${result.sshAddress}`)
  if (result.backedUp.length > 0) lines.push(`  files this machine had before, replaced by the fleet's: backed up to ${result.backupDir}`)
  for (const note of result.notes) lines.push(`  note: ${note}`)
  lines.push('', 'Next:')
  for (const step of result.next) lines.push(`  - ${step}`)
  return lines
}
