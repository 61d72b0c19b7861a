// Nothing is lost, whatever two machines do at once: a file deleted on one and edited on the other, a conflict
// beside mergeable edits, an approval over unpushed work, a directory deleted while another machine has files in
// it that never synced, a failed add-path beside work in progress, a secret written into a new file.
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

const APP = '.config/app'
const TEN_LINES = Array.from({length: 10}, (_, i) => `line ${i}`).join('\n') + '\n'

/** Every backed-up copy of a target on a machine. */
function backups(machine: Machine, relative: string): string[] {
  const dir = machine.locations.backupsDir
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .map((stamp) => join(dir, stamp, relative))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8'))
}

describe('sync safety: nothing is lost', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  let gamma: Machine

  before(async function () {
    fleet = await TestFleet.start('safety', {machines: ['alpha', 'beta', 'gamma'], joined: 2})
    ;({
      forge,
      machines: [alpha, beta, gamma],
    } = fleet)
    alpha.write(`${APP}/x.conf`, TEN_LINES)
    alpha.write(`${APP}/y.conf`, TEN_LINES)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath([APP, '.zshrc'])
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('deleted on one machine, edited on the other: a conflict, and every machine keeps syncing', async function () {
    alpha.write('.zshrc', 'export EDITOR=nvim\n')
    await alpha.sync()
    beta.remove('.zshrc')
    const conflicted = await beta.sync({exit: 4})
    assert.deepEqual(
      conflicted.result.conflicts.map((c) => c.path),
      ['.zshrc'],
    )
    // The forge holds a source chezmoi can read: alpha goes on syncing.
    alpha.write(`${APP}/x.conf`, TEN_LINES.replace('line 9', 'line 9 from alpha'))
    await alpha.sync()
    assert.equal(alpha.read('.zshrc'), 'export EDITOR=nvim\n')
    // beta keeps its deletion until it says otherwise; then takes alpha's version back.
    assert.equal(beta.exists('.zshrc'), false)
    await beta.resolve('.zshrc', 'theirs')
    assert.equal(beta.read('.zshrc'), 'export EDITOR=nvim\n')
    assert.match(beta.read(`${APP}/x.conf`), /line 9 from alpha/)
  })

  it("edited here, deleted on the other: keeping this machine's version brings the edit back everywhere", async function () {
    alpha.write(`${APP}/run.sh`, '#!/bin/sh\necho one\n', 0o755)
    await alpha.sync()
    await beta.sync()
    alpha.remove(`${APP}/run.sh`)
    await alpha.sync()
    beta.write(`${APP}/run.sh`, '#!/bin/sh\necho beta\n', 0o755)
    const conflicted = await beta.sync({exit: 4})
    assert.deepEqual(
      conflicted.result.conflicts.map((c) => c.path),
      [`${APP}/run.sh`],
    )
    assert.equal(beta.read(`${APP}/run.sh`), '#!/bin/sh\necho beta\n', 'the edit stays on disk while in conflict')
    await beta.resolve(`${APP}/run.sh`, 'mine')
    assert.equal(beta.read(`${APP}/run.sh`), '#!/bin/sh\necho beta\n', 'keeping mine keeps the edit here')
    await alpha.sync()
    assert.equal(alpha.read(`${APP}/run.sh`), '#!/bin/sh\necho beta\n', 'and brings it back to the machine that deleted it')
    await beta.sync()
    assert.equal(beta.read(`${APP}/run.sh`), '#!/bin/sh\necho beta\n')
  })

  it("a conflict in one file does not drop the other machine's edits to another file", async function () {
    await alpha.sync()
    alpha.edit(`${APP}/x.conf`, (text) => text.replace('line 0', 'line 0 by alpha'))
    alpha.edit(`${APP}/y.conf`, (text) => text.replace('line 5', 'line 5 by alpha'))
    await alpha.sync()
    beta.edit(`${APP}/x.conf`, (text) => text.replace('line 3', 'line 3 by beta'))
    beta.edit(`${APP}/y.conf`, (text) => text.replace('line 5', 'line 5 by beta'))
    const result = await beta.sync({exit: 4})
    assert.deepEqual(
      result.result.conflicts.map((c) => c.path),
      [`${APP}/y.conf`],
    )
    // x.conf merged: both edits, in the forge and on both machines.
    const x = (await forge.show('dot_config/app/x.conf'))!
    assert.match(x, /line 0 by alpha/)
    assert.match(x, /line 3 by beta/)
    assert.equal(beta.read(`${APP}/x.conf`), x)
    await alpha.sync()
    assert.equal(alpha.read(`${APP}/x.conf`), x)
    // y.conf: each machine keeps its own until beta resolves.
    assert.match(beta.read(`${APP}/y.conf`), /line 5 by beta/)
    assert.match(alpha.read(`${APP}/y.conf`), /line 5 by alpha/)
    await beta.resolve(`${APP}/y.conf`, 'mine')
    await alpha.sync()
    assert.match(alpha.read(`${APP}/y.conf`), /line 5 by beta/)
  })

  it('approving a machine never loses an edit that was not pushed yet', async function () {
    await beta.sync()
    alpha.edit(`${APP}/x.conf`, (text) => text.replace('line 7', 'line 7 offline on alpha'))
    renameSync(forge.path, `${forge.path}.down`)
    try {
      await alpha.sync({exit: 3})
    } finally {
      renameSync(`${forge.path}.down`, forge.path)
    }
    beta.edit(`${APP}/x.conf`, (text) => text.replace('line 7', 'line 7 from beta'))
    await beta.sync()
    await gamma.enroll(fleet.url)
    await alpha.approve('gamma')
    // alpha's edit is still in its file, and recorded as a conflict rather than overwritten.
    assert.match(alpha.read(`${APP}/x.conf`), /line 7 offline on alpha/)
    const status = (await alpha.status()).result
    assert.deepEqual(
      status.conflicts.map((c) => c.path),
      [`${APP}/x.conf`],
    )
    await alpha.sync({exit: 'any'})
    assert.match(alpha.read(`${APP}/x.conf`), /line 7 offline on alpha/, 'a later sync does not overwrite it either')
    await alpha.resolve(`${APP}/x.conf`, 'mine')
  })

  it('a directory deleted on one machine: the other backs up what it holds that never synced, then removes it', async function () {
    await beta.sync()
    alpha.write(`${APP}/cache/a.txt`, 'a\n')
    await alpha.sync()
    await beta.sync()
    beta.write(`${APP}/cache/api_token`, 'api_token = Zq8Wx2Ec4Rv6Tb8Yn1Um\n') // capture holds it back: it looks like a secret
    alpha.remove(`${APP}/cache`)
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.exists(`${APP}/cache`), false)
    assert.deepEqual(backups(beta, `${APP}/cache/api_token`), ['api_token = Zq8Wx2Ec4Rv6Tb8Yn1Um\n'])
    assert.ok(!(await forge.files()).some((f) => f.includes('api_token')), 'the secret-looking file never reached the forge')
  })

  it('a directory deleted on one machine while the other creates a file in it: the new file is kept everywhere', async function () {
    alpha.write(`${APP}/logs/old.txt`, 'old\n')
    await alpha.sync()
    await beta.sync()
    alpha.remove(`${APP}/logs`)
    await alpha.sync()
    beta.write(`${APP}/logs/new.txt`, 'written on beta meanwhile\n')
    await beta.sync()
    assert.equal(beta.read(`${APP}/logs/new.txt`), 'written on beta meanwhile\n')
    await alpha.sync() // the source stays readable for every machine
    assert.equal(alpha.read(`${APP}/logs/new.txt`), 'written on beta meanwhile\n')
  })

  it('a secret written into a new file of a plain managed directory is not committed', async function () {
    const token = `ghp_${'A1b2C3d4'.repeat(5)}`
    alpha.write(`${APP}/hosts.yml`, `github.com:\n  oauth_token: ${token}\n`)
    const result = (await alpha.sync()).result
    assert.ok(result.heldBack.some((h) => h.path === `${APP}/hosts.yml`))
    for (const blob of await forge.allBlobs()) assert.ok(!blob.content.includes(token))
  })

  it('add-path refuses a file whose content looks like a secret; a failed add-path leaves work in progress alone', async function () {
    writeFileSync(join(alpha.sourceDir, 'dot_work-in-progress.tmpl'), '{{ .chezmoi.hostname }}\n')
    alpha.write('.aws-notes', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n')
    const refused = await alpha.addPath('.aws-notes', {exit: 2, json: false})
    assert.match(refused.stderr, /looks like it holds secrets/)

    // chezmoi failing halfway through an add (a stand-in that fails on `add` and runs the real chezmoi otherwise).
    const failing = join(fleet.root, 'chezmoi-failing-add')
    writeFileSync(failing, '#!/bin/sh\nfor a in "$@"; do [ "$a" = add ] && { echo "chezmoi: simulated failure" >&2; exit 1; }; done\nexec chezmoi "$@"\n', {
      mode: 0o755,
    })
    alpha.write('.inputrc', 'set editing-mode vi\n')
    const manifest = readFileSync(alpha.manifestFile, 'utf8')
    const failed = await alpha.addPath('.inputrc', {exit: 1, json: false, env: {FLEET_CHEZMOI: failing}})
    assert.match(failed.stderr, /simulated failure/)
    assert.ok(existsSync(join(alpha.sourceDir, 'dot_work-in-progress.tmpl')), 'the uncommitted template is still there')
    assert.equal(readFileSync(alpha.manifestFile, 'utf8'), manifest, 'the manifest is as it was')
    const paths = (await alpha.paths()).result.paths.map((p) => p.path)
    assert.ok(!paths.includes('.aws-notes') && !paths.includes('.inputrc'))
  })
})
