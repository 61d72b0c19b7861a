// Nothing is lost, whatever two machines do at once: a file deleted on one and edited on the other, a conflict
// beside mergeable edits, an approval over unpushed work, a directory deleted while another machine has files in
// it that never synced, a failed add-path beside work in progress, a secret written into a new file.
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const APP = '.config/app'
const TEN_LINES = Array.from({length: 10}, (_, i) => `line ${i}`).join('\n') + '\n'

/** Every backed-up copy of a target on a machine. */
function backups(machine: Machine, relative: string): string[] {
  const dir = machine.path('.local/state/fleet/backups')
  if (!existsSync(dir)) return []
  return readdirSync(dir).map((stamp) => join(dir, stamp, relative)).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'))
}

describe('sync safety: nothing is lost', function () {
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  let gamma: Machine

  before(async function () {
    root = makeTempDir('safety')
    forge = await Forge.create(root)
    alpha = new Machine(root, 'alpha')
    beta = new Machine(root, 'beta')
    gamma = new Machine(root, 'gamma')
    await alpha.enroll(forge.url)
    await beta.enroll(forge.url)
    await alpha.ok(['machines', 'approve', 'beta'])
    alpha.write(`${APP}/x.conf`, TEN_LINES)
    alpha.write(`${APP}/y.conf`, TEN_LINES)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.ok(['add-path', alpha.path(APP), alpha.path('.zshrc')])
    await beta.ok(['sync'])
  })
  after(() => removeTempDir(root))

  it('deleted on one machine, edited on the other: a conflict, and every machine keeps syncing', async function () {
    alpha.write('.zshrc', 'export EDITOR=nvim\n')
    await alpha.ok(['sync'])
    beta.remove('.zshrc')
    const conflicted = await beta.fleet(['sync', '--json'])
    assert.equal(conflicted.exitCode, 4, conflicted.stdout + conflicted.stderr)
    assert.deepEqual(conflicted.json().conflicts.map((c: any) => c.path), ['.zshrc'])
    // The forge holds a source chezmoi can read: alpha goes on syncing.
    alpha.write(`${APP}/x.conf`, TEN_LINES.replace('line 9', 'line 9 from alpha'))
    assert.equal((await alpha.fleet(['sync'])).exitCode, 0)
    assert.equal(alpha.read('.zshrc'), 'export EDITOR=nvim\n')
    // beta keeps its deletion until it says otherwise; then takes alpha's version back.
    assert.equal(beta.exists('.zshrc'), false)
    await beta.ok(['resolve', '.zshrc', '--theirs'])
    assert.equal(beta.read('.zshrc'), 'export EDITOR=nvim\n')
    assert.match(beta.read(`${APP}/x.conf`), /line 9 from alpha/)
  })

  it('a conflict in one file does not drop the other machine\'s edits to another file', async function () {
    await alpha.ok(['sync'])
    alpha.write(`${APP}/x.conf`, alpha.read(`${APP}/x.conf`).replace('line 0', 'line 0 by alpha'))
    alpha.write(`${APP}/y.conf`, alpha.read(`${APP}/y.conf`).replace('line 5', 'line 5 by alpha'))
    await alpha.ok(['sync'])
    beta.write(`${APP}/x.conf`, beta.read(`${APP}/x.conf`).replace('line 3', 'line 3 by beta'))
    beta.write(`${APP}/y.conf`, beta.read(`${APP}/y.conf`).replace('line 5', 'line 5 by beta'))
    const result = await beta.fleet(['sync', '--json'])
    assert.equal(result.exitCode, 4)
    assert.deepEqual(result.json().conflicts.map((c: any) => c.path), [`${APP}/y.conf`])
    // x.conf merged: both edits, in the forge and on both machines.
    const x = (await forge.show('dot_config/app/x.conf'))!
    assert.match(x, /line 0 by alpha/)
    assert.match(x, /line 3 by beta/)
    assert.equal(beta.read(`${APP}/x.conf`), x)
    await alpha.ok(['sync'])
    assert.equal(alpha.read(`${APP}/x.conf`), x)
    // y.conf: each machine keeps its own until beta resolves.
    assert.match(beta.read(`${APP}/y.conf`), /line 5 by beta/)
    assert.match(alpha.read(`${APP}/y.conf`), /line 5 by alpha/)
    await beta.ok(['resolve', `${APP}/y.conf`, '--mine'])
    await alpha.ok(['sync'])
    assert.match(alpha.read(`${APP}/y.conf`), /line 5 by beta/)
  })

  it('approving a machine never loses an edit that was not pushed yet', async function () {
    await beta.ok(['sync'])
    alpha.write(`${APP}/x.conf`, alpha.read(`${APP}/x.conf`).replace('line 7', 'line 7 offline on alpha'))
    renameSync(forge.path, `${forge.path}.down`)
    try {
      assert.equal((await alpha.fleet(['sync'])).exitCode, 3)
    } finally {
      renameSync(`${forge.path}.down`, forge.path)
    }
    beta.write(`${APP}/x.conf`, beta.read(`${APP}/x.conf`).replace('line 7', 'line 7 from beta'))
    await beta.ok(['sync'])
    await gamma.enroll(forge.url)
    const approved = await alpha.fleet(['machines', 'approve', 'gamma'])
    assert.equal(approved.exitCode, 0, approved.stdout + approved.stderr)
    // alpha's edit is still in its file, and recorded as a conflict rather than overwritten.
    assert.match(alpha.read(`${APP}/x.conf`), /line 7 offline on alpha/)
    const status = (await alpha.ok(['status', '--json'])).json()
    assert.deepEqual(status.conflicts.map((c: any) => c.path), [`${APP}/x.conf`])
    await alpha.fleet(['sync'])
    assert.match(alpha.read(`${APP}/x.conf`), /line 7 offline on alpha/, 'a later sync does not overwrite it either')
    await alpha.ok(['resolve', `${APP}/x.conf`, '--mine'])
  })

  it('a directory deleted on one machine: the other backs up what it holds that never synced, then removes it', async function () {
    await beta.ok(['sync'])
    alpha.write(`${APP}/cache/a.txt`, 'a\n')
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    beta.write(`${APP}/cache/api_token`, 'api_token = Zq8Wx2Ec4Rv6Tb8Yn1Um\n') // capture holds it back: it looks like a secret
    alpha.remove(`${APP}/cache`)
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    assert.equal(beta.exists(`${APP}/cache`), false)
    assert.deepEqual(backups(beta, `${APP}/cache/api_token`), ['api_token = Zq8Wx2Ec4Rv6Tb8Yn1Um\n'])
    assert.ok(!(await forge.files()).some((f) => f.includes('api_token')), 'the secret-looking file never reached the forge')
  })

  it('a directory deleted on one machine while the other creates a file in it: the new file is kept everywhere', async function () {
    alpha.write(`${APP}/logs/old.txt`, 'old\n')
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    alpha.remove(`${APP}/logs`)
    await alpha.ok(['sync'])
    beta.write(`${APP}/logs/new.txt`, 'written on beta meanwhile\n')
    const result = await beta.fleet(['sync'])
    assert.equal(result.exitCode, 0, result.stdout + result.stderr)
    assert.equal(beta.read(`${APP}/logs/new.txt`), 'written on beta meanwhile\n')
    assert.equal((await alpha.fleet(['sync'])).exitCode, 0, 'the source stays readable for every machine')
    assert.equal(alpha.read(`${APP}/logs/new.txt`), 'written on beta meanwhile\n')
  })

  it('a secret written into a new file of a plain managed directory is not committed', async function () {
    const token = `ghp_${'A1b2C3d4'.repeat(5)}`
    alpha.write(`${APP}/hosts.yml`, `github.com:\n  oauth_token: ${token}\n`)
    const result = (await alpha.ok(['sync', '--json'])).json()
    assert.ok(result.heldBack.some((h: any) => h.path === `${APP}/hosts.yml`))
    for (const blob of await forge.allBlobs()) assert.ok(!blob.content.includes(token))
  })

  it('add-path refuses a file whose content looks like a secret; a failed add-path leaves work in progress alone', async function () {
    writeFileSync(join(alpha.sourceDir, 'dot_work-in-progress.tmpl'), '{{ .chezmoi.hostname }}\n')
    alpha.write('.aws-notes', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n')
    const refused = await alpha.fleet(['add-path', alpha.path('.aws-notes')])
    assert.equal(refused.exitCode, 2, refused.stdout + refused.stderr)
    assert.match(refused.stderr, /looks like it holds secrets/)

    // chezmoi failing halfway through an add (a stand-in that fails on `add` and runs the real chezmoi otherwise).
    const failing = join(root, 'chezmoi-failing-add')
    writeFileSync(failing, '#!/bin/sh\nfor a in "$@"; do [ "$a" = add ] && { echo "chezmoi: simulated failure" >&2; exit 1; }; done\nexec chezmoi "$@"\n', {mode: 0o755})
    alpha.write('.inputrc', 'set editing-mode vi\n')
    const manifest = readFileSync(join(alpha.sourceDir, '.chezmoidata/fleet.yaml'), 'utf8')
    const failed = await alpha.fleet(['add-path', alpha.path('.inputrc')], {env: {FLEET_CHEZMOI: failing}})
    assert.equal(failed.exitCode, 1, failed.stdout + failed.stderr)
    assert.match(failed.stderr, /simulated failure/)
    assert.ok(existsSync(join(alpha.sourceDir, 'dot_work-in-progress.tmpl')), 'the uncommitted template is still there')
    assert.equal(readFileSync(join(alpha.sourceDir, '.chezmoidata/fleet.yaml'), 'utf8'), manifest, 'the manifest is as it was')
    const paths = (await alpha.ok(['paths', '--json'])).json().paths.map((p: any) => p.path)
    assert.ok(!paths.includes('.aws-notes') && !paths.includes('.inputrc'))
  })
})
