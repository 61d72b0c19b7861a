// `task-durations record`: one row appended to this machine's local.parquet, the file replaced atomically.
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {homedir} from 'node:os'

import {FleetError, UsageError, waitForLock, withTilde} from '@dotfleet/fleet'

import {readError, unreadableFileError} from './errors.ts'
import {writeTableAtomically, withDuckDB} from './parquet.ts'
import type {DurationsPaths} from './paths.ts'

/** The columns of local.parquet, in order. */
export const DURATIONS_COLUMNS = 'task VARCHAR NOT NULL, seconds DOUBLE NOT NULL, host VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL'

/** How long `record` waits for another `record` on this machine to finish. */
const LOCK_WAIT_MS = 30_000

/** One recorded duration, as `record --json` prints it. */
export interface RecordedDuration {
  task: string
  seconds: number
  host: string
  recordedAt: string
  /** The file it went into, and how many rows that file holds now. */
  file: string
  rows: number
}

/** TASK as typed: any text but an empty one. */
export function parseTask(text: string): string {
  if (text.trim() === '') throw new UsageError('TASK is empty.', 'Name the task: fleet task-durations record "build the site" 42.5')
  return text
}

/** SECONDS as typed: a finite number, 0 or more (`42`, `0.5`, `1e3`). */
export function parseSeconds(text: string): number {
  const seconds = text.trim() === '' ? Number.NaN : Number(text)
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(
      `SECONDS must be a number of seconds, 0 or more; "${text}" is not.`,
      'Give the duration in seconds, as a plain number: fleet task-durations record "build the site" 42.5',
    )
  }
  return seconds
}

/**
 * Append one row (task, seconds, host, now) to `paths.localFile`, creating it on first use. Two records at once
 * take turns (a lock beside the file), so neither loses the other's row; the file is replaced atomically, so a
 * reader (a peer's pull-fleet) never sees half of it.
 */
export async function recordDuration(paths: DurationsPaths, row: {task: string; seconds: number; host: string}): Promise<RecordedDuration> {
  await mkdir(paths.dir, {recursive: true})
  const lock = await waitForLock(paths.localLock, 'task-durations record', LOCK_WAIT_MS)
  if (!lock) {
    throw new FleetError(`Another \`fleet task-durations record\` has been writing ${withTilde(homedir(), paths.localFile)} for ${LOCK_WAIT_MS / 1000} s.`, {
      code: 'LOCKED',
      fix: 'Wait for it to finish and run the command again.',
    })
  }
  try {
    const recordedAt = new Date().toISOString()
    const rows = await withDuckDB(async (connection) => {
      await connection.run(`CREATE TEMP TABLE durations (${DURATIONS_COLUMNS})`)
      if (existsSync(paths.localFile)) {
        try {
          await connection.run('INSERT INTO durations BY NAME SELECT task, seconds, host, recorded_at FROM read_parquet($1)', [paths.localFile])
        } catch (error) {
          throw unreadableFileError(paths.localFile, readError(error), 'local', 'Nothing was recorded.')
        }
      }
      await connection.run('INSERT INTO durations VALUES ($1, $2, $3, $4::TIMESTAMPTZ)', [row.task, row.seconds, row.host, recordedAt])
      await writeTableAtomically(connection, 'durations', paths.localFile)
      const count = await connection.runAndReadAll('SELECT count(*)::INTEGER AS count FROM durations')
      return Number(count.getRowObjectsJS()[0].count)
    })
    return {...row, recordedAt, file: paths.localFile, rows}
  } finally {
    lock.release()
  }
}
