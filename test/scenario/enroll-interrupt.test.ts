// enroll killed at any point (kill -9) and run again: the machine ends up enrolled exactly once, with one key,
// and nothing is left half-done (no stuck lock, no staging clone, no rebase in progress).
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {FLEET_BIN, NODE} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

describe('enroll: interrupted and run again', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine

  before(async function () {
    fleet = await TestFleet.start('interrupt', {machines: ['alpha']})
    ;({
      root,
      forge,
      machines: [alpha],
    } = fleet)
  })
  after(() => fleet?.remove())

  // Delays spread over the whole run of a join (about a second here), so the kill lands in different steps.
  const delays = [80, 200, 350, 500, 650, 800, 1000]
  for (const [index, delay] of delays.entries()) {
    it(`killed after ${delay} ms, the next enroll completes`, async function () {
      const machine = new Machine(root, `m${index}`)
      const args = ['enroll', '--forge', forge.url, '--name', machine.name, '--no-agents']
      const child = execa(NODE, [FLEET_BIN, ...args], {env: machine.env, extendEnv: false, reject: false, stdin: 'ignore'})
      await new Promise((resolve) => setTimeout(resolve, delay))
      child.kill('SIGKILL')
      await child

      await machine.enroll(forge.url)

      const roster = (await machine.listMachines()).result
      const entries = roster.machines.filter((m) => m.name === machine.name)
      assert.equal(entries.length, 1)
      assert.equal(entries[0].state, 'pending')
      const key = readFileSync(machine.identityFile, 'utf8')
      assert.ok(key.includes(entries[0].recipient), "the roster holds this machine's own key")
      assert.equal(machine.mode(machine.identityFile), 0o600)

      assert.deepEqual(machine.stagingClones(), [])
      assert.equal(existsSync(machine.lockDir), false)
      assert.equal(existsSync(join(machine.sourceDir, '.git/rebase-merge')), false)
      assert.equal((await machine.git(['status', '--porcelain'])).trim(), '')
    })
  }

  it('the forge holds every machine exactly once', async function () {
    const roster = (await alpha.listMachines()).result
    const names = roster.machines.map((m) => m.name)
    assert.deepEqual(names, ['alpha', ...delays.map((_, i) => `m${i}`)])
  })
})
