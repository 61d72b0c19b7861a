// Reading a `fleet doctor --json` report in a scenario: one check's result by id, and the statuses of several.
import assert from 'node:assert/strict'

import type {CheckResult} from '../../src/lib/doctor/check.ts'
import type {DoctorReport} from '../../src/lib/doctor/doctor.ts'

/** The result of the check `id`; fails, listing the ids the report has, when it has none. */
export function checkOf(report: DoctorReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id)
  assert.ok(found, `the report has ${id}: ${report.checks.map((c) => c.id).join(', ')}`)
  return found
}

/** The status of each check in `ids`, by id (for one deepEqual over a group). */
export function statusesOf(report: DoctorReport, ids: string[]): Record<string, string> {
  return Object.fromEntries(ids.map((id) => [id, checkOf(report, id).status]))
}
