// `fleet doctor` in a person's words: the checks under their groups, a mark for each status, the fix under what is
// not ok, and a last line that says how it came out. Short enough to paste into a bug report.
import {sentence} from '../platform/text.ts'
import type {CheckResult, CheckStatus} from './check.ts'
import {GROUP_ORDER} from './checks/index.ts'
import {type DoctorReport, formatSeconds} from './doctor.ts'

const MARKS: Record<CheckStatus, string> = {ok: '✓', warn: '!', fail: '✗', skip: '-'}

/**
 * The report as lines: with --fix, what it repaired (or could not, or did not try) first; then each group of checks,
 * then the verdict. Checks skipped for the same reason are one line: in their group, or, when the reason spans groups
 * (a machine that is not enrolled), one line after them.
 */
export function describeDoctor(report: DoctorReport): string[] {
  const lines: string[] = []
  if (report.repairs && report.repairs.length > 0) {
    lines.push('--fix:')
    for (const repair of report.repairs) {
      if (repair.changed) lines.push(`  ✓ ${repair.id}: ${repair.changed}`)
      else if (repair.notTried) lines.push(`  - ${repair.id}: not tried: ${repair.notTried}`)
      else lines.push(`  ✗ ${repair.id}: could not repair: ${repair.error}`)
      if (repair.fix) lines.push(`      fix: ${repair.fix}`)
    }
    lines.push('')
  }
  // As wide as the longest id shown (a plugin's may be long), so that the messages line up.
  const idWidth = Math.max(ID_WIDTH, ...report.checks.map((result) => result.id.length))
  const groups = grouped(report.checks)
  const spread = reasonsSpanningGroups(groups)
  for (const [group, results] of groups) {
    const shown = results.filter((result) => !(result.status === 'skip' && spread.has(result.message)))
    if (shown.length === 0) continue
    lines.push(group)
    const sameSkip = skipsByReason(shown)
    for (const result of shown) {
      if (result.status === 'skip') {
        const ids = sameSkip.get(result.message)!
        if (ids.length > 1) {
          if (ids[0] === result.id) lines.push(`  ${MARKS.skip} ${skippedLine(ids, result.message)}`)
          continue
        }
      }
      lines.push(`  ${MARKS[result.status]} ${result.id.padEnd(idWidth)} ${sentence(result.message)}`)
      if (result.status !== 'ok' && result.status !== 'skip' && result.fix) lines.push(`  ${' '.repeat(idWidth + 2)} fix: ${fixText(result)}`)
    }
  }
  for (const [message, ids] of skipsByReason(report.checks.filter((result) => result.status === 'skip' && spread.has(result.message)))) {
    lines.push(`${MARKS.skip} ${skippedLine(ids, message)}`)
  }
  if (report.repairs?.length === 0) {
    const needYou = report.checks.some((result) => result.status === 'warn' || result.status === 'fail')
    lines.push('', needYou ? 'Nothing here that --fix can repair; the fixes above need you.' : 'Nothing here for --fix to repair.')
  }
  lines.push('', verdict(report))
  return lines
}

/** The narrowest the id column is. */
const ID_WIDTH = 22

/**
 * A check's fix as written, never with a full stop added: a fix often ends in a command
 * (`fleet plugins install hello --allow-unscoped`), which a person copies whole.
 */
function fixText(result: CheckResult): string {
  return result.fixable ? `${result.fix!} (\`fleet doctor --fix\` does it)` : result.fix!
}

/** Checks skipped for one reason, in a line: "a, b, c: skipped, <reason>". */
function skippedLine(ids: string[], message: string): string {
  return `${ids.join(', ')}: skipped, ${sentence(message.replace(/^skipped:\s*/i, ''))}`
}

/** The ids of the skipped checks among `results`, by their message. */
function skipsByReason(results: CheckResult[]): Map<string, string[]> {
  const reasons = new Map<string, string[]>()
  for (const result of results) if (result.status === 'skip') reasons.set(result.message, [...(reasons.get(result.message) ?? []), result.id])
  return reasons
}

/** Skip messages shared by checks of more than one group: said once, after the groups. */
function reasonsSpanningGroups(groups: Array<[string, CheckResult[]]>): Set<string> {
  const groupsOf = new Map<string, Set<string>>()
  for (const [group, results] of groups) {
    for (const result of results) if (result.status === 'skip') groupsOf.set(result.message, (groupsOf.get(result.message) ?? new Set()).add(group))
  }
  return new Set([...groupsOf].filter(([, inGroups]) => inGroups.size > 1).map(([message]) => message))
}

/** The results by group: the core's groups in their order, then the plugins' in the order they came. */
function grouped(results: CheckResult[]): Array<[string, CheckResult[]]> {
  const groups = new Map<string, CheckResult[]>()
  const rank = (group: string) => {
    const index = GROUP_ORDER.indexOf(group)
    return index === -1 ? GROUP_ORDER.length : index
  }
  for (const result of [...results].sort((a, b) => rank(a.group) - rank(b.group))) {
    groups.set(result.group, [...(groups.get(result.group) ?? []), result])
  }
  return [...groups]
}

function verdict(report: DoctorReport): string {
  const {ok, warn, fail, skip} = report.summary
  const counts = [`${ok} ok`, `${warn} warning${warn === 1 ? '' : 's'}`, `${fail} failed`, ...(skip > 0 ? [`${skip} skipped`] : [])].join(', ')
  const head = fail > 0 ? 'Something is wrong' : warn > 0 ? 'Healthy, with warnings' : 'Healthy'
  return `${head}: ${counts} (${formatSeconds(report.durationMs)}).`
}
