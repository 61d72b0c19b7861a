// Never wedged by the source: no machine pushes a source chezmoi cannot read (two entries for one target, a remove_
// marker naming the wrong target), a source already wedged that way is repaired the same way on every machine, and an
// entry chezmoi cannot apply stops only itself: everything else is applied, and the failure is named.
import assert from 'node:assert/strict'
import {join} from 'node:path'

import {execa} from 'execa'

import {MANIFEST_RELATIVE_PATH} from '../../src/lib/manifest/store.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {HandClone} from '../support/hand-clone.ts'
import type {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** A clone of the forge made by hand (a third machine, a person at a terminal): `change` edits it, then it is pushed. */
async function pushByHand(forge: Forge, message: string, change: (dir: string) => Promise<void>): Promise<void> {
  const dir = makeTempDir('hand-clone')
  try {
    const hand = await HandClone.make(forge, dir, dir)
    await change(hand.dir)
    await hand.pushAll(message)
  } finally {
    removeTempDir(dir)
  }
}

const gitconfigEntries = async (forge: Forge) => (await forge.files()).filter((f) => /^(encrypted_)?(private_)?dot_gitconfig(\.age)?$/.test(f))

for (const order of ['plain first', 'encrypted first'] as const) {
  describe(`never wedged by the source: one path added at once on two machines, ${order}`, function () {
    let fleet: TestFleet
    let forge: Forge
    let alpha: Machine
    let beta: Machine

    before(async function () {
      fleet = await TestFleet.start('wedged-source-add')
      ;({
        forge,
        machines: [alpha, beta],
      } = fleet)
      await beta.sync() // beta learns that it was approved
    })
    after(() => fleet?.remove())

    it('both machines keep syncing, the source keeps one entry (the encrypted one), and both have the same content', async function () {
      alpha.write('.gitconfig', '[user]\n\tname = alpha\n')
      beta.write('.gitconfig', '[user]\n\tname = beta\n')
      const [first, second] = order === 'plain first' ? [alpha, beta] : [beta, alpha]
      // beta adds it encrypted, alpha plainly; the second, not synced since the first, adds it the other way.
      await first.addPath('.gitconfig', {encrypt: first === beta})
      await second.addPath('.gitconfig', {encrypt: second === beta})

      for (const machine of [alpha, beta, alpha, beta]) await machine.sync()
      const entries = await gitconfigEntries(forge)
      assert.equal(entries.length, 1, entries.join(', '))
      assert.match(entries[0], /^encrypted_/, 'the encrypted entry is kept')
      assert.equal(alpha.read('.gitconfig'), beta.read('.gitconfig'))
      assert.equal(alpha.read('.gitconfig'), '[user]\n\tname = beta\n', 'the content of the machine that encrypted it')
      const manifest = (await forge.show(MANIFEST_RELATIVE_PATH))!
      assert.match(manifest, /path: \.gitconfig\n\s+encrypt: true/)
    })
  })
}

describe('never wedged by the source: a fleet whose forge already holds two entries for one target', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-source-forge')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.zshrc', 'export A=1\n')
    alpha.write('.vim/vimrc', 'set nu\n')
    await alpha.addPath('.zshrc')
    await alpha.addPath('.vim')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('every machine repairs it the same way and keeps syncing', async function () {
    // Pushed by a fleet that did not check its source: a second entry for ~/.zshrc, a remove_ marker for it, and a
    // second directory for ~/.vim.
    await pushByHand(forge, 'two entries for one target', async (dir) => {
      await execa('cp', [join(dir, 'dot_zshrc'), join(dir, 'private_dot_zshrc')])
      await execa('touch', [join(dir, 'remove_dot_zshrc')])
      await execa('mkdir', [join(dir, 'private_dot_vim')])
      await execa('sh', ['-c', 'printf "colo x\n" > private_dot_vim/colors.vim', ''], {cwd: dir})
    })
    await Promise.all([alpha.sync(), beta.sync()])
    for (const machine of [alpha, beta]) await machine.sync()
    const entries = (await forge.files()).filter((f) => f.endsWith('dot_zshrc'))
    assert.deepEqual(entries, ['dot_zshrc'])
    assert.deepEqual((await forge.files()).filter((f) => /dot_vim\//.test(f)).sort(), ['private_dot_vim/colors.vim', 'private_dot_vim/vimrc'])
    for (const machine of [alpha, beta]) {
      assert.equal(machine.read('.vim/vimrc'), 'set nu\n')
      assert.equal(machine.read('.vim/colors.vim'), 'colo x\n')
    }
    alpha.write('.zshrc', 'export A=2\n')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('.zshrc'), 'export A=2\n')
  })
})

describe('never wedged by the source: a file and a directory for one target', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-source-type')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.vim/vimrc', 'set nu\n')
    alpha.write('.zshrc', 'export A=1\n')
    await alpha.addPath('.vim')
    await alpha.addPath('.zshrc')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it("made in this machine's source only: the forge's entry is kept, and syncing goes on", async function () {
    beta.write(beta.sourceFile('private_dot_vim'), 'a file now\n')
    const run = await beta.sync({json: false})
    assert.match(run.stdout, /~\/\.vim had more than one source entry: kept dot_vim\//)
    assert.deepEqual(
      (await forge.files()).filter((f) => f.includes('dot_vim')),
      ['dot_vim/vimrc'],
    )
    assert.equal(beta.read('.vim/vimrc'), 'set nu\n')
  })

  it('on the forge itself: nothing is pushed over it, the message names both entries, and the fix it prints works', async function () {
    await pushByHand(forge, 'a file beside a directory', async (dir) => {
      await execa('sh', ['-c', 'printf "a file now\n" > private_dot_vim', ''], {cwd: dir})
    })
    const before = await forge.head()
    alpha.write('.zshrc', 'export A=2\n')
    const stopped = await alpha.sync({exit: 1, json: false})
    assert.match(stopped.stderr, /more than one entry for ~\/\.vim \(dot_vim\/, private_dot_vim\)/)
    assert.equal(await forge.head(), before, 'nothing pushed')
    // The printed command, run as a person pastes it.
    const fix = /e\.g\. (git -C .* rm -r --quiet -- .*), then fleet sync/.exec(stopped.stderr)
    assert.ok(fix, stopped.stderr)
    await alpha.shell(fix[1])
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('.zshrc'), 'export A=2\n')
    assert.equal((await forge.files()).filter((f) => f.includes('dot_vim')).length, 1)
  })
})

describe('never wedged by the source: deleting files whose names chezmoi reads as attributes', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine
  const tricky = ['exact_notes', 'external_tools.json', 'onchange_hook', 'literal_x', 'dot_y', 'run_z', 'x.tmpl']

  before(async function () {
    fleet = await TestFleet.start('wedged-source-names')
    ;[alpha, beta] = fleet.machines
    for (const name of tricky) alpha.write(`.claude/${name}`, `${name}\n`)
    alpha.write('.claude/keep.md', 'kept\n')
    await alpha.addPath('.claude')
    beta.write('.claude/notes', 'beta notes\n')
    beta.write('.claude/y', 'beta y\n')
    await beta.sync()
    await alpha.sync()
  })
  after(() => fleet?.remove())

  it('each deletion reaches the other machine, and files of the names without the prefix are untouched', async function () {
    for (const name of tricky) assert.equal(beta.read(`.claude/${name}`), `${name}\n`)
    assert.equal(alpha.read('.claude/notes'), 'beta notes\n')
    for (const name of tricky) alpha.remove(`.claude/${name}`)
    await alpha.sync()
    await beta.sync()
    for (const name of tricky) assert.equal(beta.exists(`.claude/${name}`), false, `${name} deleted on beta`)
    for (const machine of [alpha, beta]) {
      assert.equal(machine.read('.claude/notes'), 'beta notes\n', machine.name)
      assert.equal(machine.read('.claude/y'), 'beta y\n', machine.name)
      assert.equal(machine.read('.claude/keep.md'), 'kept\n', machine.name)
    }
    // Still syncing both ways.
    beta.write('.claude/keep.md', 'kept 2\n')
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('.claude/keep.md'), 'kept 2\n')
  })
})

describe('never wedged by the source: an entry chezmoi cannot apply, from the forge', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-source-apply')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.claude/keep.md', 'v1\n')
    await alpha.addPath('.claude')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('the rest is applied, the failing one is named with its reason and never reported as applied; fixed on the forge, it recovers', async function () {
    await pushByHand(forge, 'a broken template and an edit', async (dir) => {
      await execa('sh', ['-c', 'printf "{{ .nope.x }\\n" > dot_claude/bad.json.tmpl && printf "v2\\n" > dot_claude/keep.md', ''], {cwd: dir})
    })
    const run = await beta.sync({exit: 1, json: false})
    const output = run.stdout + run.stderr
    assert.match(output, /~\/\.claude\/bad\.json: template: /)
    assert.match(output, /Fix: /)
    assert.doesNotMatch(output, /Applied[^\n]*bad\.json/)
    assert.equal(beta.read('.claude/keep.md'), 'v2\n', 'everything else applied')
    assert.equal(beta.exists('.claude/bad.json'), false)
    assert.match((await beta.status({exit: 'any', json: false})).stdout, /could not apply ~\/\.claude\/bad\.json/, 'status says what failed')
    // beta's own edits still travel.
    beta.write('.claude/from-beta.md', 'b\n')
    await beta.sync({exit: 1})
    await alpha.sync({exit: 'any', json: false})
    assert.equal(alpha.read('.claude/from-beta.md'), 'b\n')

    await pushByHand(forge, 'fix the template', async (dir) => {
      await execa('sh', ['-c', 'printf "{}\\n" > dot_claude/bad.json.tmpl', ''], {cwd: dir})
    })
    // A name with a newline in it, from the forge: applied like any other, and reported truly.
    await pushByHand(forge, 'a name with a newline', async (dir) => {
      await execa('sh', ['-c', 'printf "nl\\n" > "dot_claude/two\nlines" && printf "v3\\n" > dot_claude/keep.md', ''], {cwd: dir})
    })
    const newline = await beta.sync()
    assert.ok(newline.result.applied.includes('.claude/two\nlines'), newline.stdout)
    assert.equal(beta.read('.claude/two\nlines'), 'nl\n')
    assert.equal(beta.read('.claude/keep.md'), 'v3\n')

    await beta.sync()
    assert.equal(beta.read('.claude/bad.json'), '{}\n')

    // Broken again: the fix the sync prints (remove the entry from the fleet) works.
    await pushByHand(forge, 'break it again', async (dir) => {
      await execa('sh', ['-c', 'printf "{{ .nope.y }\n" > dot_claude/bad.json.tmpl', ''], {cwd: dir})
    })
    const again = await beta.sync({exit: 1, json: false})
    const fix = /(git -C .* rm -- .*), then `fleet sync`/.exec(again.stderr)
    assert.ok(fix, again.stderr)
    await beta.shell(fix[1])
    await beta.sync()
    assert.equal(await forge.show('dot_claude/bad.json.tmpl'), undefined)
    await alpha.sync()
  })
})
