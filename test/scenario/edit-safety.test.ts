// Never lose an edit: whatever a person does beside fleet — `chezmoi edit`, a commit or a pull of their own in the
// source repo, a merge they are resolving by hand, an edit in the middle of an apply — every edit ends up on every
// machine and in the forge, and no commit the fleet pushes takes another machine's edit back. (A disk that fills up
// during a sync: edit-safety-disk.test.ts.)
//
// Each story has its own managed file (`.zshrc-<case>`, fifteen lines "line 1".."line 15"), so that one story
// failing does not disturb the next; every story starts from a settled fleet (see settle()).
import assert from 'node:assert/strict'
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import type {SyncState} from '../../src/lib/sync/state.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

const CASES = ['1', '1b', '1c', '1d', '1e', '2', '3', '4a', '4b', '4c', '6', '6b'] as const
type Case = (typeof CASES)[number]

/** The managed file of one story, as a target (relative to $HOME) and as a source file (relative to the source repo). */
const rc = (c: Case) => `.zshrc-case${c}`
const source = (c: Case) => `dot_zshrc-case${c}`

/** "line 1".."line n", one a line. */
function lines(n: number, prefix = 'line'): string {
  return Array.from({length: n}, (_, i) => `${prefix} ${i + 1}`).join('\n') + '\n'
}

/** The text with its line i (1-based) replaced. */
function editLine(text: string, i: number, newText: string): string {
  const all = text.split('\n')
  assert.ok(i >= 1 && i < all.length, `the text has a line ${i}`)
  all[i - 1] = newText
  return all.join('\n')
}

/** The machine's copy of the file holds every one of the edits (`what` says which, for the failure message). */
function assertHasEdits(machine: Machine, relative: string, edits: string[], what = 'both edits'): void {
  const text = machine.read(relative)
  assert.ok(
    edits.every((edit) => text.includes(edit)),
    `${machine.name}'s ~/${relative} has ${what}:\n${text}`,
  )
}

function appendLine(machine: Machine, relative: string, line: string): void {
  machine.edit(relative, (text) => `${text}${line}\n`)
}

const NETRC = Array.from({length: 15}, (_, i) => `machine host${i + 1}.example.com login user${i + 1} password pw-${i + 1}`).join('\n') + '\n'
const NETRC_LINE = (i: number) => NETRC.split('\n')[i - 1]

describe('edit safety: never lose an edit', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  /** A sync that may fail: its result, and its conflicts when it printed JSON. */
  async function trySync(machine: Machine) {
    const result = await machine.sync({exit: 'any'})
    let conflicts: Array<{path: string}> = []
    try {
      conflicts = result.result.conflicts ?? []
    } catch {
      // not its result: an error
    }
    return {result, conflicts}
  }

  /**
   * Bring alpha and beta to a settled state whatever an earlier story left behind: no merge in progress in a
   * source repo, no recorded conflict (each taken as the fleet's version), everything synced both ways.
   */
  async function settle(): Promise<void> {
    if (await isSettled()) return
    for (const machine of [alpha, beta]) {
      if (existsSync(join(machine.sourceDir, '.git/MERGE_HEAD'))) await machine.git(['merge', '--abort']).catch(() => undefined)
    }
    for (const machine of [alpha, beta]) {
      const {conflicts} = await trySync(machine)
      for (const conflict of conflicts) await machine.resolve(conflict.path, 'theirs', {exit: 'any'})
    }
    await alpha.sync({exit: 'any'})
  }

  /**
   * Whether alpha and beta are settled already, so that the syncs of settle() would have nothing to do: in both, no
   * operation of git's or fleet's under way in the source repo, no sync running or due again, the last sync ended well
   * and recorded no conflict, nothing held back, skipped or waiting; the source repo clean at the forge's head, which
   * is what was applied; and chezmoi sees no difference between the source and the files.
   */
  async function isSettled(): Promise<boolean> {
    const head = await forge.head()
    for (const machine of [alpha, beta]) {
      const git = join(machine.sourceDir, '.git')
      const underWay = ['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'fleet-operation.json'].map((name) => join(git, name))
      if ([...underWay, machine.lockDir, machine.syncFiles.again].some((path) => existsSync(path))) return false
      const state = JSON.parse(readFileSync(machine.syncFiles.state, 'utf8')) as SyncState
      const left = [state.conflicts, state.heldBack, state.skipped, state.lastSync?.waiting].some((list) => (list ?? []).length > 0)
      if (left || !state.settled || !['ok', 'quick'].includes(state.lastSync?.outcome ?? '')) return false
      if (state.appliedHead !== head || (await machine.git(['rev-parse', 'HEAD'])) !== head) return false
      if ((await machine.git(['status', '--porcelain'])) !== '' || (await machine.chezmoi(['status'])) !== '') return false
    }
    return true
  }

  /** Every commit on the forge's branch, as a diff: no line of it may take `text` away. */
  async function assertNeverRemoved(text: string, whose: string): Promise<void> {
    const log = await forge.git(['log', '-p', '--format=commit %H %an: %s', 'main'])
    let commit = ''
    for (const line of log.split('\n')) {
      if (line.startsWith('commit ')) commit = line
      else if (line.startsWith('-') && !line.startsWith('---') && line.includes(text)) {
        assert.fail(`a forge commit takes back ${whose} ("${text}"): ${commit}`)
      }
    }
  }

  /** A stand-in for chezmoi that runs `action` (shell) the first time it is asked to apply, then the real chezmoi. */
  async function chezmoiWrapper(name: string, action: string): Promise<string> {
    const real = (await execa('sh', ['-c', 'command -v chezmoi'])).stdout.trim()
    assert.ok(real.startsWith('/'), `chezmoi is on PATH (${real})`)
    const wrapper = join(root, name)
    const marker = `${wrapper}.done`
    writeFileSync(
      wrapper,
      `#!/bin/sh
for a in "$@"; do
  if [ "$a" = apply ] && [ ! -e "${marker}" ]; then
    : > "${marker}"
    ${action}
    break
  fi
done
exec "${real}" "$@"
`,
      {mode: 0o755},
    )
    return wrapper
  }

  before(async function () {
    fleet = await TestFleet.start('edit-safety')
    ;({
      root,
      forge,
      machines: [alpha, beta],
    } = fleet)
    for (const c of CASES) alpha.write(rc(c), lines(15))
    alpha.write('.netrc', NETRC, 0o600)
    await alpha.addPath(CASES.map(rc))
    await alpha.addPath('.netrc', {encrypt: true})
    await beta.sync()
    for (const c of CASES) assert.equal(beta.read(rc(c)), lines(15))
    assert.equal(beta.read('.netrc'), NETRC)
  })

  beforeEach(async function () {
    await settle()
  })

  after(async function () {
    await fleet?.remove()
  })

  it('1. `chezmoi edit` saved to the source, then a tool appends to the file: both edits are kept everywhere', async function () {
    const file = rc('1')
    const viaChezmoiEdit = 'line 3 changed with chezmoi edit'
    const appended = 'export PATH="$HOME/.tool/bin:$PATH" # added by an installer'
    // `chezmoi edit ~/.zshrc` writes the source file and does not apply it.
    const sourceFile = join(alpha.sourceDir, source('1'))
    writeFileSync(sourceFile, editLine(readFileSync(sourceFile, 'utf8'), 3, viaChezmoiEdit))
    // Then an installer appends to the file itself.
    appendLine(alpha, file, appended)

    await alpha.sync()
    const onForge = (await forge.show(source('1')))!
    assert.ok(onForge.includes(viaChezmoiEdit), `the forge keeps the edit made with chezmoi edit:\n${onForge}`)
    assert.ok(onForge.includes(appended), `the forge has the appended line:\n${onForge}`)
    assert.ok(alpha.read(file).includes(viaChezmoiEdit), `alpha's ~/${file} has the chezmoi edit:\n${alpha.read(file)}`)
    assert.ok(alpha.read(file).includes(appended), `alpha's ~/${file} keeps the appended line:\n${alpha.read(file)}`)
    await beta.sync()
    assertHasEdits(beta, file, [viaChezmoiEdit, appended])
    await assertNeverRemoved(viaChezmoiEdit, 'the chezmoi edit')
  })

  it('1b. the same line changed in the source and in the file: a conflict, both versions kept, resolve chooses', async function () {
    const file = rc('1b')
    const sourceFile = join(alpha.sourceDir, source('1b'))
    writeFileSync(sourceFile, editLine(readFileSync(sourceFile, 'utf8'), 4, 'line 4 from chezmoi edit'))
    alpha.edit(file, (text) => editLine(text, 4, 'line 4 edited in the file'))

    const synced = await trySync(alpha)
    assert.equal(synced.result.exitCode, 4, synced.result.stdout + synced.result.stderr)
    assert.deepEqual(
      synced.conflicts.map((c) => c.path),
      [file],
    )
    assert.match(alpha.read(file), /line 4 edited in the file/, "the file keeps this machine's version")
    assert.match((await forge.show(source('1b')))!, /line 4 from chezmoi edit/, "the forge has the source's version")
    const parked = (synced.conflicts[0] as unknown as {parkedBranch: string}).parkedBranch
    assert.match(await alpha.git(['show', `${parked}:${source('1b')}`]), /line 4 edited in the file/, "the parked branch holds this machine's version")
    await beta.sync()
    assert.match(beta.read(file), /line 4 from chezmoi edit/)

    await alpha.resolve(file, 'mine')
    await alpha.sync()
    await beta.sync()
    assert.match(beta.read(file), /line 4 edited in the file/, "resolve --mine carries this machine's version")
  })

  it('1c. a file deleted here while its source changed: a conflict, not a deletion of the other change', async function () {
    const file = rc('1c')
    beta.edit(file, (text) => editLine(text, 9, 'line 9 by beta'))
    await beta.sync()
    await alpha.git(['pull', '-q', 'origin', 'main'])
    alpha.remove(file)

    const synced = await trySync(alpha)
    assert.equal(synced.result.exitCode, 4, synced.result.stdout + synced.result.stderr)
    assert.deepEqual(
      synced.conflicts.map((c) => c.path),
      [file],
    )
    assert.match((await forge.show(source('1c')))!, /line 9 by beta/, "beta's edit stays on the forge")
    await beta.sync()
    assert.match(beta.read(file), /line 9 by beta/, 'beta keeps its file')
    assert.equal(alpha.exists(file), false, 'alpha keeps its deletion until it chooses')

    await alpha.resolve(file, 'theirs')
    assert.match(alpha.read(file), /line 9 by beta/)
  })

  it('1d. a file made executable on one machine while the same line changed on the other: a conflict that keeps the file in the fleet', async function () {
    const file = rc('1d')
    beta.edit(file, (text) => editLine(text, 3, 'line 3 by beta'))
    await beta.sync()
    alpha.write(file, editLine(alpha.read(file), 3, 'line 3 by alpha'), 0o755)

    const synced = await trySync(alpha)
    assert.equal(synced.result.exitCode, 4, synced.result.stdout + synced.result.stderr)
    assert.deepEqual(
      synced.conflicts.map((c) => c.path),
      [file],
    )
    const entries = (await forge.files()).filter((f) => f.endsWith(source('1d')))
    assert.deepEqual(entries, [source('1d')], "the forge still has exactly one entry for the file, the fleet's")
    assert.match(alpha.read(file), /line 3 by alpha/)
    await alpha.resolve(file, 'theirs')
    assert.match(alpha.read(file), /line 3 by beta/)
    await alpha.sync()
    await beta.sync()
    assert.match(beta.read(file), /line 3 by beta/)
  })

  it("1e. the source of a managed file removed by a commit of the person's own: later edits are still captured", async function () {
    const file = rc('1e')
    await alpha.git(['rm', '--quiet', source('1e')])
    await alpha.git(['commit', '--quiet', '-m', 'my own: drop the source'])
    appendLine(alpha, file, 'edited after the source went')
    await alpha.sync()
    assert.match((await forge.show(source('1e'))) ?? '(absent)', /edited after the source went/, 'the file and its edit are on the forge')
    await beta.sync()
    assert.match(beta.read(file), /edited after the source went/)
  })

  it("2. a commit of the person's own in the source repo, and an append to the file: both travel, the commit stays in history", async function () {
    const file = rc('2')
    const committed = 'line 5 committed by hand'
    const message = 'my own edit: line 5 of .zshrc-case2'
    const appended = 'alias ll="ls -l" # appended on alpha'
    const sourceFile = join(alpha.sourceDir, source('2'))
    writeFileSync(sourceFile, editLine(readFileSync(sourceFile, 'utf8'), 5, committed))
    await alpha.git(['add', source('2')])
    await alpha.git(['commit', '--quiet', '-m', message])
    appendLine(alpha, file, appended)

    await alpha.sync()
    const onForge = (await forge.show(source('2')))!
    assert.ok(onForge.includes(committed), `the forge still has the person's committed line 5:\n${onForge}`)
    assert.ok(onForge.includes(appended), `the forge has the appended line:\n${onForge}`)
    assert.ok((await forge.git(['log', '--format=%s', 'main'])).split('\n').includes(message), "the person's commit is in the forge's history")
    assertHasEdits(alpha, file, [committed, appended])
    await beta.sync()
    assertHasEdits(beta, file, [committed, appended])
    await assertNeverRemoved(committed, "the person's committed line 5")
  })

  it("3. a change pulled into the source by hand, then an append: the other machine's edit is not taken back", async function () {
    const file = rc('3')
    const fromBeta = 'line 1 edited on beta'
    const appended = 'setopt autocd # appended on alpha'
    beta.edit(file, (text) => editLine(text, 1, fromBeta))
    await beta.sync()
    // alpha's person pulls the forge into the source repo by hand (no apply), then the file is appended to.
    await alpha.git(['pull', '--quiet', '--no-rebase', 'origin', 'main'])
    appendLine(alpha, file, appended)

    await alpha.sync()
    await beta.sync()
    assert.ok(beta.read(file).includes(fromBeta), `beta's ~/${file} still has beta's own line-1 edit:\n${beta.read(file)}`)
    assert.ok(beta.read(file).includes(appended), `beta's ~/${file} has alpha's appended line:\n${beta.read(file)}`)
    assertHasEdits(alpha, file, [fromBeta, appended])
    await assertNeverRemoved(fromBeta, "beta's line-1 edit")
  })

  it("4a. an edit made while chezmoi applies the other machine's edit: neither is lost", async function () {
    const file = rc('4a')
    const fromBeta = 'line 1 edited on beta (while alpha applies)'
    const appended = 'export LESS=-R # appended on alpha during the apply'
    beta.edit(file, (text) => editLine(text, 1, fromBeta))
    await beta.sync()
    // alpha's sync receives beta's edit; the file is appended to just as chezmoi starts applying it.
    const wrapper = await chezmoiWrapper('chezmoi-append-on-apply', `printf '%s\\n' '${appended}' >> "$HOME/${file}"`)
    const racing = await alpha.sync({exit: 'any', env: {FLEET_CHEZMOI: wrapper}})
    assert.ok(existsSync(`${wrapper}.done`), 'the sync ran an apply (the stand-in appended to the file)')
    assert.ok(alpha.read(file).includes(appended), `the apply did not overwrite the line appended meanwhile:\n${alpha.read(file)}`)

    await alpha.sync()
    await beta.sync()
    await assertNeverRemoved(fromBeta, "beta's line-1 edit")
    for (const machine of [alpha, beta]) {
      assertHasEdits(machine, file, [fromBeta, appended], "beta's line-1 edit and alpha's appended line")
    }
    // The racing sync did not claim to have applied a file chezmoi refused to write.
    const applied: string[] = racing.result.applied
    assert.ok(!applied.includes(file), `the sync during which ~/${file} was edited does not list it as applied: ${JSON.stringify(racing.result)}`)
  })

  it('4b. a sync killed (kill -9) as it starts to apply, then an append: the edit it received is not taken back', async function () {
    const file = rc('4b')
    const fromBeta = "line 1 edited on beta (before alpha's sync was killed)"
    const appended = 'export PAGER=less # appended on alpha after the kill'
    beta.edit(file, (text) => editLine(text, 1, fromBeta))
    await beta.sync()
    // alpha's sync receives beta's edit and is killed just before chezmoi applies it.
    const wrapper = await chezmoiWrapper('chezmoi-kill-on-apply', 'kill -9 $PPID; exit 137')
    const killed = await alpha.sync({exit: 'any', json: false, env: {FLEET_CHEZMOI: wrapper}})
    assert.ok(existsSync(`${wrapper}.done`), 'the sync got as far as the apply')
    assert.notEqual(killed.exitCode, 0, 'the sync was killed')
    appendLine(alpha, file, appended)

    for (let i = 0; i < 2; i++) {
      await alpha.sync()
    }
    await beta.sync()
    await assertNeverRemoved(fromBeta, "beta's line-1 edit")
    for (const machine of [alpha, beta]) {
      assertHasEdits(machine, file, [fromBeta, appended], "beta's line-1 edit and alpha's appended line")
    }
  })

  it('5b. resolve --mine never turns a file that is absent because a sync never wrote it into a deletion', async function () {
    alpha.write('.case5b', 'from alpha\n')
    await alpha.addPath('.case5b')
    // beta's source has the file (pulled by hand), but no sync has written it to beta's HOME yet: it is absent there
    // because of fleet, not because of the person. A conflict recorded for it must not push a deletion.
    await beta.git(['pull', '-q', 'origin', 'main'])
    const head = await beta.git(['rev-parse', 'HEAD'])
    const stateFile = beta.syncFiles.state
    const state = JSON.parse(readFileSync(stateFile, 'utf8'))
    state.conflicts = [{path: '.case5b', sourcePath: 'dot_case5b', parkedBranch: 'fleet/parked/test', mine: head, theirs: head, at: new Date().toISOString()}]
    writeFileSync(stateFile, JSON.stringify(state))
    const refused = await beta.resolve('.case5b', 'mine', {exit: 1, json: false})
    assert.match(refused.stderr, /never wrote it here/)
    assert.match(refused.stderr, /--theirs/, 'the fix is named')
    assert.ok(!(await beta.git(['ls-files'])).split('\n').includes('remove_dot_case5b'), 'no delete marker was written')
    await beta.resolve('.case5b', 'theirs')
    assert.equal(beta.read('.case5b'), 'from alpha\n')
    await beta.sync()
    assert.equal(await forge.show('dot_case5b'), 'from alpha\n', 'the forge still has the file')
  })

  it('4c. a file saved while a sync that had to merge with the forge applies: the next sync merges, no conflict', async function () {
    const file = rc('4c')
    beta.edit(file, (text) => editLine(text, 1, 'line 1 by beta'))
    beta.edit('.netrc', (text) => text.replace(NETRC_LINE(1), 'machine one.example.com login beta password by-beta'))
    await beta.sync()
    // alpha edits both, syncs (its commit is rebased onto beta's), and both files are saved again during its apply.
    appendLine(alpha, file, 'alpha first')
    alpha.edit('.netrc', (text) => `${text}machine first.example.com login alpha password first\n`)
    const wrapper = await chezmoiWrapper(
      'chezmoi-append-after-rebase',
      `printf 'alpha second\\n' >> "$HOME/${file}"; printf 'machine second.example.com login alpha password second\\n' >> "$HOME/.netrc"`,
    )
    const racing = await alpha.sync({env: {FLEET_CHEZMOI: wrapper}})
    assert.deepEqual([...racing.result.waiting].sort(), ['.netrc', file].sort(), 'what chezmoi refused to write is said to be waiting')

    await alpha.sync() // the next sync merges, no conflict
    await beta.sync()
    for (const machine of [alpha, beta]) {
      assert.match(machine.read(file), /line 1 by beta[\s\S]*alpha first\nalpha second/, `${machine.name}: ${machine.read(file)}`)
      assert.match(machine.read('.netrc'), /by-beta[\s\S]*password first\n.*password second/, `${machine.name}: .netrc has every edit`)
    }
  })

  it('6. a merge the person is resolving by hand in the source repo: the sync leaves it alone, then carries the resolution', async function () {
    const file = rc('6')
    const fromBeta = 'line 7 edited on beta'
    const byHand = 'line 7 committed by hand on alpha'
    const resolution = 'line 7 as resolved by hand'
    beta.edit(file, (text) => editLine(text, 7, fromBeta))
    await beta.sync()
    const sourceFile = join(alpha.sourceDir, source('6'))
    writeFileSync(sourceFile, editLine(readFileSync(sourceFile, 'utf8'), 7, byHand))
    await alpha.git(['add', source('6')])
    await alpha.git(['commit', '--quiet', '-m', 'my own line 7'])
    const pulled = await execa('git', ['-C', alpha.sourceDir, 'pull', '--no-rebase', 'origin', 'main'], {env: alpha.env, extendEnv: false, reject: false})
    assert.notEqual(pulled.exitCode, 0, 'the pull conflicts')
    const mergeHead = join(alpha.sourceDir, '.git/MERGE_HEAD')
    assert.ok(existsSync(mergeHead), 'a merge is in progress')
    // Half-way through: the file is resolved and staged, the merge is not committed yet.
    const resolved = editLine(lines(15), 7, resolution)
    writeFileSync(sourceFile, resolved)
    await alpha.git(['add', source('6')])

    // A sync during a hand merge stops with exit 1.
    const during = await alpha.sync({exit: 1, json: false})
    const said = during.stdout + during.stderr
    assert.match(said, /merg/i, `it says a merge is in progress:\n${said}`)
    assert.match(said, /in progress|unfinished|not finished|being resolved/i, `it says the merge is not finished:\n${said}`)
    assert.match(said, /commit|--continue/, `it says how to finish the merge:\n${said}`)
    assert.match(said, /--abort/, `it says how to abort the merge:\n${said}`)
    assert.ok(existsSync(mergeHead), 'the merge is still in progress (MERGE_HEAD)')
    assert.equal(readFileSync(sourceFile, 'utf8'), resolved, 'the hand resolution is still in the source')

    await alpha.git(['commit', '--quiet', '--no-edit'])
    await alpha.sync()
    assert.equal(await forge.show(source('6')), resolved, "the forge has the person's resolution")
    assert.equal(alpha.read(file), resolved, `alpha's ~/${file} is the resolution`)
    await beta.sync()
    assert.equal(beta.read(file), resolved, `beta's ~/${file} is the resolution`)
  })

  it('6b. a `git stash pop` that stopped with conflicts in the source: the sync leaves it alone and pushes no conflict markers', async function () {
    const file = rc('6b')
    const sourceFile = join(alpha.sourceDir, source('6b'))
    writeFileSync(sourceFile, editLine(readFileSync(sourceFile, 'utf8'), 10, 'line 10 stashed on alpha'))
    await alpha.git(['stash', '--quiet'])
    beta.edit(file, (text) => editLine(text, 10, 'line 10 by beta'))
    await beta.sync()
    await alpha.sync()
    const popped = await execa('git', ['-C', alpha.sourceDir, 'stash', 'pop'], {env: alpha.env, extendEnv: false, reject: false})
    assert.notEqual(popped.exitCode, 0, 'the stash pop conflicts')

    const during = await alpha.sync({exit: 1, json: false})
    assert.match(during.stderr, /unresolved conflicts/)
    assert.match(during.stderr, /Fix: /)
    assert.doesNotMatch((await forge.show(source('6b')))!, /<<<<<<<|>>>>>>>/, 'no conflict markers on the forge')
    // The person finishes it their way; the next sync carries it.
    writeFileSync(sourceFile, editLine(lines(15), 10, 'line 10 resolved by hand'))
    await alpha.git(['add', source('6b')])
    await alpha.git(['stash', 'drop', '--quiet'])
    await alpha.sync()
    await beta.sync()
    assert.match(beta.read(file), /line 10 resolved by hand/)
  })

  it('7a. an encrypted file edited on two machines in different places merges on its decrypted content', async function () {
    const fromAlpha = `${NETRC_LINE(1)} # alpha`
    const fromBeta = `${NETRC_LINE(13)} # beta`
    alpha.edit('.netrc', (text) => editLine(text, 1, fromAlpha))
    await alpha.sync()
    beta.edit('.netrc', (text) => editLine(text, 13, fromBeta))
    await beta.sync() // beta's sync merges the two edits (no conflict)
    await alpha.sync()
    for (const machine of [alpha, beta]) {
      assertHasEdits(machine, '.netrc', [fromAlpha, fromBeta])
    }
    const versions = (await forge.allBlobs()).filter((b) => b.path.includes('netrc') && b.content.length > 0)
    assert.ok(versions.length > 0, 'the forge has the encrypted netrc')
    for (const {commit, path, content} of versions) {
      assert.ok(content.toString('utf8').startsWith('-----BEGIN AGE ENCRYPTED FILE-----'), `${path} in ${commit} is ciphertext`)
    }
  })

  it('7b. an encrypted file edited offline while another machine is approved (everything re-encrypted): the edit is kept', async function () {
    const fromBeta = `${NETRC_LINE(2)} # beta, offline`
    beta.edit('.netrc', (text) => editLine(text, 2, fromBeta))
    renameSync(forge.path, `${forge.path}.down`)
    try {
      await beta.sync({exit: 3})
    } finally {
      renameSync(`${forge.path}.down`, forge.path)
    }
    // Meanwhile a machine joins, and alpha approves it: every encrypted file is re-encrypted, none is edited.
    const gamma = await fleet.join(new Machine(root, 'gamma'))

    await beta.sync() // beta's sync after the re-encryption carries its edit (no conflict)
    assert.ok(beta.read('.netrc').includes(fromBeta), `beta's ~/.netrc keeps its edit:\n${beta.read('.netrc')}`)
    await alpha.sync()
    assert.ok(alpha.read('.netrc').includes(fromBeta), `alpha's ~/.netrc has beta's line-2 edit:\n${alpha.read('.netrc')}`)
    await gamma.sync()
    assert.ok(gamma.read('.netrc').includes(fromBeta), `gamma, approved meanwhile, reads beta's edit:\n${gamma.read('.netrc')}`)
  })

  it('8. a directory newly managed: files another machine already has in it reach the forge at its first sync', async function () {
    beta.write('bin/b-only', '#!/bin/sh\necho only on beta\n', 0o755)
    alpha.write('bin/a-tool', '#!/bin/sh\necho from alpha\n', 0o755)
    await alpha.addPath('bin')

    const first = await beta.sync()
    const files = await forge.files()
    assert.ok(
      files.some((f) => /^bin\/(executable_)?b-only$/.test(f)),
      `after beta's one sync the forge holds bin/b-only: ${files.filter((f) => f.startsWith('bin/')).join(', ')}`,
    )
    assert.ok(first.result.captured.includes('bin/b-only'), `beta's sync says it captured bin/b-only: captured ${JSON.stringify(first.result.captured)}`)
    assert.equal(beta.read('bin/a-tool'), '#!/bin/sh\necho from alpha\n', "beta has alpha's tool")
    assert.equal(beta.read('bin/b-only'), '#!/bin/sh\necho only on beta\n', 'beta keeps its own')

    await alpha.sync()
    assert.ok(alpha.exists('bin/b-only'), "alpha has beta's bin/b-only")
    assert.equal(alpha.read('bin/b-only'), '#!/bin/sh\necho only on beta\n')
  })
})
