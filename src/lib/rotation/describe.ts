// `fleet rotate-keys` in a person's words.
import {unreadableReport} from '../keys/crypto.ts'
import type {RotationReport} from './rotate.ts'

/** The report as lines (and, when files were left, the failure on stderr with exit 1). */
export function describeRotation(report: RotationReport): {lines: string[]; failure?: string; exitCode?: number} {
  if (report.dryRun) return {lines: [...report.plan, ...(report.runbook ? ['Then:', ...report.runbook] : [])]}
  const lines: string[] = []
  if (report.mode === 'all')
    lines.push(`Every active machine rotates its key at its next sync (requested ${report.requestedAt}); \`fleet status\` shows which are left.`)
  if (report.mode === 'compromised') lines.push(...(report.runbook ?? []))
  else {
    lines.push(`${report.machine} rotated its key: ${report.reencrypted.length} file(s) re-encrypted and verified, ${report.pushed} commit(s) pushed.`)
    lines.push(report.oldKeyRemoved ? 'The old key is removed.' : `The old key is kept: ${report.oldKeyKept ?? 'the rotation did not finish'}.`)
  }
  return {lines, ...unreadableReport(report.unreadable)}
}
