// `task-durations record`: one row appended to this machine's local.parquet, the file replaced atomically.
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {homedir} from 'node:os'
import {basename, join} from 'node:path'

import {FleetError, UsageError, waitForLock, withTilde} from '@dotfleet/fleet'

import {readError, unreadableFileError} from './errors.ts'
import {removeAbandonedFiles} from './leftovers.ts'
import {withDuckDB, withPlainDir, writeTableAtomically} from './parquet.ts'
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

/** The longest duration `record` takes: ten years, in seconds. Anything longer is a typing mistake. */
export const MAX_SECONDS = 10 * 365 * 24 * 60 * 60

/** A control character (a newline, a tab, an escape…): a task name is one line of plain text. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001F\u007F-\u009F]/

/** How each command is typed, for the fix of a bad TASK. */
const TASK_EXAMPLES = {
  record: 'fleet task-durations record "build the site" 42.5',
  estimate: 'fleet task-durations estimate "build the site"',
} as const

/** TASK as typed to `command`: one line of text, not empty. */
export function parseTask(text: string, command: keyof typeof TASK_EXAMPLES = 'record'): string {
  if (text.trim() === '') throw new UsageError('TASK is empty.', `Name the task: ${TASK_EXAMPLES[command]}`)
  if (CONTROL_CHARACTER.test(text)) {
    throw new UsageError(
      `TASK ${JSON.stringify(text)} holds a control character (a newline, a tab or the like).`,
      `Name the task in one line of plain text: ${TASK_EXAMPLES[command]}`,
    )
  }
  return text
}

/** A plain decimal number of seconds: `12`, `12.5`, `.5`, `1e3` (no sign, no hexadecimal, no `Infinity`). */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i

/** A number of seconds written out in full, never in exponent form: 1e-7 → `0.0000001`. */
export function plainSeconds(seconds: number): string {
  return seconds.toLocaleString('en-US', {useGrouping: false, maximumFractionDigits: 20})
}

/** SECONDS as typed: a plain decimal number (see DECIMAL), 0 up to MAX_SECONDS. */
export function parseSeconds(text: string): number {
  const fix = 'Give the duration in seconds, as a plain decimal number: fleet task-durations record "build the site" 42.5'
  const seconds = DECIMAL.test(text.trim()) ? Number(text.trim()) : Number.NaN
  if (!Number.isFinite(seconds)) throw new UsageError(`SECONDS must be a number of seconds, 0 or more; ${JSON.stringify(text)} is not.`, fix)
  if (seconds > MAX_SECONDS) {
    throw new UsageError(`SECONDS is ${plainSeconds(seconds)} s, more than ten years (${MAX_SECONDS} s): not a duration this records.`, fix)
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
    await removeAbandonedFiles(paths.dir)
    const recordedAt = new Date().toISOString()
    const rows = await withPlainDir(paths.dir, (dir) =>
      withDuckDB(async (connection) => {
        const localFile = join(dir, basename(paths.localFile))
        await connection.run(`CREATE TEMP TABLE durations (${DURATIONS_COLUMNS})`)
        if (existsSync(paths.localFile)) {
          try {
            await connection.run('INSERT INTO durations BY NAME SELECT task, seconds, host, recorded_at FROM read_parquet($1, hive_partitioning = false)', [
              localFile,
            ])
          } catch (error) {
            throw unreadableFileError(paths.localFile, readError(error).replaceAll(dir, paths.dir), 'local', 'Nothing was recorded.')
          }
        }
        await connection.run('INSERT INTO durations VALUES ($1, $2, $3, $4::TIMESTAMPTZ)', [row.task, row.seconds, row.host, recordedAt])
        await writeTableAtomically(connection, 'durations', localFile)
        const count = await connection.runAndReadAll('SELECT count(*)::INTEGER AS count FROM durations')
        return Number(count.getRowObjectsJS()[0].count)
      }),
    )
    return {...row, recordedAt, file: paths.localFile, rows}
  } finally {
    lock.release()
  }
}
