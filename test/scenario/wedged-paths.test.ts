// Never wedged: one path fleet cannot take, or one whose type changed, never stops the rest. A type change
// (file, directory, symlink, in every direction) travels; a name chezmoi cannot carry is skipped with its reason
// and fix, shown by status, until it is renamed; names chezmoi reads as attributes travel as they are.
import assert from 'node:assert/strict'
import {lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'

function kind(machine: Machine, relative: string): 'file' | 'dir' | 'symlink' | 'absent' {
  const info = lstatSync(machine.path(relative), {throwIfNoEntry: false})
  if (!info) return 'absent'
  return info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : 'file'
}

/** A sync that must end well: exit 0, and no raw system error anywhere in what it printed. */
async function syncs(machine: Machine): Promise<string> {
  const run = await machine.sync({json: false})
  const all = run.stdout + run.stderr
  assert.doesNotMatch(all, /ENOTDIR|ENAMETOOLONG|lstat|not a directory|inconsistent state/, all)
  return run.stdout
}

/** Every target the source has is what it says on disk (chezmoi's own view: nothing left to apply or capture). */
async function settled(machine: Machine): Promise<void> {
  const status = await machine.chezmoi(['status'])
  assert.equal(status.trim(), '', `${machine.name}: chezmoi status:\n${status}`)
}

/** A change travels: the machine it was made on syncs and is settled, then the other machine syncs. */
async function travels(from: Machine, to: Machine): Promise<void> {
  await syncs(from)
  await settled(from)
  await syncs(to)
}

describe('never wedged: a managed entry whose type changed', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-types')
    ;[alpha, beta] = fleet.machines
    alpha.write('.claude/settings', '{"a": 1}\n')
    alpha.write('.claude/agents/one.md', 'one\n')
    alpha.write('.claude/target.md', 'what links point to\n')
    symlinkSync('target.md', alpha.path('.claude/link'))
    symlinkSync('target.md', alpha.path('.claude/link2'))
    alpha.write('.claude/tools/run.sh', 'echo run\n')
    alpha.write('.zshrc', 'export A=1\n')
    await alpha.addPath(['.claude', '.zshrc'])
    await syncs(beta)
    assert.equal(beta.read('.claude/settings'), '{"a": 1}\n')
    assert.equal(kind(beta, '.claude/link'), 'symlink')
  })
  after(() => fleet?.remove())

  it('file → directory: the directory and its files reach the other machine; the old file is gone there', async function () {
    alpha.remove('.claude/settings')
    alpha.write('.claude/settings/main.json', '{"main": true}\n')
    alpha.write('.claude/notes.md', 'travels beside it\n')
    const out = await syncs(alpha)
    assert.match(out, /Captured .*\.claude\/settings/)
    await settled(alpha)
    assert.match(await syncs(alpha), /Up to date/, 'the machine settles')

    await syncs(beta)
    assert.equal(kind(beta, '.claude/settings'), 'dir')
    assert.equal(beta.read('.claude/settings/main.json'), '{"main": true}\n')
    assert.equal(beta.read('.claude/notes.md'), 'travels beside it\n')
    await settled(beta)
  })

  it('directory → file: the file replaces the directory on the other machine, and syncs go on both ways', async function () {
    alpha.remove('.claude/agents')
    alpha.write('.claude/agents', 'now a file\n')
    await travels(alpha, beta)
    assert.equal(kind(beta, '.claude/agents'), 'file')
    assert.equal(beta.read('.claude/agents'), 'now a file\n')
    await settled(beta)

    beta.write('.claude/agents', 'edited on beta\n')
    await syncs(beta)
    await syncs(alpha)
    assert.equal(alpha.read('.claude/agents'), 'edited on beta\n')
  })

  it('symlink → file: the file travels (it is committed, and the machine settles)', async function () {
    alpha.remove('.claude/link')
    alpha.write('.claude/link', 'a file now\n')
    assert.match(await syncs(alpha), /Captured .*\.claude\/link/)
    await settled(alpha)
    assert.match(await syncs(alpha), /Up to date/)
    await syncs(beta)
    assert.equal(kind(beta, '.claude/link'), 'file')
    assert.equal(beta.read('.claude/link'), 'a file now\n')
  })

  it('file → symlink: the link travels', async function () {
    alpha.remove('.claude/notes.md')
    symlinkSync('target.md', alpha.path('.claude/notes.md'))
    await travels(alpha, beta)
    assert.equal(kind(beta, '.claude/notes.md'), 'symlink')
    assert.equal(readlinkSync(beta.path('.claude/notes.md')), 'target.md')
    assert.equal(beta.read('.claude/notes.md'), 'what links point to\n')
  })

  it('directory → symlink: the link replaces the directory on the other machine', async function () {
    alpha.write('.claude/elsewhere/tool.sh', 'echo elsewhere\n')
    await syncs(alpha)
    await syncs(beta)
    alpha.remove('.claude/tools')
    symlinkSync('elsewhere', alpha.path('.claude/tools'))
    await travels(alpha, beta)
    assert.equal(kind(beta, '.claude/tools'), 'symlink')
    assert.equal(readlinkSync(beta.path('.claude/tools')), 'elsewhere')
    assert.equal(beta.read('.claude/tools/tool.sh'), 'echo elsewhere\n')
    await settled(beta)
  })

  it('symlink → directory: the directory and its files replace the link on the other machine', async function () {
    alpha.remove('.claude/link2')
    alpha.write('.claude/link2/inside.md', 'inside\n')
    await travels(alpha, beta)
    assert.equal(kind(beta, '.claude/link2'), 'dir')
    assert.equal(beta.read('.claude/link2/inside.md'), 'inside\n')
    await settled(beta)
  })

  it('a managed path itself: a file that becomes a directory, and back', async function () {
    alpha.remove('.zshrc')
    alpha.write('.zshrc/config', '[user]\n\tname = dir\n')
    await travels(alpha, beta)
    assert.equal(beta.read('.zshrc/config'), '[user]\n\tname = dir\n')

    beta.remove('.zshrc')
    beta.write('.zshrc', '[user]\n\tname = file again\n')
    await syncs(beta)
    await settled(beta)
    await syncs(alpha)
    assert.equal(kind(alpha, '.zshrc'), 'file')
    assert.equal(alpha.read('.zshrc'), '[user]\n\tname = file again\n')
    await settled(alpha)
  })

  it('a named pipe, in place of a managed file or new in a new directory, is skipped with its reason and fix, shown by status; the rest keeps travelling', async function () {
    alpha.remove('.claude/target.md')
    alpha.write('.claude/beside.md', 'beside the pipe\n')
    alpha.write('.claude/fresh/ok.md', 'beside a new pipe\n')
    await execa('mkfifo', [alpha.path('.claude/target.md'), alpha.path('.claude/fresh/new.pipe')])
    const out = await syncs(alpha)
    assert.match(out, /Not captured: \.claude\/fresh\/new\.pipe \(it is a named pipe, socket or device, which fleet cannot sync/)
    assert.match(out, /Not captured: \.claude\/target\.md \(it was a file and is now a named pipe, socket or device, which fleet cannot sync/)
    assert.match((await alpha.status({json: false})).stdout, /Not captured: ~\/\.claude\/target\.md/)
    await alpha.paths({json: false})
    await syncs(beta)
    assert.equal(beta.read('.claude/beside.md'), 'beside the pipe\n')
    assert.equal(beta.read('.claude/fresh/ok.md'), 'beside a new pipe\n')
    assert.equal(beta.read('.claude/target.md'), 'what links point to\n', 'the fleet keeps the file')

    // The fix, as printed.
    const fix = /run `(rm ~\/\.claude\/target\.md && chezmoi apply --force ~\/\.claude\/target\.md)`/.exec(out)
    assert.ok(fix, out)
    await alpha.shell(fix[1])
    alpha.remove('.claude/fresh/new.pipe')
    await syncs(alpha)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Not captured/)
    assert.equal(alpha.read('.claude/target.md'), 'what links point to\n')
  })
  it('a file made by a template that becomes a directory is skipped with its reason; the printed fix brings the template back', async function () {
    writeFileSync(join(alpha.sourceDir, 'dot_claude/host.md.tmpl'), 'made on {{ .chezmoi.hostname }}\n')
    await alpha.git(['add', '-A'])
    await alpha.git(['commit', '-q', '-m', 'a template'])
    await alpha.chezmoi(['apply', alpha.path('.claude/host.md')])
    await syncs(alpha)
    alpha.remove('.claude/host.md')
    alpha.write('.claude/host.md/mine.md', 'mine\n')
    alpha.write('.claude/beside-template.md', 'travels\n')
    const out = await syncs(alpha)
    assert.match(out, /Not captured: \.claude\/host\.md \(it was a file made by a template in the source \(host\.md\.tmpl\)/)
    await syncs(beta)
    assert.equal(beta.read('.claude/beside-template.md'), 'travels\n')
    assert.match(beta.read('.claude/host.md'), /^made on /, "the template stays the fleet's")

    const fix = /run `(mv ~\/\.claude\/host\.md ~\/host\.md\.aside && chezmoi apply --force ~\/\.claude\/host\.md)`/.exec(out)
    assert.ok(fix, out)
    await alpha.shell(fix[1])
    await syncs(alpha)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Not captured/)
    assert.match(alpha.read('.claude/host.md'), /^made on /)
    assert.equal(alpha.read('host.md.aside/mine.md'), 'mine\n', 'what was there is kept aside')
  })
})

describe('never wedged: a name chezmoi cannot take', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-names')
    ;[alpha, beta] = fleet.machines
    alpha.write('.claude/settings.json', '{}\n')
    await alpha.addPath('.claude')
    await syncs(beta)
  })
  after(() => fleet?.remove())

  it('a 250-character name is skipped with its reason and fix, shown by status; other edits travel; renamed, it travels', async function () {
    const long = `${'x'.repeat(247)}.md`
    alpha.write(`.claude/${long}`, 'long\n')
    alpha.write('.claude/settings.json', '{"edited": true}\n')
    const out = await syncs(alpha)
    assert.match(out, /Not captured: \.claude\/x{247}\.md \(the name x+… is 250 bytes long; .*rename it to at most \d+ bytes\)/)
    assert.match((await alpha.status({json: false})).stdout, /Not captured: ~\/\.claude\/x{247}\.md/)
    assert.match(await syncs(alpha), /Not captured/, 'still skipped, every sync, without an error')
    await syncs(beta)
    assert.equal(beta.read('.claude/settings.json'), '{"edited": true}\n')
    assert.equal(beta.exists(`.claude/${long}`), false)
    await settled(beta)

    renameSync(alpha.path(`.claude/${long}`), alpha.path('.claude/short.md'))
    await syncs(alpha)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Not captured/)
    await syncs(beta)
    assert.equal(beta.read('.claude/short.md'), 'long\n')
  })

  it('a long directory name is skipped the same way, with the files in it', async function () {
    const long = 'd'.repeat(240)
    alpha.write(`.claude/${long}/inside.md`, 'inside\n')
    const out = await syncs(alpha)
    assert.match(out, new RegExp(`Not captured: \\.claude/${long} \\(the name d+… is 240 bytes long`))
    await syncs(beta)
    assert.equal(beta.exists(`.claude/${long}`), false)
    alpha.remove(`.claude/${long}`)
    await syncs(alpha)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Not captured/)
  })

  it('a name with a line break is skipped; the other machine keeps applying; renamed, it travels', async function () {
    alpha.write('.claude/two\nlines.md', 'two lines\n')
    alpha.write('.claude/plain.md', 'plain\n')
    const out = await syncs(alpha)
    assert.match(out, /Not captured: \.claude\/two\nlines\.md \(its name holds a line break, .*rename it/)
    await syncs(beta)
    assert.equal(beta.read('.claude/plain.md'), 'plain\n')
    await settled(beta)
    beta.write('.claude/from-beta.md', 'beta\n')
    await syncs(beta)
    await syncs(alpha)
    assert.equal(alpha.read('.claude/from-beta.md'), 'beta\n', 'both ways')

    renameSync(alpha.path('.claude/two\nlines.md'), alpha.path('.claude/two-lines.md'))
    await syncs(alpha)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Not captured/)
    await syncs(beta)
    assert.equal(beta.read('.claude/two-lines.md'), 'two lines\n')
  })

  it('names chezmoi reads as attributes or as its own files travel as they are', async function () {
    const names = [
      'run_x.sh',
      'dot_x',
      'create_y',
      'remove_z',
      'symlink_s',
      'literal_l',
      'exact_e',
      'x.tmpl',
      '.chezmoiignore',
      '.chezmoiremove',
      '.chezmoi.toml.tmpl',
      '.git',
      '...',
      'back\\slash',
      'tab\there',
    ]
    for (const name of names) alpha.write(`.claude/odd/${name}`, `content of ${name}\n`)
    mkdirSync(alpha.path('.claude/odd/.chezmoiscripts'), {recursive: true})
    alpha.write('.claude/odd/.chezmoiscripts/s.sh', 'echo never run\n')
    await travels(alpha, beta)
    for (const name of names) assert.equal(beta.read(`.claude/odd/${name}`), `content of ${name}\n`, name)
    assert.equal(beta.read('.claude/odd/.chezmoiscripts/s.sh'), 'echo never run\n')
    await settled(beta)

    // Edited and deleted on beta: the edit and the delete come back to alpha under the same names.
    beta.write('.claude/odd/run_x.sh', 'edited on beta\n')
    beta.remove('.claude/odd/dot_x')
    await syncs(beta)
    await syncs(alpha)
    assert.equal(alpha.read('.claude/odd/run_x.sh'), 'edited on beta\n')
    assert.equal(alpha.exists('.claude/odd/dot_x'), false)
    await settled(alpha)
  })
})

describe('never wedged: a type change on one machine while another edits the same entry', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-type-edit')
    ;[alpha, beta] = fleet.machines
    alpha.write('.claude/settings', '{"a": 1}\n')
    alpha.write('.claude/dir/one.md', 'one\n')
    alpha.write('.claude/other.md', 'other\n')
    await alpha.addPath('.claude')
    await syncs(beta)
  })
  after(() => fleet?.remove())

  it('both versions are kept: a conflict under the real path, this machine keeps its own on disk, the other machine keeps its type', async function () {
    alpha.remove('.claude/settings')
    alpha.write('.claude/settings/main.json', '{"main": true}\n')
    alpha.remove('.claude/dir')
    alpha.write('.claude/dir', 'dir now file\n')
    await syncs(alpha)

    beta.write('.claude/settings', '{"beta": 2}\n')
    beta.write('.claude/dir/one.md', 'one, edited on beta\n')
    beta.write('.claude/dir/two.md', 'two, new on beta\n')
    beta.write('.claude/other.md', 'other, edited on beta\n')
    await beta.sync({exit: 4})
    const status = (await beta.status()).result
    assert.deepEqual(status.conflicts.map((c: {path: string}) => c.path).sort(), ['.claude/dir', '.claude/settings'])
    // beta's versions are where beta's person left them.
    assert.equal(beta.read('.claude/settings'), '{"beta": 2}\n')
    assert.equal(beta.read('.claude/dir/one.md'), 'one, edited on beta\n')
    assert.equal(beta.read('.claude/dir/two.md'), 'two, new on beta\n')

    // alpha keeps its own: nothing of beta's replaced what alpha made; beta's other edit arrives.
    await alpha.sync({exit: 'any', json: false})
    assert.equal(kind(alpha, '.claude/settings'), 'dir')
    assert.equal(alpha.read('.claude/dir'), 'dir now file\n')
    assert.equal(alpha.read('.claude/other.md'), 'other, edited on beta\n')
  })

  it('resolve --theirs takes the other type (this machine’s version backed up); --mine sends this machine’s type to everyone', async function () {
    const theirs = await beta.resolve('.claude/settings', 'theirs', {exit: 4, json: false}) // one conflict is left
    assert.match(theirs.stdout, /Resolved ~\/\.claude\/settings/)
    assert.equal(beta.read('.claude/settings/main.json'), '{"main": true}\n')
    const backups = (await execa('grep', ['-rl', '"beta": 2', beta.locations.backupsDir], {reject: false})).stdout
    assert.match(backups, /settings/, 'beta’s version of settings is in a backup')

    await beta.resolve('.claude/dir', 'mine')
    await syncs(beta)
    await syncs(alpha)
    assert.equal(kind(alpha, '.claude/dir'), 'dir')
    assert.equal(alpha.read('.claude/dir/one.md'), 'one, edited on beta\n')
    assert.equal(alpha.read('.claude/dir/two.md'), 'two, new on beta\n')
    await syncs(beta)
    await settled(alpha)
    await settled(beta)
  })
})
