// The last doctor run in brief, kept in the state directory: the next sync's heartbeat carries it to the fleet.
import {mkdir, readFile} from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'

import type {FleetPaths} from '../platform/paths.ts'
import {type DoctorSummary, doctorSummarySchema} from './heartbeat.ts'

/** What a doctor report must have for its summary: when it ran, its checks' ids and statuses. */
export interface DoctorReportLike {
  at: string
  checks: Array<{id: string; status: 'ok' | 'warn' | 'fail' | 'skip'}>
}

/** Keep the summary of a doctor run (counts and failing ids: no messages, which may name files). */
export async function recordDoctorSummary(paths: FleetPaths, report: DoctorReportLike): Promise<DoctorSummary> {
  const counts = {ok: 0, warn: 0, fail: 0, skip: 0}
  for (const check of report.checks) counts[check.status]++
  const summary: DoctorSummary = {at: report.at, counts, failing: report.checks.filter((c) => c.status === 'fail').map((c) => c.id)}
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  await writeFileAtomic(paths.doctorSummaryFile, JSON.stringify(summary) + '\n', {mode: 0o600})
  return summary
}

/** The last doctor run's summary, if there was one and it can be read. */
export async function readDoctorSummary(paths: FleetPaths): Promise<DoctorSummary | undefined> {
  try {
    const parsed = doctorSummarySchema.safeParse(JSON.parse(await readFile(paths.doctorSummaryFile, 'utf8')))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}
