// Never wedged: a forge that changes under the fleet (re-created, or holding another fleet) stops a sync with what
// happened and a fix that works, and never mixes two fleets.
import assert from 'node:assert/strict'
import {cpSync, renameSync, rmSync} from 'node:fs'

import {TestFleet} from '../support/fleet.ts'
import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

describe('never wedged: a forge that changed under the fleet', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged')
    ;({
      root,
      forge,
      machines: [alpha],
    } = fleet)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath('.zshrc')
  })
  after(() => fleet?.remove())

  it('a forge re-created with another fleet in it: the sync stops with what happened, and the suggested way to join it works', async function () {
    const other = await Forge.create(`${root}/other`)
    const gamma = new Machine(root, 'gamma')
    await gamma.enroll(other.url)
    const theirs = await other.head()
    rmSync(forge.path, {recursive: true, force: true})
    cpSync(other.path, forge.path, {recursive: true})

    alpha.write('.zshrc', 'export EDITOR=nvim\n')
    const stopped = await alpha.sync({exit: 1, json: false})
    assert.match(stopped.stderr, /different history/)
    assert.match(stopped.stderr, /Fix: /)
    assert.doesNotMatch(stopped.stderr, /unrelated histories/, 'no raw git error')
    assert.equal(await forge.head(), theirs, 'nothing was pushed over the other fleet')

    // The fix, as printed: move the source aside, enroll in the fleet the forge holds now.
    renameSync(alpha.sourceDir, `${alpha.sourceDir}.before-fleet`)
    await alpha.enroll(forge.url)
    const roster = (await alpha.listMachines()).result
    const names = (roster.machines ?? roster).map((m: {name: string}) => m.name)
    assert.deepEqual(names.sort(), ['alpha', 'gamma'])
  })
})

describe('never wedged: one path fleet cannot take', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-path')
    ;[alpha, beta] = fleet.machines
    alpha.write('.claude/settings.json', '{}\n')
    await alpha.addPath('.claude')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('a file over the size limit is skipped with its reason and fix, quickly; everything else keeps travelling', async function () {
    alpha.write('.claude/cache/model.bin', Buffer.alloc(21 * 1024 * 1024, 7))
    alpha.write('.claude/notes.md', 'travels\n')
    const started = Date.now()
    const run = await alpha.sync({json: false})
    assert.ok(Date.now() - started < 30_000, 'no scan of the big file')
    assert.match(run.stdout, /Not captured: \.claude\/cache\/model\.bin \(21\.0 MiB, over the fleet's limit of 20 MiB: .*maxFileMiB/)
    assert.match((await alpha.status({json: false})).stdout, /Not captured: ~\/\.claude\/cache\/model\.bin/)
    await beta.sync()
    assert.equal(beta.read('.claude/notes.md'), 'travels\n')
    assert.equal(beta.exists('.claude/cache/model.bin'), false)
  })
})
