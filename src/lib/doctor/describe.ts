// `fleet doctor` in a person's words: the checks under their groups, a mark for each status, the fix under what is
// not ok, and a last line that says how it came out. Short enough to paste into a bug report.
import type {CheckResult, CheckStatus} from './check.ts'
import {GROUP_ORDER} from './checks/index.ts'
import {type DoctorReport, formatSeconds} from './doctor.ts'

const MARKS: Record<CheckStatus, string> = {ok: '✓', warn: '!', fail: '✗', skip: '-'}

/** The report as lines: repairs first (with --fix), then each group of checks, then the verdict. */
export function describeDoctor(report: DoctorReport): string[] {
  const lines: string[] = []
  if (report.repairs && report.repairs.length > 0) {
    lines.push('Repaired:')
    for (const repair of report.repairs) {
      lines.push(repair.changed ? `  ✓ ${repair.id}: ${repair.changed}` : `  ✗ ${repair.id}: could not repair: ${repair.error}`)
      if (repair.fix) lines.push(`      fix: ${repair.fix}`)
    }
    lines.push('')
  }
  for (const [group, results] of grouped(report.checks)) {
    lines.push(group)
    for (const result of results) {
      lines.push(`  ${MARKS[result.status]} ${result.id.padEnd(ID_WIDTH)} ${sentence(result.message)}`)
      if (result.status !== 'ok' && result.status !== 'skip' && result.fix) lines.push(`  ${' '.repeat(ID_WIDTH + 2)} fix: ${fixText(result)}`)
    }
  }
  lines.push('', verdict(report))
  return lines
}

const ID_WIDTH = 22

function fixText(result: CheckResult): string {
  return result.fixable ? `${sentence(result.fix!)} \`fleet doctor --fix\` does it.` : sentence(result.fix!)
}

/** A check's words as a sentence, whoever wrote them (the core's checks, a plugin's): a capital, a full stop. */
function sentence(text: string): string {
  const capital = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
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
