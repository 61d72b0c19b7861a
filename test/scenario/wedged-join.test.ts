// Joining a fleet whose forge holds a manifest no machine can read: the join stops before anything is changed here,
// names the commit that brought the bad version, and its fix (taken on a machine already in the fleet) works.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {HandClone, printedGitCommand} from '../support/hand-clone.ts'
import {Machine} from '../support/machine.ts'

describe('joining a fleet whose forge manifest cannot be read', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine
  let hand: HandClone

  before(async function () {
    fleet = await TestFleet.start('wedged-join', {machines: ['alpha']})
    ;({
      root,
      forge,
      machines: [alpha],
    } = fleet)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath('.zshrc')
    hand = await HandClone.make(forge, join(root, 'hand'), root)
  })
  after(() => fleet?.remove())

  for (const [what, from, to] of [
    ['an invalid field', /keyType: \w+/, 'keyType: rsa'],
    ['text that is not YAML', /^fleet:/m, 'fleet: [unclosed'],
  ] as const) {
    it(`${what}: enroll --forge stops naming the commit, leaves no source repo here, and the fix it points to works`, async function () {
      await hand.pushManifest((text) => text.replace(from, to), 'Hand edit of the manifest')
      const bad = await hand.git(['rev-parse', '--short', 'HEAD'])

      const name = what === 'an invalid field' ? 'delta' : 'gamma'
      const newcomer = new Machine(root, name)
      const joined = await newcomer.enroll(forge.url, {exit: 1, json: false})
      assert.match(joined.stderr, new RegExp(`commit ${bad} by hand, "Hand edit of the manifest"`))
      assert.match(joined.stderr, /this machine cannot join the fleet until the forge's manifest reads again/)
      assert.match(joined.stderr, /Fix: On a machine already in the fleet, run `fleet sync`/)
      assert.doesNotMatch(joined.stderr, /Correct the field in file:/, 'no fix that edits a file inside a forge address')
      assert.doesNotMatch(joined.stderr, /\n\s+at /, 'no stack trace')
      assert.doesNotMatch(joined.stderr, /column \d+:$/m, 'the YAML error ends where its text ends, not with a colon before a cut excerpt')
      assert.equal(existsSync(newcomer.sourceDir), false, 'no source repo left here')
      assert.deepEqual(newcomer.stagingClones(), [], 'no staging clone left')

      // The fix, as the message says: a machine of the fleet runs `fleet sync`, then the command it prints.
      const stopped = await alpha.sync({exit: 1, json: false})
      assert.match(stopped.stderr, new RegExp(`commit ${bad}`))
      await alpha.shell(printedGitCommand(stopped.stderr))
      await alpha.sync()

      await fleet.join(newcomer)
    })
  }
})
