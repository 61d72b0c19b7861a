// A Parquet file that DuckDB cannot read, said in words: which file, why, and what to do about it.
import {homedir} from 'node:os'

import {FleetError, shellCommand, withTilde} from '@dotfleet/fleet'

/** DuckDB's message without the SQL it points into (`LINE 1: …` and its caret). */
export function readError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n\nLINE ')[0].trim()
}

/**
 * The error for a file that cannot be read: this machine's own (`local`: moving it aside lets `record` start a new
 * one) or a peer's copy in the fleet tree (`{host}`: pull-fleet fetches it again). `consequence` says what did not
 * happen ("Nothing was recorded.").
 */
export function unreadableFileError(file: string, detail: string, source: 'local' | {host: string}, consequence: string): FleetError {
  const home = homedir()
  const fix =
    source === 'local'
      ? `Move it aside: ${withTilde(home, shellCommand('mv', file, `${file}.broken`))} (the next \`fleet task-durations record\` starts a new file).`
      : `Remove the copy: ${withTilde(home, shellCommand('rm', file))}, then run \`fleet task-durations pull-fleet\` to fetch ${source.host}'s file again.`
  return new FleetError(withTilde(home, `${file} cannot be read: ${detail}. ${consequence}`), {code: 'UNREADABLE_FILE', fix})
}
