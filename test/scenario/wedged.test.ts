// Never wedged: a forge that changes under the fleet (re-created, or holding another fleet) stops a sync with what
// happened and a fix that works, and never mixes two fleets.
import assert from 'node:assert/strict'
import {cpSync, renameSync, rmSync} from 'node:fs'

import {Forge} from '../support/forge.ts'
import {activeFleet} from '../support/fleet.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('never wedged: a forge that changed under the fleet', function () {
  let root: string
  let forge: Forge
  let alpha: Machine

  before(async function () {
    root = makeTempDir('wedged')
    const fleet = await activeFleet(root, ['alpha', 'beta'])
    forge = fleet.forge
    alpha = fleet.machines[0]
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.ok(['add-path', alpha.path('.zshrc')])
  })
  after(() => removeTempDir(root))

  it('a forge re-created with another fleet in it: the sync stops with what happened, and the suggested way to join it works', async function () {
    const other = await Forge.create(`${root}/other`)
    const gamma = new Machine(root, 'gamma')
    await gamma.enroll(other.url)
    const theirs = await other.head()
    rmSync(forge.path, {recursive: true, force: true})
    cpSync(other.path, forge.path, {recursive: true})

    alpha.write('.zshrc', 'export EDITOR=nvim\n')
    const stopped = await alpha.fleet(['sync'])
    assert.equal(stopped.exitCode, 1, stopped.stdout + stopped.stderr)
    assert.match(stopped.stderr, /different history/)
    assert.match(stopped.stderr, /Fix: /)
    assert.doesNotMatch(stopped.stderr, /unrelated histories/, 'no raw git error')
    assert.equal(await forge.head(), theirs, 'nothing was pushed over the other fleet')

    // The fix, as printed: move the source aside, enroll in the fleet the forge holds now.
    renameSync(alpha.sourceDir, `${alpha.sourceDir}.before-fleet`)
    await alpha.ok(['enroll', '--forge', forge.url, '--name', 'alpha', '--no-agents'])
    const roster = (await alpha.ok(['machines', 'list', '--json'])).json()
    const names = (roster.machines ?? roster).map((m: {name: string}) => m.name)
    assert.deepEqual(names.sort(), ['alpha', 'gamma'])
  })
})

describe('never wedged: one path fleet cannot take', function () {
  let root: string
  let alpha: Machine
  let beta: Machine

  before(async function () {
    root = makeTempDir('wedged-path')
    ;[alpha, beta] = (await activeFleet(root, ['alpha', 'beta'])).machines
    alpha.write('.claude/settings.json', '{}\n')
    await alpha.ok(['add-path', alpha.path('.claude')])
    await beta.ok(['sync'])
  })
  after(() => removeTempDir(root))

  it('a file over the size limit is skipped with its reason and fix, quickly; everything else keeps travelling', async function () {
    alpha.write('.claude/cache/model.bin', Buffer.alloc(21 * 1024 * 1024, 7))
    alpha.write('.claude/notes.md', 'travels\n')
    const started = Date.now()
    const run = await alpha.fleet(['sync'])
    assert.equal(run.exitCode, 0, run.stdout + run.stderr)
    assert.ok(Date.now() - started < 30_000, 'no scan of the big file')
    assert.match(run.stdout, /Not captured: \.claude\/cache\/model\.bin \(21\.0 MiB, over the fleet's limit of 20 MiB: .*maxFileMiB/)
    assert.match((await alpha.ok(['status'])).stdout, /Not captured: ~\/\.claude\/cache\/model\.bin/)
    await beta.ok(['sync'])
    assert.equal(beta.read('.claude/notes.md'), 'travels\n')
    assert.equal(beta.exists('.claude/cache/model.bin'), false)
  })
})
