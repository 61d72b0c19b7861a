// The Parquet helpers on their own: isCompleteParquet accepts only a file DuckDB reads whole (pull-fleet relies on
// it before a download replaces the last good copy), and an atomic write that fails leaves the old file as it was.
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {makeTempDir, removeTempDir} from '../../../test/support/tmp.ts'
import {isCompleteParquet, withDuckDB, writeTableAtomically} from '../src/lib/parquet.ts'

describe('task-durations: Parquet files', function () {
  let dir: string
  let good: string
  before(async function () {
    dir = makeTempDir('parquet')
    good = join(dir, 'good.parquet')
    await withDuckDB(async (connection) => {
      await connection.run("CREATE TABLE durations AS SELECT range AS seconds, 'build ' || range AS task FROM range(5000)")
      await writeTableAtomically(connection, 'durations', good)
    })
  })
  after(() => removeTempDir(dir))

  it('isCompleteParquet: true for a whole file, false for a truncated one, one that is not Parquet, or none', async function () {
    const bytes = readFileSync(good)
    const truncated = join(dir, 'truncated.parquet')
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100))
    // The footer intact, a page in the middle overwritten: only reading every row finds it.
    const damaged = join(dir, 'damaged.parquet')
    const middle = Buffer.from(bytes)
    middle.fill(0xff, 100, 400)
    writeFileSync(damaged, middle)
    const text = join(dir, 'text.parquet')
    writeFileSync(text, 'task,seconds\nbuild,3\n')

    assert.equal(await isCompleteParquet(good), true)
    assert.equal(await isCompleteParquet(truncated), false)
    assert.equal(await isCompleteParquet(damaged), false)
    assert.equal(await isCompleteParquet(text), false)
    assert.equal(await isCompleteParquet(join(dir, 'none.parquet')), false)
  })

  it('isCompleteParquet reads the file named, not what DuckDB would take its glob characters to match', async function () {
    const bytes = readFileSync(good)
    const named = join(dir, 'st*r[ab]', 'local.parquet')
    const sibling = join(dir, 'stXra', 'local.parquet')
    for (const file of [named, sibling]) mkdirSync(join(file, '..'))
    writeFileSync(named, bytes.subarray(0, bytes.length - 100))
    writeFileSync(sibling, bytes)
    assert.equal(await isCompleteParquet(named), false, 'the truncated file named is not whole')
    writeFileSync(named, bytes)
    writeFileSync(sibling, 'not parquet')
    assert.equal(await isCompleteParquet(named), true, 'the whole file named is whole')
  })

  it('a write that fails leaves the old file whole and no temporary file beside it', async function () {
    const before = readFileSync(good)
    await assert.rejects(
      withDuckDB((connection) => writeTableAtomically(connection, 'no_such_table', good)),
      /no_such_table/,
    )
    assert.deepEqual(readFileSync(good), before)
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith('.tmp')),
      [],
    )
  })
})
