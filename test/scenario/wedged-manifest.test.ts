// Never wedged: a manifest no machine can read (pushed by hand to the forge, or edited by hand in a source repo) stops a
// sync before it commits or pushes anything on top of it, says which commit brought it and a fix that works, and the
// machine recovers by itself once the cause is gone, its own edits travelling then.
import assert from 'node:assert/strict'
import {join} from 'node:path'

import {execa} from 'execa'

import {MANIFEST_RELATIVE_PATH as MANIFEST} from '../../src/lib/manifest/store.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {HandClone, printedGitCommand} from '../support/hand-clone.ts'
import type {Machine} from '../support/machine.ts'

async function contains(machine: Machine, commit: string): Promise<boolean> {
  return (await execa('git', ['-C', machine.sourceDir, 'merge-base', '--is-ancestor', commit, 'HEAD'], {reject: false})).exitCode === 0
}

describe('never wedged: a manifest no machine can read', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  let hand: HandClone

  before(async function () {
    fleet = await TestFleet.start('wedged-manifest')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath('.zshrc')
    await beta.sync()
    hand = await HandClone.make(forge, join(fleet.root, 'hand'), fleet.root)
  })
  after(() => fleet?.remove())

  it("a manifest with an invalid field pushed by hand: beta commits and pushes nothing on top, names the commit, and the printed fix repairs the fleet; beta's edit then travels", async function () {
    const bad = await hand.pushManifest((text) => text.replace(/keyType: \w+/, 'keyType: rsa'), 'Use RSA keys')
    beta.write('.zshrc', 'export EDITOR=hx\n')

    for (let run = 0; run < 2; run++) {
      const stopped = await beta.sync({exit: 1, json: false})
      assert.match(stopped.stderr, /fleet\.yaml on the forge is not a valid fleet manifest/)
      assert.match(stopped.stderr, /settings\.keyType/)
      assert.match(stopped.stderr, new RegExp(`commit ${bad.slice(0, 7)} by hand, "Use RSA keys"`))
      assert.equal(await forge.head(), bad, 'nothing was pushed')
      assert.equal(await contains(beta, bad), false, 'nothing of this machine was built on the bad manifest')
      assert.doesNotMatch(stopped.stderr, /\n\s+at /, 'no stack trace')
    }
    assert.equal(beta.read('.zshrc'), 'export EDITOR=hx\n', "beta's edit is still there")
    assert.match(await beta.git(['show', `HEAD:${MANIFEST}`]), /keyType: pq/, 'beta keeps its readable manifest')

    await beta.shell(printedGitCommand((await beta.sync({exit: 1, json: false})).stderr))
    assert.match((await forge.show(MANIFEST))!, /keyType: pq/, 'the forge reads again')

    await beta.sync()
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=hx\n', "beta's edit reached the forge")
    await alpha.sync()
    assert.equal(alpha.read('.zshrc'), 'export EDITOR=hx\n', "beta's edit reached alpha")
  })

  it('a manifest that is not YAML pushed by hand: alpha stops with the YAML error, and recovers by itself once the forge is repaired elsewhere', async function () {
    const before = await forge.head()
    await hand.pushManifest((text) => text.replace('fleet:', 'fleet: [unclosed'), 'Hand edit')
    alpha.write('.zshrc', 'export EDITOR=emacs\n')
    const stopped = await alpha.sync({exit: 1, json: false})
    assert.match(stopped.stderr, /fleet\.yaml on the forge is not valid YAML/)
    assert.match(stopped.stderr, /by hand, "Hand edit"/)

    // Repaired on the clone it was made in.
    await hand.git(['checkout', '--quiet', before, '--', MANIFEST])
    await hand.git(['commit', '--quiet', '-am', 'Repair the manifest'])
    await hand.push()

    await alpha.sync()
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=emacs\n')
    await beta.sync()
    assert.equal(beta.read('.zshrc'), 'export EDITOR=emacs\n')
  })

  it('a bad manifest already merged here (by an older fleet) with work on top: once the forge is repaired the next sync recovers by itself', async function () {
    const bad = await hand.pushManifest((text) => text.replace(/keyType: \w+/, 'keyType: rsa'), 'Use RSA keys again')
    // What an older fleet left: the bad commit merged, this machine's capture committed on top, nothing pushed.
    await beta.git(['fetch', '--quiet', 'origin'])
    await beta.git(['merge', '--quiet', '--ff-only', 'origin/main'])
    beta.write('.zshrc', 'export EDITOR=nano\n')
    await beta.chezmoi(['re-add', beta.path('.zshrc')])
    await beta.git(['commit', '--quiet', '-am', 'fleet: beta: update .zshrc'])

    const stopped = await beta.sync({exit: 1, json: false})
    assert.match(stopped.stderr, new RegExp(`commit ${bad.slice(0, 7)} by hand.*which the forge has too`))
    assert.equal(await forge.head(), bad, 'nothing was pushed')

    await hand.pushManifest((text) => text.replace('keyType: rsa', 'keyType: pq'), 'Back to pq')
    await beta.sync()
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=nano\n', "beta's work reached the forge")
    await alpha.sync()
    assert.equal(alpha.read('.zshrc'), 'export EDITOR=nano\n')
  })

  it('a bad manifest committed by hand on this machine only: the printed revert works, and nothing was pushed before it', async function () {
    const start = await forge.head()
    await beta.git(['pull', '--quiet', '--ff-only', 'origin', 'main'])
    const text = await beta.git(['show', `HEAD:${MANIFEST}`])
    beta.write(beta.sourceFile(MANIFEST), `${text.replace(/pullIntervalSeconds: \d+/, 'pullIntervalSeconds: 1')}\n`)
    await beta.git(['commit', '--quiet', '-am', 'Poll every second'])
    beta.write('.zshrc', 'export EDITOR=micro\n')

    const stopped = await beta.sync({exit: 1, json: false})
    assert.match(stopped.stderr, /pullIntervalSeconds/)
    assert.match(stopped.stderr, /"Poll every second", made on this machine/)
    assert.equal(await forge.head(), start, 'nothing was pushed')

    const revert = printedGitCommand(stopped.stderr)
    assert.match(revert, /revert/)
    await beta.shell(revert)
    await beta.sync()
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=micro\n')
    assert.doesNotMatch((await forge.show(MANIFEST))!, /pullIntervalSeconds: 1\n/)
  })

  it('a manifest edited by hand and not committed: the sync says so, commits nothing, and the printed checkout restores it', async function () {
    const start = await forge.head()
    const file = beta.sourceFile(MANIFEST)
    beta.edit(file, (text) => text.replace(/^(\s+)keyType:/m, '$1colour: blue\n$1keyType:'))
    beta.write('.zshrc', 'export EDITOR=ed\n')

    const stopped = await beta.sync({exit: 1, json: false})
    assert.match(stopped.stderr, /changed in the source repo and not committed/)
    assert.match(stopped.stderr, /colour/)
    assert.equal(await forge.head(), start, 'nothing was pushed')
    assert.match(await beta.git(['status', '--porcelain']), /M \.chezmoidata\/fleet\.yaml/, 'the hand edit is left as it was, uncommitted')

    const checkout = printedGitCommand(stopped.stderr)
    assert.match(checkout, /checkout HEAD --/)
    await beta.shell(checkout)
    await beta.sync()
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=ed\n')
  })
})
