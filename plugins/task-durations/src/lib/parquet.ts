// DuckDB helpers for the plugin's Parquet files. This module loads the DuckDB engine: commands import it inside
// run(), never at the top, so that `--help` and fleet's start-up do not pay for it.
import {randomBytes} from 'node:crypto'
import {open, rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {type DuckDBConnection, DuckDBInstance} from '@duckdb/node-api'

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
 * True only when DuckDB reads `file` whole as Parquet: every row of every column (a truncated or corrupt file, a
 * file that is not Parquet, or no file at all gives false). For checking a copy before it replaces a good one.
 */
export async function isCompleteParquet(file: string): Promise<boolean> {
  try {
    return await withDuckDB(async (connection) => {
      // hash() of the whole row makes DuckDB decode every column, not just the footer's row counts.
      await connection.run('SELECT bit_xor(hash(file_rows)) FROM read_parquet($1) AS file_rows', [file])
      return true
    })
  } catch {
    return false
  }
}
