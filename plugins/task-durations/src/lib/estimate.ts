// `task-durations estimate`: how long a task takes, from this machine's records or from the whole fleet's.
import {existsSync, readdirSync} from 'node:fs'
import {join, relative} from 'node:path'

import {FleetError} from '@dotfleet/fleet'
import {type DuckDBConnection, listValue} from '@duckdb/node-api'

import {readError, type UnreadableFile, unreadableFilesError} from './errors.ts'
import {parquetProblem, withDuckDB, withPlainDir} from './parquet.ts'
import {type DurationsPaths, hostFile} from './paths.ts'

/** The count, median and 90th percentile of some durations (median and p90 null when there are none). */
export interface DurationStats {
  count: number
  medianSeconds: number | null
  p90Seconds: number | null
}

/** One host's share of a fleet estimate. */
export interface HostStats extends DurationStats {
  host: string
}

/** What `estimate --json` prints. */
export interface Estimate extends DurationStats {
  task: string
  /** `machine`: this machine's local.parquet; `fleet`: that and every peer's copy in the fleet tree. */
  scope: 'machine' | 'fleet'
  /** With --fleet: every host with records, its count for the task (0 when it has none), in name order. */
  hosts?: HostStats[]
}

/** One file a query reads: this machine's own, or a peer's copy (host from its `host=<peer>` directory). */
interface Source {
  file: string
  host?: string
}

/** The peers' copies in the fleet tree: `fleet/host=<peer>/local.parquet`, for each such directory that has one. */
export function fleetCopies(paths: DurationsPaths): Source[] {
  if (!existsSync(paths.fleetDir)) return []
  return readdirSync(paths.fleetDir, {withFileTypes: true})
    .filter((entry) => entry.isDirectory() && entry.name.startsWith('host=') && entry.name.length > 'host='.length)
    .map((entry) => ({host: entry.name.slice('host='.length), file: hostFile(paths, entry.name.slice('host='.length))}))
    .filter((source) => existsSync(source.file))
    .sort((a, b) => a.host.localeCompare(b.host))
}

// The durations as rows of (task, seconds, host). This machine's file is read without Hive partitioning (a data
// directory whose path has a `key=value` part must not add columns); the peers' copies with it, `host` from the
// directory and always text (`host=123` would otherwise be an integer).
const LOCAL_ROWS = 'SELECT task, seconds, host FROM read_parquet($local, hive_partitioning = false)'
const FLEET_ROWS = "SELECT task, seconds, host FROM read_parquet($fleet, hive_partitioning = true, hive_types = {'host': VARCHAR})"

const STATS = `count(*) FILTER (WHERE task = $task)::INTEGER AS count,
  median(seconds) FILTER (WHERE task = $task) AS median,
  quantile_cont(seconds, 0.9) FILTER (WHERE task = $task) AS p90`

/** Seconds to the millisecond: an interpolated percentile's last digits (8.200000000000001) mean nothing. */
function toMilliseconds(seconds: unknown): number | null {
  return seconds === null ? null : Math.round(Number(seconds) * 1000) / 1000
}

function stats(row: Record<string, unknown>): DurationStats {
  return {count: Number(row.count), medianSeconds: toMilliseconds(row.median), p90Seconds: toMilliseconds(row.p90)}
}

/**
 * Count, median and p90 of `task`'s durations: from this machine's local.parquet, or (`fleet`) from it and every
 * peer's copy in the fleet tree, with each host's share. No file, an empty tree or no rows for the task is an answer
 * (count 0); a file DuckDB cannot read is a FleetError naming it and the fix.
 */
export async function estimateDuration(paths: DurationsPaths, task: string, options: {fleet: boolean}): Promise<Estimate> {
  const scope = options.fleet ? 'fleet' : 'machine'
  const local: Source[] = existsSync(paths.localFile) ? [{file: paths.localFile}] : []
  const copies = options.fleet ? fleetCopies(paths) : []
  const none = {count: 0, medianSeconds: null, p90Seconds: null}
  if (local.length === 0 && copies.length === 0) return {task, scope, ...none, ...(options.fleet ? {hosts: []} : {})}

  const parts = [...(local.length > 0 ? [LOCAL_ROWS] : []), ...(copies.length > 0 ? [FLEET_ROWS] : [])]
  // DuckDB reads every file name as a glob pattern: the files are reached through a directory path it cannot expand.
  return withPlainDir(paths.dir, (dir) => {
    const plain = (file: string) => join(dir, relative(paths.dir, file))
    const params = {
      task,
      ...(local.length > 0 ? {local: plain(paths.localFile)} : {}),
      ...(copies.length > 0 ? {fleet: listValue(copies.map((copy) => plain(copy.file)))} : {}),
    }
    return withDuckDB(async (connection) => {
      const sql = `SELECT host, GROUPING(host) AS everyone, ${STATS} FROM (${parts.join(' UNION ALL ')}) GROUP BY GROUPING SETS ((), (host)) ORDER BY everyone DESC, host`
      const rows = await query(connection, sql, params, [...local, ...copies], {plain, dir, realDir: paths.dir})
      const [total, ...byHost] = rows
      return {
        task,
        scope,
        ...stats(total),
        ...(options.fleet ? {hosts: byHost.map((row) => ({host: row.host as string, ...stats(row)}))} : {}),
      }
    })
  })
}

/** How the query reaches the files: `plain(file)` is the path DuckDB is given, under `dir` instead of `realDir`. */
interface PlainPaths {
  plain(file: string): string
  dir: string
  realDir: string
}

/** Run the query; when it fails, find every file that cannot be read and name them all (DuckDB names one at most). */
async function query(
  connection: DuckDBConnection,
  sql: string,
  params: Record<string, string | ReturnType<typeof listValue>>,
  sources: Source[],
  paths: PlainPaths,
) {
  try {
    return (await connection.runAndReadAll(sql, params)).getRowObjectsJS()
  } catch (error) {
    const real = (text: string) => text.replaceAll(paths.dir, paths.realDir)
    const detail = real(readError(error))
    const unreadable: UnreadableFile[] = []
    for (const source of sources) {
      const file = paths.plain(source.file)
      const problem = (await parquetProblem(file)) ?? (await columnsProblem(connection, file))
      if (problem) unreadable.push({file: source.file, detail: real(problem), source: source.host === undefined ? 'local' : {host: source.host}})
    }
    if (unreadable.length > 0) throw unreadableFilesError(unreadable, 'No estimate was made.')
    throw new FleetError(`The estimate failed: ${detail}`, {code: 'ESTIMATE_FAILED'})
  }
}

/** Why a whole Parquet file is not a durations file (a column missing, say), or undefined when it is one. */
async function columnsProblem(connection: DuckDBConnection, file: string): Promise<string | undefined> {
  try {
    await connection.run('SELECT task, seconds::DOUBLE, host FROM read_parquet($1, hive_partitioning = false) LIMIT 0', [file])
    return undefined
  } catch (error) {
    return `it is not a task-durations file (${readError(error)})`
  }
}
