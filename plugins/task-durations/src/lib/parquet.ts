// DuckDB helpers for the plugin's Parquet files. This module loads the DuckDB engine: commands import it inside
// run(), never at the top, so that `--help` and fleet's start-up do not pay for it.
import {randomBytes} from 'node:crypto'
import {mkdtemp, open, rename, rm, symlink, unlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'

import {type DuckDBConnection, DuckDBInstance} from '@duckdb/node-api'

import {readError} from './errors.ts'

/** An in-memory DuckDB and one connection to it; `close()` frees both. */
export interface DuckDB {
  connection: DuckDBConnection
  close(): void
}

/** A fresh in-memory DuckDB (no database file: the Parquet files are the data). */
export async function openDuckDB(): Promise<DuckDB> {
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  return {
    connection,
    close() {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

/** Run `fn` with an in-memory DuckDB, closed afterwards however `fn` ends. */
export async function withDuckDB<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const db = await openDuckDB()
  try {
    return await fn(db.connection)
  } finally {
    db.close()
  }
}

/**
 * `text` as an SQL string literal. Only for what DuckDB cannot take as a parameter (the file name of `COPY … TO`);
 * every value a person typed goes in as a parameter.
 */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/** The characters that make DuckDB read a file name as a glob pattern (`*`, `?`, `[…]`). */
const GLOB_CHARACTERS = /[*?[]/

/**
 * Run `fn` with a path to `dir` that DuckDB cannot take for a glob pattern. DuckDB expands `*`, `?` and `[…]` in every
 * file name it is given, and has no way to escape them: a data directory named `st*r` would read a sibling's files too.
 * Such a directory is reached through a symbolic link with a plain name, in a private directory of its own (removed
 * afterwards); any other is given as it is. The names below `dir` must be plain too (the plugin's own are).
 */
export async function withPlainDir<T>(dir: string, fn: (plainDir: string) => Promise<T>): Promise<T> {
  if (!GLOB_CHARACTERS.test(dir)) return fn(dir)
  const base = GLOB_CHARACTERS.test(tmpdir()) ? '/tmp' : tmpdir()
  const holder = await mkdtemp(join(base, 'fleet-task-durations-'))
  const link = join(holder, 'data')
  await symlink(dir, link)
  try {
    return await fn(link)
  } finally {
    await unlink(link)
    await rm(holder, {recursive: true, force: true})
  }
}

/**
 * Write `table` to `file` as Parquet, replacing it atomically: DuckDB writes a temporary file in the same directory
 * (which must exist), it is flushed to disk, then renamed over `file`. A reader sees the old file or the new one,
 * never half of one; a failed write leaves the old file as it was.
 */
export async function writeTableAtomically(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await connection.run(`COPY ${table} TO ${sqlString(temporary)} (FORMAT parquet)`)
    const handle = await open(temporary, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, {force: true})
    throw error
  }
}

/**
 * Why DuckDB does not read `file` whole as Parquet, every row of every column (a truncated or corrupt file, a file
 * that is not Parquet, no file at all), in DuckDB's words; undefined when it does.
 */
export async function parquetProblem(file: string): Promise<string | undefined> {
  try {
    return await withPlainDir(dirname(file), async (dir) => {
      try {
        await withDuckDB(async (connection) => {
          // hash() of the whole row makes DuckDB decode every column, not just the footer's row counts.
          await connection.run('SELECT bit_xor(hash(file_rows)) FROM read_parquet($1, hive_partitioning = false) AS file_rows', [join(dir, basename(file))])
        })
        return undefined
      } catch (error) {
        return readError(error).replaceAll(dir, dirname(file))
      }
    })
  } catch (error) {
    return readError(error)
  }
}

/** True only when DuckDB reads `file` whole (see parquetProblem). For checking a copy before it replaces a good one. */
export async function isCompleteParquet(file: string): Promise<boolean> {
  return (await parquetProblem(file)) === undefined
}
