// fleet doctor on a healthy fleet of three machines, each with its agents installed: every check of every machine
// is ok (a check that does not apply here is skipped, and only those), doctor exits 0, and its text fits a bug
// report (paths with ~, no home directory spelled out). systemctl and loginctl cannot run here: thin stand-ins first
// on PATH answer as a working systemd does (see recordingShim).
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {recordingShim} from '../support/agents.ts'
import {TestFleet} from '../support/fleet.ts'
import {NODE_BIN_DIR} from '../support/machine.ts'

/** Checks that do not apply to a Linux machine whose agents run under systemd. */
const NOT_HERE = new Set(['agents.path'])

describe('doctor: a healthy fleet of three machines', function () {
  this.timeout(180_000)
  let fleet: TestFleet
  let env: NodeJS.ProcessEnv

  before(async function () {
    fleet = await TestFleet.start('doctor-healthy', {machines: ['alpha', 'beta', 'gamma']})
    const shims = join(fleet.root, 'shims')
    mkdirSync(shims)
    recordingShim(shims, 'systemctl')
    writeFileSync(join(shims, 'loginctl'), "#!/bin/sh\necho 'Linger=yes'\n", {mode: 0o755})
    env = {PATH: `${shims}:${NODE_BIN_DIR}:${process.env.PATH}`}
    for (const machine of fleet.machines) await machine.installAgents({manager: 'systemd', env})
    for (const machine of fleet.machines) await machine.sync({env})
    await fleet.machines[0].sync({env}) // alpha sees the others' last pushes
  })
  after(() => fleet?.remove())

  it('every check of every machine is ok, and doctor exits 0', async function () {
    for (const machine of fleet.machines) {
      const report = (await machine.doctor({env})).result
      const notOk = report.checks.filter((c) => c.status !== 'ok' && !(c.status === 'skip' && NOT_HERE.has(c.id)))
      assert.deepEqual(notOk, [], `${machine.name}: ${JSON.stringify(notOk, null, 1)}`)
      assert.ok(report.checks.length >= 15, `at least 15 checks ran on ${machine.name}: ${report.checks.length}`)
      assert.deepEqual(report.summary.fail, 0)
    }
  })

  it('the text is grouped, says it is healthy, and shows paths with ~', async function () {
    const [alpha] = fleet.machines
    const run = await alpha.doctor({env, json: false})
    assert.match(run.stdout, /^Tools$/m)
    assert.match(run.stdout, /^Keys$/m)
    assert.match(run.stdout, /✓ keys\.mode\s+~\/\.config\/fleet\/identity\.txt/)
    assert.match(run.stdout, /^Healthy: \d+ ok, 0 warnings, 0 failed/m)
    assert.ok(!run.stdout.includes(alpha.home), `no home directory spelled out:\n${run.stdout}`)
  })
})
