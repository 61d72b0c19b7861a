// Files a killed process left behind: a `record`'s temporary Parquet file (`.local.parquet.<pid>.<hex>.tmp`) or a
// pull's download (`local.parquet.<pid>.part`). Each name carries its writer's process id; once that process no longer
// runs, nobody will rename the file into place, so the next record or pull removes it. Light: no DuckDB.
import {readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'

/** A temporary file's name, with the id of the process that writes it. */
const LEFTOVER = /^(?:\..+\.(\d+)\.[0-9a-f]+\.tmp|.+\.(\d+)\.part)$/

/** Remove the leftovers in `dir` whose process no longer runs (see the file's comment); a missing `dir` has none. */
export async function removeAbandonedFiles(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    const match = LEFTOVER.exec(name)
    const pid = match && Number(match[1] ?? match[2])
    if (pid && !isRunning(pid)) await rm(join(dir, name), {force: true})
  }
}

/** A process with this id runs (this one, or another, maybe another user's). */
function isRunning(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
