// Managed paths and `fleet sync` between machines: edits travel both ways, deletes propagate, conflicts keep both
// versions, and strange file names travel byte for byte without anything in them being run.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const APP = '.config/app'

/** Two active machines on one forge, with ~/.config/app managed. */
async function twoMachines(prefix: string) {
  const root = makeTempDir(prefix)
  const forge = await Forge.create(root)
  const alpha = new Machine(root, 'alpha')
  const beta = new Machine(root, 'beta')
  await alpha.enroll(forge.url)
  await beta.enroll(forge.url)
  await alpha.ok(['machines', 'approve', 'beta'])
  alpha.write(`${APP}/settings.conf`, 'colour = blue\nsize = 12\n\n\n\nfont = mono\n')
  await alpha.ok(['add-path', alpha.path(APP)])
  await beta.ok(['sync'])
  return {root, forge, alpha, beta}
}

describe('sync: edits travel both ways', function () {
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({root, forge, alpha, beta} = await twoMachines('sync'))
  })
  after(() => removeTempDir(root))

  it('a path added on one machine arrives on the other', async function () {
    assert.equal(beta.read(`${APP}/settings.conf`), alpha.read(`${APP}/settings.conf`))
    const paths = (await beta.ok(['paths', '--json'])).json()
    assert.ok(paths.paths.some((p: any) => p.path === APP && p.state === 'in sync'))
  })

  it('an edit on beta travels back to alpha', async function () {
    beta.write(`${APP}/settings.conf`, beta.read(`${APP}/settings.conf`).replace('size = 12', 'size = 14'))
    const result = (await beta.ok(['sync', '--json'])).json()
    assert.deepEqual(result.captured, [`${APP}/settings.conf`])
    assert.equal(result.pushed, 1)
    await alpha.ok(['sync'])
    assert.match(alpha.read(`${APP}/settings.conf`), /size = 14/)
  })

  it('a new file inside a managed directory travels, and so does a delete', async function () {
    alpha.write(`${APP}/themes/dark.conf`, 'background = black\n')
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    assert.equal(beta.read(`${APP}/themes/dark.conf`), 'background = black\n')

    beta.remove(`${APP}/themes/dark.conf`)
    const deleted = (await beta.ok(['sync', '--json'])).json()
    assert.deepEqual(deleted.captured, [`${APP}/themes/dark.conf`])
    await alpha.ok(['sync'])
    assert.equal(alpha.exists(`${APP}/themes/dark.conf`), false)

    // Created again later: it comes back everywhere.
    alpha.write(`${APP}/themes/dark.conf`, 'background = navy\n')
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    assert.equal(beta.read(`${APP}/themes/dark.conf`), 'background = navy\n')
  })

  it('an edit not synced yet survives an incoming change to another part of the same file', async function () {
    alpha.write(`${APP}/settings.conf`, alpha.read(`${APP}/settings.conf`).replace('colour = blue', 'colour = green'))
    await alpha.ok(['sync'])
    // beta edits the other end of the file before it has synced.
    beta.write(`${APP}/settings.conf`, beta.read(`${APP}/settings.conf`).replace('font = mono', 'font = serif'))
    await beta.ok(['sync'])
    const merged = beta.read(`${APP}/settings.conf`)
    assert.match(merged, /colour = green/)
    assert.match(merged, /font = serif/)
    await alpha.ok(['sync'])
    assert.equal(alpha.read(`${APP}/settings.conf`), merged)
  })

  it('paths added on two machines at once both end up managed (the manifest merges by meaning)', async function () {
    alpha.write('.config/one/a.conf', 'one\n')
    beta.write('.config/two/b.conf', 'two\n')
    await alpha.ok(['add-path', alpha.path('.config/one')])
    // beta has not synced since: its add-path commit and alpha's touch the same lines of the manifest.
    const added = (await beta.ok(['add-path', beta.path('.config/two'), '--json'])).json()
    assert.equal(added.sync.outcome, 'ok')
    await alpha.ok(['sync'])
    for (const machine of [alpha, beta]) {
      const paths = (await machine.ok(['paths', '--json'])).json().paths.map((p: any) => p.path)
      assert.ok(paths.includes('.config/one') && paths.includes('.config/two'), `${machine.name}: ${paths}`)
      assert.equal(machine.read('.config/one/a.conf'), 'one\n')
      assert.equal(machine.read('.config/two/b.conf'), 'two\n')
    }
  })

  it('the quick path: nothing changed anywhere, one round trip, nothing committed', async function () {
    await alpha.ok(['sync'])
    const head = await forge.head()
    const result = (await alpha.ok(['sync', '--json'])).json()
    assert.equal(result.outcome, 'quick')
    assert.equal(await forge.head(), head)
  })

  it('status and the sync log report the last sync', async function () {
    const status = (await alpha.ok(['status', '--json'])).json()
    assert.equal(status.machine, 'alpha')
    assert.equal(status.ahead, 0)
    assert.deepEqual(status.conflicts, [])
    assert.ok(['ok', 'quick'].includes(status.lastSync.outcome))
    const log = readFileSync(alpha.path('.local/state/fleet/log/sync.jsonl'), 'utf8').trim().split('\n')
    assert.ok(log.length >= 3)
    for (const line of log) assert.ok(JSON.parse(line).machine === 'alpha')
  })

  it('remove-path stops syncing fleet-wide and leaves the files on every machine', async function () {
    alpha.write('.vimrc', 'set number\n')
    await alpha.ok(['add-path', alpha.path('.vimrc')])
    await beta.ok(['sync'])
    assert.equal(beta.read('.vimrc'), 'set number\n')
    await beta.ok(['remove-path', beta.path('.vimrc')])
    await alpha.ok(['sync'])
    assert.equal(alpha.read('.vimrc'), 'set number\n')
    assert.equal(beta.read('.vimrc'), 'set number\n')
    alpha.write('.vimrc', 'set nonumber\n')
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    assert.equal(beta.read('.vimrc'), 'set number\n', 'no longer synced')
    const paths = (await alpha.ok(['paths', '--json'])).json().paths.map((p: any) => p.path)
    assert.ok(!paths.includes('.vimrc'))
  })
})

describe('sync: conflicts keep both versions until a person resolves them', function () {
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({root, forge, alpha, beta} = await twoMachines('conflict'))
  })
  after(() => removeTempDir(root))

  async function sameLineConflict(alphaValue: string, betaValue: string) {
    alpha.write(`${APP}/settings.conf`, alpha.read(`${APP}/settings.conf`).replace(/size = \d+/, `size = ${alphaValue}`))
    await alpha.ok(['sync'])
    beta.write(`${APP}/settings.conf`, beta.read(`${APP}/settings.conf`).replace(/size = \d+/, `size = ${betaValue}`))
    return beta.fleet(['sync', '--json'])
  }

  it('the same line changed on two machines: exit 4, beta keeps its version, both are reachable', async function () {
    const result = await sameLineConflict('20', '30')
    assert.equal(result.exitCode, 4)
    const report = result.json()
    assert.equal(report.outcome, 'conflict')
    assert.deepEqual(report.conflicts.map((c: any) => c.path), [`${APP}/settings.conf`])
    assert.match(beta.read(`${APP}/settings.conf`), /size = 30/, "beta's own version stays in its file")
    assert.match((await forge.show('dot_config/app/settings.conf'))!, /size = 20/, "the forge keeps alpha's")
    const parked = report.conflicts[0].parkedBranch
    assert.match(await beta.git(['show', `${parked}:dot_config/app/settings.conf`]), /size = 30/, "beta's commit is kept on the parked branch")
    assert.equal(existsSync(join(beta.sourceDir, '.git/rebase-merge')), false, 'never left mid-rebase')

    // Still in conflict: another sync neither overwrites nor captures the file, and exits 4 again.
    const again = await beta.fleet(['sync'])
    assert.equal(again.exitCode, 4)
    assert.match(beta.read(`${APP}/settings.conf`), /size = 30/)
    const status = (await beta.ok(['status', '--json'])).json()
    assert.deepEqual(status.conflicts.map((c: any) => c.path), [`${APP}/settings.conf`])
  })

  it('resolve --mine: beta\'s version becomes the fleet\'s', async function () {
    await beta.ok(['resolve', `~/${APP}/settings.conf`, '--mine'])
    await alpha.ok(['sync'])
    assert.match(alpha.read(`${APP}/settings.conf`), /size = 30/)
    assert.deepEqual((await beta.ok(['status', '--json'])).json().conflicts, [])
  })

  it('resolve --theirs: beta takes the fleet\'s version and its own is backed up', async function () {
    const result = await sameLineConflict('40', '50')
    assert.equal(result.exitCode, 4)
    const resolved = await beta.ok(['resolve', beta.path(`${APP}/settings.conf`), '--theirs', '--json'])
    assert.equal(resolved.json().side, 'theirs')
    assert.match(beta.read(`${APP}/settings.conf`), /size = 40/)
    const backups = join(beta.home, '.local/state/fleet/backups')
    const saved = readdirSync(backups).map((d) => join(backups, d, APP, 'settings.conf')).filter((f) => existsSync(f))
    assert.ok(saved.some((f) => /size = 50/.test(readFileSync(f, 'utf8'))), 'beta\'s version was backed up')
    const next = await beta.fleet(['sync'])
    assert.equal(next.exitCode, 0)
  })

  it('resolve without --mine/--theirs and without a terminal names the flags (exit 2)', async function () {
    const result = await beta.fleet(['resolve', `${APP}/settings.conf`])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /--mine or --theirs/)
  })
})

describe('sync: file names and encrypted paths', function () {
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({root, forge, alpha, beta} = await twoMachines('names'))
  })
  after(() => removeTempDir(root))

  const strange = `we"ird 'quo\`ted' $(touch PWNED) &<>|; é ü 日本.txt`
  const content = Buffer.from(`$(touch PWNED_CONTENT)\n\`touch PWNED_TICK\`\nbytes: \u00e9\u65e5\r\n\u0000end`, 'utf8')

  it('a path with spaces, quotes, $(), &<> and non-ASCII letters travels byte for byte; nothing is executed', async function () {
    alpha.write(`${APP}/${strange}`, content)
    const dir = `.config/dir with space & $(id)`
    alpha.write(`${dir}/ä.conf`, 'x\n')
    await alpha.ok(['add-path', alpha.path(dir)])
    await beta.ok(['sync'])
    assert.deepEqual(readFileSync(beta.path(`${APP}/${strange}`)), content)
    assert.equal(beta.read(`${dir}/ä.conf`), 'x\n')

    beta.write(`${APP}/${strange}`, Buffer.concat([content, Buffer.from('\nmore')]))
    await beta.ok(['sync'])
    await alpha.ok(['sync'])
    assert.deepEqual(readFileSync(alpha.path(`${APP}/${strange}`)), Buffer.concat([content, Buffer.from('\nmore')]))
    for (const machine of [alpha, beta]) {
      for (const dirToCheck of [machine.home, machine.sourceDir, join(machine.home, APP)]) {
        assert.deepEqual(readdirSync(dirToCheck).filter((f) => f.startsWith('PWNED')), [], `nothing ran in ${dirToCheck}`)
      }
    }
  })

  it('an encrypted path is ciphertext in every commit of the forge and plain text on the machines', async function () {
    const secret = 'TOKEN=sk-live-4f9a8b7c6d5e'
    alpha.write('.netrc', `machine example.com login me password ${secret}\n`, 0o600)
    const refused = await alpha.fleet(['add-path', alpha.path('.netrc')])
    assert.equal(refused.exitCode, 2)
    assert.match(refused.stderr, /--encrypt/)
    await alpha.ok(['add-path', '--encrypt', alpha.path('.netrc')])
    await beta.ok(['sync'])
    assert.match(beta.read('.netrc'), new RegExp(secret))
    beta.write('.netrc', `${beta.read('.netrc')}machine other.example login you password ${secret}-2\n`)
    await beta.ok(['sync'])
    await alpha.ok(['sync'])
    assert.match(alpha.read('.netrc'), /other\.example/)

    const blobs = await forge.allBlobs()
    assert.ok(blobs.some((b) => b.path.endsWith('.age')))
    for (const blob of blobs) assert.ok(!blob.content.includes(secret), `plain text secret in ${blob.commit}:${blob.path}`)
    for (const machine of [alpha, beta]) {
      const logs = readFileSync(machine.path('.local/state/fleet/log/sync.jsonl'), 'utf8')
      assert.ok(!logs.includes(secret), 'no secret in the sync log')
    }
  })

  it('an encrypted file added with mode 0644 lands decrypted with mode 0600 on every machine', async function () {
    alpha.write('.config/app-token', 'token for the app\n', 0o644)
    await alpha.ok(['add-path', '--encrypt', alpha.path('.config/app-token')])
    await alpha.ok(['sync'])
    await beta.ok(['sync'])
    assert.equal(beta.read('.config/app-token'), 'token for the app\n')
    assert.equal(beta.mode('.config/app-token'), 0o600, 'private on the machine that receives it')
    assert.equal(alpha.mode('.config/app-token'), 0o600, 'and on the machine that added it')
    assert.ok((await forge.files()).includes('dot_config/encrypted_private_app-token.age'), (await forge.files()).join(', '))
    // An edit keeps it private and travels.
    beta.write('.config/app-token', 'token for the app, rotated\n')
    await beta.ok(['sync'])
    await alpha.ok(['sync'])
    assert.equal(alpha.read('.config/app-token'), 'token for the app, rotated\n')
    assert.equal(alpha.mode('.config/app-token'), 0o600)
  })
})

describe('add-path: refusals, merges and --dry-run', function () {
  let root: string
  let forge: Forge
  let alpha: Machine
  before(async function () {
    root = makeTempDir('addpath')
    forge = await Forge.create(root)
    alpha = new Machine(root, 'alpha')
    await alpha.enroll(forge.url)
  })
  after(() => removeTempDir(root))

  async function refused(args: string[], pattern: RegExp) {
    const result = await alpha.fleet(['add-path', ...args])
    assert.equal(result.exitCode, 2, `${result.stdout}${result.stderr}`)
    assert.match(result.stderr, pattern)
    assert.match(result.stderr, /Fix: /)
  }

  it('--dry-run prints the plan and changes nothing', async function () {
    alpha.write('.config/editor/init.lua', 'vim.o.number = true\n')
    const head = await forge.head()
    const manifest = readFileSync(join(alpha.sourceDir, '.chezmoidata/fleet.yaml'), 'utf8')
    const sourceFiles = await alpha.git(['ls-files'])
    const result = await alpha.ok(['add-path', '--dry-run', alpha.path('.config/editor')])
    assert.match(result.stdout, /Would add ~\/\.config\/editor/)
    assert.equal(await forge.head(), head)
    assert.equal(readFileSync(join(alpha.sourceDir, '.chezmoidata/fleet.yaml'), 'utf8'), manifest)
    assert.equal(await alpha.git(['ls-files']), sourceFiles)
    assert.equal((await alpha.git(['status', '--porcelain'])).trim(), '')
  })

  it('refuses what it must, each with its fix', async function () {
    await refused(['/etc/hostname'], /not inside your home directory/)
    await refused([alpha.path('nope.txt')], /does not exist/)
    await refused([alpha.path('.local/share/chezmoi/.chezmoiignore')], /source repo/)
    await refused([alpha.path('.config/fleet')], /private key/)
    await refused([alpha.path('.config')], /holds/)
    await refused([alpha.path('.config/fleet/secrets.env')], /already managed|source repo|fleet's own/)
    alpha.write('.aws/credentials', '[default]\naws_secret_access_key = Zx8Kq2Lm9Np4Rs7Tv1Wy3Ab6Cd0Ef5Gh8Ij2Kl4m\n')
    await refused([alpha.path('.aws')], /looks like it holds secrets/)
    for (let i = 0; i < 1005; i++) alpha.write(`big/f${i}.txt`, 'x')
    await refused([alpha.path('big')], /is large/)
  })

  it('a path inside a managed one is refused; a directory around one is merged', async function () {
    await alpha.ok(['add-path', alpha.path('.config/editor/init.lua')])
    alpha.write('.config/editor/lua/plugins.lua', 'return {}\n')
    await refused([alpha.path('.config/editor/init.lua')], /already managed/)
    const merged = await alpha.ok(['add-path', alpha.path('.config/editor')])
    assert.match(merged.stdout, /was managed on its own: it is now part of ~\/\.config\/editor/)
    await refused([alpha.path('.config/editor/lua')], /already synced as part of/)
    const paths = (await alpha.ok(['paths', '--json'])).json().paths.map((p: any) => p.path)
    assert.ok(paths.includes('.config/editor') && !paths.includes('.config/editor/init.lua'))
    assert.ok((await forge.files()).includes('dot_config/editor/lua/plugins.lua'))
  })

  it('warns about macOS protected folders', async function () {
    alpha.write('Documents/notes.md', '# notes\n')
    const result = await alpha.ok(['add-path', alpha.path('Documents/notes.md')])
    assert.match(result.stderr, /Full Disk Access/)
  })
})
