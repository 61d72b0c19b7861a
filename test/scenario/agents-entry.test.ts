// `fleet agents watch` as its agent definition starts it runs without oclif (bin/run.js, runners/watcher-main.ts):
// it still says what is wrong, with the fix and fleet's exit code.
import assert from 'node:assert/strict'

import {runFleet} from '../support/cli.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('the watcher agent, started as its definition starts it', function () {
  let root: string

  before(() => {
    root = makeTempDir('watcher-agent')
  })
  after(() => removeTempDir(root))

  it('on a machine that is not enrolled says so, with the fix, and exits 1', async function () {
    const machine = new Machine(root, 'alpha')
    const result = await runFleet(['agents', 'watch'], {env: machine.env, timeout: 60_000})
    assert.equal(result.exitCode, 1)
    assert.equal(result.stderr, 'Error: This machine is not enrolled in a fleet.\nFix: Run `fleet enroll` to start a fleet or join one.')
    assert.equal(result.stdout, '')
  })
})
