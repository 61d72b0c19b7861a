// `fleet agents watch` and `fleet agents run`, started as their definitions and people start them, run without
// oclif (bin/run.js, runners/watcher-main.ts and runner-main.ts): they still say what is wrong, with the fix and
// fleet's exit code.
import assert from 'node:assert/strict'

import {runFleet} from '../support/cli.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const NOT_ENROLLED = 'Error: This machine is not enrolled in a fleet.\nFix: Run `fleet enroll` to start a fleet or join one.'

describe('the resident agents, started as their definitions start them', function () {
  let root: string
  let machine: Machine

  before(() => {
    root = makeTempDir('agents-entry')
    machine = new Machine(root, 'alpha')
  })
  after(() => removeTempDir(root))

  for (const args of [
    ['agents', 'watch'],
    ['agents', 'run'],
    ['agents', 'run', '--agent', 'watcher'],
  ]) {
    it(`fleet ${args.join(' ')} on a machine that is not enrolled says so, with the fix, and exits 1`, async function () {
      const result = await runFleet(args, {env: machine.env, timeout: 60_000})
      assert.equal(result.exitCode, 1)
      assert.equal(result.stderr, NOT_ENROLLED)
      assert.equal(result.stdout, '')
    })
  }
})
