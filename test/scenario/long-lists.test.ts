// What a person reads stays short when a sync moves hundreds of files: one line names the managed directory with a
// count, while `--json` and the sync log keep every path.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'

import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'

/** Enough files that naming each would make a line thousands of characters long; few enough to sync in seconds. */
const FILES = Array.from({length: 300}, (_, i) => `.big/part${i % 3}/file${String(i).padStart(3, '0')}.json`)

/** The longest line a person reads should be well short of a terminal's few rows. */
const LONGEST_LINE = 200

/** The records of a machine's sync log from the `from`th on (a sync may log a record for each round it ran). */
function logged(machine: Machine, from = 0): Array<{applied: string[]; captured: string[]}> {
  const log = existsSync(machine.syncFiles.log) ? readFileSync(machine.syncFiles.log, 'utf8') : ''
  const lines = log.split('\n').filter(Boolean)
  return lines.slice(from).map((line) => JSON.parse(line) as {applied: string[]; captured: string[]})
}

function assertShort(stdout: string): void {
  for (const line of stdout.split('\n')) assert.ok(line.length <= LONGEST_LINE, `a line of ${line.length} characters: ${line.slice(0, 300)}…`)
}

describe('long lists: a sync of hundreds of files', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine
  before(async function () {
    fleet = await TestFleet.start('long-lists')
    ;[alpha, beta] = fleet.machines
    for (const file of FILES) alpha.write(file, `{"name": "${file}"}\n`)
    await alpha.addPath('.big')
  })
  after(() => fleet?.remove())

  it('the machine applying them says so in one short line naming the directory; its sync log lists every file', async function () {
    const before = logged(beta).length
    const run = await beta.sync({json: false})
    // Its first sync since it joined also brings the fleet's secrets file: the line names it after the directory.
    assert.match(run.stdout, /^Applied [\d,]+ files(?: under ~\/\.big|: [\d,]+ under ~\/\.big, ~\/\.config\/fleet\/secrets\.env)$/m)
    assertShort(run.stdout)
    const applied = logged(beta, before).flatMap((record) => record.applied)
    for (const file of FILES) assert.ok(applied.includes(file), `the sync log lists ${file}`)
  })

  it('with --json, a sync capturing edits of all of them lists every one', async function () {
    for (const file of FILES) alpha.write(file, `{"name": "${file}", "edited": true}\n`)
    const {result} = await alpha.sync()
    assert.deepEqual([...result.captured].sort(), [...FILES].sort())
  })
})
