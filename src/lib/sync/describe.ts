// A sync's result in a person's words.
import {ExitCode} from '../errors/index.ts'
import {describeHolder} from '../lock/fleet-lock.ts'
import type {SyncResult} from './engine.ts'
import {describeFindings} from '../secrets/detect.ts'
import type {HeldBack} from './secret-check.ts'

/** The exit code a sync's outcome calls for (README, "Exit codes"). */
export function syncExitCode(result: SyncResult): number {
  switch (result.outcome) {
    case 'offline':
      return ExitCode.forgeUnreachable
    case 'conflict':
      return ExitCode.conflict
    case 'error':
      return result.failure?.exitCode ?? ExitCode.error
    default:
      return ExitCode.ok
  }
}

/** A failed sync's error and fix, for stderr. */
export function describeFailure(result: SyncResult): string | undefined {
  if (result.outcome !== 'error') return undefined
  return `Error: ${result.error}\n${result.failure?.fix ? `Fix: ${result.failure.fix}\n` : ''}`
}

export function describeSync(result: SyncResult): string[] {
  const lines: string[] = []
  switch (result.outcome) {
    case 'deferred':
      return [describeDeferral(result)]
    case 'quick':
      return ['Up to date (nothing changed here, and the forge has not moved).']
    case 'error':
      return [] // the error itself goes to stderr (describeFailure)
    default:
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  if (result.captured.length > 0) lines.push(`Captured ${count(result.captured.length, 'change')}: ${result.captured.join(', ')}`)
  if (result.merged.length > 0)
    lines.push(`Merged ${count(result.merged.length, 'file')} edited here with the fleet's changes to it: ${result.merged.join(', ')}`)
  if (result.pushed > 0) lines.push(`Pushed ${count(result.pushed, 'commit')}.`)
  if (result.received > 0) lines.push(`Received ${count(result.received, 'commit')} from the forge.`)
  if (result.applied.length > 0) lines.push(`Applied ${count(result.applied.length, 'file')}: ${result.applied.join(', ')}`)
  if (result.backedUp.length > 0)
    lines.push(`Backed up ${count(result.backedUp.length, 'file')} this machine had before the fleet's version replaced it: ${result.backupDir}`)
  for (const path of result.templates)
    lines.push(`${path} was edited here, but it is a template: edit its source with \`chezmoi edit ~/${path}\` instead (your edit was not overwritten).`)
  for (const {path, reason} of result.skipped) lines.push(`Not captured: ${path} (${reason}).`)
  lines.push(...describeHeldBack(result.heldBack))
  if (result.waiting.length > 0) lines.push(`Not applied yet (chezmoi did not write them; the next sync tries again): ${result.waiting.join(', ')}`)
  if (result.leftAlone.length > 0) lines.push(`Edited while this sync ran, left for the next one: ${result.leftAlone.join(', ')}`)
  for (const note of result.notes) lines.push(`Note: ${note}.`)
  for (const warning of result.warnings) lines.push(`Warning: ${warning}`)
  if (result.outcome === 'offline') lines.push(`The forge did not answer (${result.error}). Local commits are kept and will be pushed by the next sync.`)
  if (result.conflicts.length > 0) {
    lines.push(`Conflict: ${count(result.conflicts.length, 'file')} changed here and on another machine in the same place:`)
    for (const c of result.conflicts)
      lines.push(`  ${c.path} (this machine's version is where it was, on disk here; the fleet's is in the source repo; both kept on ${c.parkedBranch})`)
    lines.push(`Resolve each with: fleet resolve <path> --mine   (keep this machine's)   or   --theirs   (take the fleet's)`)
  }
  if (lines.length === 0) lines.push('Up to date.')
  return lines
}

/** Why nothing was synced now, and what happens instead: a sync runs once more; another command does not. */
function describeDeferral(result: SyncResult): string {
  const holder = result.holder
  if (!holder) return 'Another fleet process is running on this machine; the next sync runs for this one.'
  if (holder.purpose.startsWith('sync')) return `Another sync is running on this machine (${describeHolder(holder)}); it will run once more for this one.`
  return `Another fleet command is working on this machine (${describeHolder(holder)}); nothing was synced now: run \`fleet sync\` again once it is done (the agents' next sync does it too).`
}

/** How every command that runs a sync reports it: its lines, the error and fix (for stderr), and the exit code. */
export interface SyncReport {
  lines: string[]
  failure?: string
  exitCode: number
}

/** A sync's report, for the command to print: this says what to print and the exit code, and prints nothing. */
export function reportSync(result: SyncResult): SyncReport {
  return {lines: describeSync(result), failure: describeFailure(result), exitCode: syncExitCode(result)}
}

/** What was held back because it looks like a secret, and the three ways out. Paths and kinds only, never values. */
export function describeHeldBack(heldBack: HeldBack[]): string[] {
  if (heldBack.length === 0) return []
  const lines = [`Held back (it looks like a secret; nothing of it left this machine): ${heldBack.length === 1 ? '1 file' : `${heldBack.length} files`}`]
  for (const {path, findings} of heldBack) lines.push(`  ~/${path}: ${describeFindings(findings)}`)
  lines.push('  Fix: encrypt it (fleet remove-path <dir>, then fleet add-path --encrypt <dir>), or move the value into the')
  lines.push('  secrets file (~/.config/fleet/secrets.env), or, if it is not a secret: fleet add-path --plain-text <file>')
  return lines
}
