// One big managed directory (~/.big: 1,500 small JSON files in 40 subdirectories) between two machines: a joining
// machine gets all of it byte for byte, and one edit, a new file, a delete, a conflict or an edit made while a big
// change comes in each touches exactly the files it should, on both machines, and loses nothing.
//
// The set-up (the tree added on alpha, beta joining) is the expensive part and is done once; each story leaves both
// machines with the same tree, for the next.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import type {CommandRun} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

const TREE = '.big'
const FILES = 1500
const DIRECTORIES = 40

/** The i-th file of the tree, relative to $HOME: `.big/d07/f0047.json`. */
function treeFile(i: number): string {
  return `${TREE}/d${String(i % DIRECTORIES).padStart(2, '0')}/f${String(i).padStart(4, '0')}.json`
}

/** A small settings file (about 220 bytes) as an application writes it; `colour` is the line the stories change. */
function settings(i: number, colour = 'blue'): string {
  return (
    JSON.stringify({name: `entry-${i}`, colour, width: 80 + (i % 40), enabled: i % 3 !== 0, tags: ['alpha', 'beta', 'gamma'], note: 'n'.repeat(60)}, null, 2) +
    '\n'
  )
}

/** The file with its `colour` line changed, everything else as it was. */
function recolour(text: string, colour: string): string {
  assert.match(text, /"colour": "[^"]*"/)
  return text.replace(/"colour": "[^"]*"/, `"colour": "${colour}"`)
}

/** Every file under a directory, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, {recursive: true, encoding: 'utf8'})
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort()
}

/** Every file under ~/.big on the machine, by path relative to $HOME, each as a hash of its bytes. */
function treeOf(machine: Machine): Map<string, string> {
  const root = machine.path(TREE)
  const hash = (name: string) =>
    createHash('sha256')
      .update(readFileSync(join(root, name)))
      .digest('hex')
  return new Map(filesUnder(root).map((name) => [`${TREE}/${name}`, hash(name)]))
}

/** What differs from one tree to another: the paths added, removed and changed (each sorted). */
function difference(from: Map<string, string>, to: Map<string, string>): {added: string[]; removed: string[]; changed: string[]} {
  return {
    added: [...to.keys()].filter((path) => !from.has(path)).sort(),
    removed: [...from.keys()].filter((path) => !to.has(path)).sort(),
    changed: [...to.keys()].filter((path) => from.has(path) && from.get(path) !== to.get(path)).sort(),
  }
}

const SAME = {added: [], removed: [], changed: []}

/** A list of paths in order, whatever order a command reported them in. */
function sorted(paths: string[]): string[] {
  return [...paths].sort()
}

/** The longest line a command printed for a person (stdout and stderr). */
function longestLine(run: {stdout: string; stderr: string}): number {
  return Math.max(0, ...`${run.stdout}\n${run.stderr}`.split('\n').map((line) => line.length))
}

describe('a big managed tree: 1,500 files in one directory', function () {
  // A loaded machine (the suite runs two files at once) takes several times as long as an idle one.
  this.timeout(300_000)
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  /** beta's enroll, as a person runs it, and its first sync once approved. */
  let joined: CommandRun<unknown>
  let firstSync: Awaited<ReturnType<Machine['sync']>>
  /** What beta had at ~/.bashrc and at one path of the tree before it joined. */
  const BASHRC = '# beta\'s own shell settings\nexport EDITOR=vi\nalias ll="ls -l"\n'
  const STALE = treeFile(3)
  const staleContent = recolour(settings(3), 'an old copy of beta')

  before(async function () {
    this.timeout(600_000)
    fleet = await TestFleet.start('big-tree', {joined: 1})
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    for (let i = 0; i < FILES; i++) alpha.write(treeFile(i), settings(i))
    // More files than add-path takes without asking.
    await alpha.addPath(TREE, {force: true, timeout: 600_000})
    // beta is a machine someone has used: a shell configuration of its own (not the fleet's), and an old copy of one
    // file of the tree (as a machine set up by hand once would have).
    beta.write('.bashrc', BASHRC)
    beta.write(STALE, staleContent)
    joined = await beta.enroll(fleet.url, {json: false, timeout: 600_000})
    await alpha.approve('beta')
    firstSync = await beta.sync()
  })
  after(() => fleet?.remove())

  it("1. a joining machine's first sync: every file with alpha's bytes, its own files kept, short lines for a person", async function () {
    assert.deepEqual(difference(treeOf(alpha), treeOf(beta)), SAME, "beta's ~/.big is alpha's, byte for byte")
    assert.equal(treeOf(beta).size, FILES)
    assert.doesNotMatch(joined.stdout, /not applied/i, 'nothing is left waiting or failed')
    assert.ok(longestLine(joined) < 300, `a line of ${longestLine(joined)} characters:\n${joined.stdout}`)
    // What beta had at a path of the tree is replaced by the fleet's file, and kept in a backup: exactly that file.
    const backupDir = /backed up to (\/\S+?)[:;,.]?(?:\s|$)/.exec(joined.stdout)?.[1]
    assert.ok(backupDir, `enroll names the backup:\n${joined.stdout}`)
    assert.deepEqual(filesUnder(backupDir), [STALE])
    assert.equal(readFileSync(join(backupDir, STALE), 'utf8'), staleContent)
    // A file the fleet does not manage stays as it was.
    assert.equal(beta.read('.bashrc'), BASHRC)
    // TODO(issue 14): enroll --json has no list of the files it applied (its result names only what it backed up);
    // once it has, assert here that it lists all of ~/.big.

    // beta's first sync after its approval brings the secrets file and nothing else: the join left the tree
    // settled, so nothing in it is applied again or captured back.
    const first = firstSync.result
    assert.deepEqual(first.applied, ['.config/fleet/secrets.env'])
    assert.deepEqual(first.captured, [])
    assert.deepEqual(first.waiting, [])
    assert.deepEqual(first.conflicts, [])
    assert.equal(first.pushed, 0)
  })

  it('2. one edit in the tree: exactly that file is captured, pushed in one commit and applied on the other machine', async function () {
    const file = treeFile(7)
    const [alphaBefore, betaBefore] = [treeOf(alpha), treeOf(beta)]
    const head = await forge.head()
    alpha.edit(file, (text) => recolour(text, 'green'))

    const sent = (await alpha.sync()).result
    assert.deepEqual(sent.captured, [file])
    assert.equal(sent.pushed, 1)
    assert.equal((await forge.git(['rev-list', '--count', `${head}..main`])).trim(), '1')
    const received = (await beta.sync()).result
    assert.deepEqual(received.applied, [file])
    assert.deepEqual(received.captured, [])
    assert.deepEqual(received.waiting, [])
    assert.equal(beta.read(file), alpha.read(file))
    assert.deepEqual(difference(alphaBefore, treeOf(alpha)), {...SAME, changed: [file]})
    assert.deepEqual(difference(betaBefore, treeOf(beta)), {...SAME, changed: [file]})
  })

  it('3. a new file in a new subdirectory and a delete on beta travel to alpha; nothing else changes on either', async function () {
    const added = `${TREE}/new-dir/deeper/added.json`
    const deleted = treeFile(11)
    const [alphaBefore, betaBefore] = [treeOf(alpha), treeOf(beta)]
    beta.write(added, settings(9999, 'new'))
    beta.remove(deleted)

    const sent = (await beta.sync()).result
    assert.deepEqual(sorted(sent.captured), sorted([added, deleted]))
    assert.equal(sent.pushed, 1)
    await alpha.sync()
    assert.equal(alpha.read(added), settings(9999, 'new'))
    assert.equal(alpha.exists(deleted), false)
    for (const [machine, before] of [
      [alpha, alphaBefore],
      [beta, betaBefore],
    ] as const) {
      assert.deepEqual(difference(before, treeOf(machine)), {...SAME, added: [added], removed: [deleted]}, machine.name)
    }
  })

  it('4. a conflict in the tree: that one path is reported (exit 4), both versions kept, every other change applied; resolve settles it', async function () {
    const contested = treeFile(23)
    const other = treeFile(42)
    const betaBefore = treeOf(beta)
    // The same line of the same file changed on both machines before either syncs; alpha changes a second file too.
    alpha.edit(contested, (text) => recolour(text, 'red from alpha'))
    alpha.edit(other, (text) => recolour(text, 'purple from alpha'))
    beta.edit(contested, (text) => recolour(text, 'yellow from beta'))
    const betaVersion = beta.read(contested)

    assert.deepEqual(sorted((await alpha.sync()).result.captured), sorted([contested, other]))
    const report = (await beta.sync({exit: 4})).result
    assert.equal(report.outcome, 'conflict')
    assert.deepEqual(report.waiting, [])
    assert.deepEqual(
      report.conflicts.map((c) => c.path),
      [contested],
    )
    // Nothing lost: beta's version stays in its file and in the commit kept on the parked branch; the forge has alpha's.
    assert.equal(beta.read(contested), betaVersion)
    const sourcePath = report.conflicts[0].sourcePath
    assert.equal(await beta.git(['show', `${report.conflicts[0].parkedBranch}:${sourcePath}`]), betaVersion.trimEnd())
    assert.equal(await forge.show(sourcePath), alpha.read(contested))
    // Every other change alpha made is applied on beta, and nothing else in the tree moved.
    assert.equal(beta.read(other), alpha.read(other))
    assert.deepEqual(difference(betaBefore, treeOf(beta)), {...SAME, changed: sorted([contested, other])})

    // beta keeps its version: it becomes the fleet's, and alpha gets it.
    await beta.resolve(`~/${contested}`, 'mine')
    assert.deepEqual((await beta.sync()).result.conflicts, [])
    await alpha.sync()
    assert.equal(alpha.read(contested), betaVersion)
    assert.deepEqual(difference(treeOf(alpha), treeOf(beta)), SAME)
  })

  it("5. an edit on a quiet beta is captured, not overwritten, when a change to 200 of the tree's files comes in", async function () {
    const own = treeFile(99)
    const rewritten = sorted(Array.from({length: 200}, (_, n) => treeFile(200 + n)))
    const betaBefore = treeOf(beta)
    beta.edit(own, (text) => recolour(text, 'beta kept this'))
    const betaVersion = beta.read(own)
    for (const file of rewritten) alpha.edit(file, (text) => recolour(text, 'rewritten by alpha'))

    const sent = (await alpha.sync()).result
    assert.deepEqual(sorted(sent.captured), rewritten)
    assert.equal(sent.pushed, 1)
    const received = (await beta.sync()).result
    assert.deepEqual(received.captured, [own])
    assert.equal(received.pushed, 1)
    assert.deepEqual(sorted(received.applied), rewritten)
    assert.deepEqual(received.waiting, [])
    assert.equal(beta.read(own), betaVersion)
    assert.deepEqual(difference(betaBefore, treeOf(beta)), {...SAME, changed: sorted([...rewritten, own])})
    await alpha.sync()
    assert.equal(alpha.read(own), betaVersion)
    assert.deepEqual(difference(treeOf(alpha), treeOf(beta)), SAME)
    assert.equal(beta.read('.bashrc'), BASHRC)
  })
})
