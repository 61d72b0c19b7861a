// Managed paths and `fleet sync` between machines: edits travel both ways, deletes propagate, conflicts keep both
// versions, and strange file names travel byte for byte without anything in them being run.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

const APP = '.config/app'

/** ~/.config/app, managed on alpha and synced to beta. */
async function manageApp(fleet: TestFleet): Promise<void> {
  const [alpha, beta] = fleet.machines
  alpha.write(`${APP}/settings.conf`, 'colour = blue\nsize = 12\n\n\n\nfont = mono\n')
  await alpha.addPath(APP)
  await beta.sync()
}

/** Two active machines on one forge, with ~/.config/app managed (set up once, then put back as it was: see TestFleet). */
async function twoMachines(prefix: string) {
  const fleet = await TestFleet.start(prefix, {prepare: manageApp})
  const [alpha, beta] = fleet.machines
  return {fleet, forge: fleet.forge, alpha, beta}
}

describe('sync: edits travel both ways', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({fleet, forge, alpha, beta} = await twoMachines('sync'))
  })
  after(() => fleet?.remove())

  it('a path added on one machine arrives on the other', async function () {
    assert.equal(beta.read(`${APP}/settings.conf`), alpha.read(`${APP}/settings.conf`))
    const paths = (await beta.paths()).result
    assert.ok(paths.paths.some((p) => p.path === APP && p.state === 'in sync'))
  })

  it('an edit on beta travels back to alpha', async function () {
    beta.edit(`${APP}/settings.conf`, (text) => text.replace('size = 12', 'size = 14'))
    const result = (await beta.sync()).result
    assert.deepEqual(result.captured, [`${APP}/settings.conf`])
    assert.equal(result.pushed, 1)
    await alpha.sync()
    assert.match(alpha.read(`${APP}/settings.conf`), /size = 14/)
  })

  it('a new file inside a managed directory travels, and so does a delete', async function () {
    alpha.write(`${APP}/themes/dark.conf`, 'background = black\n')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read(`${APP}/themes/dark.conf`), 'background = black\n')

    beta.remove(`${APP}/themes/dark.conf`)
    const deleted = (await beta.sync()).result
    assert.deepEqual(deleted.captured, [`${APP}/themes/dark.conf`])
    await alpha.sync()
    assert.equal(alpha.exists(`${APP}/themes/dark.conf`), false)

    // Created again later: it comes back everywhere.
    alpha.write(`${APP}/themes/dark.conf`, 'background = navy\n')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read(`${APP}/themes/dark.conf`), 'background = navy\n')
  })

  it('an edit not synced yet survives an incoming change to another part of the same file', async function () {
    alpha.edit(`${APP}/settings.conf`, (text) => text.replace('colour = blue', 'colour = green'))
    await alpha.sync()
    // beta edits the other end of the file before it has synced.
    beta.edit(`${APP}/settings.conf`, (text) => text.replace('font = mono', 'font = serif'))
    await beta.sync()
    const merged = beta.read(`${APP}/settings.conf`)
    assert.match(merged, /colour = green/)
    assert.match(merged, /font = serif/)
    await alpha.sync()
    assert.equal(alpha.read(`${APP}/settings.conf`), merged)
  })

  it('paths added on two machines at once both end up managed (the manifest merges by meaning)', async function () {
    alpha.write('.config/one/a.conf', 'one\n')
    beta.write('.config/two/b.conf', 'two\n')
    await alpha.addPath('.config/one')
    // beta has not synced since: its add-path commit and alpha's touch the same lines of the manifest.
    const added = (await beta.addPath('.config/two')).result
    assert.equal(added.sync?.outcome, 'ok')
    await alpha.sync()
    for (const machine of [alpha, beta]) {
      const paths = (await machine.paths()).result.paths.map((p) => p.path)
      assert.ok(paths.includes('.config/one') && paths.includes('.config/two'), `${machine.name}: ${paths.join(', ')}`)
      assert.equal(machine.read('.config/one/a.conf'), 'one\n')
      assert.equal(machine.read('.config/two/b.conf'), 'two\n')
    }
  })

  it('the quick path: nothing changed anywhere, one round trip, nothing committed', async function () {
    await alpha.sync()
    const head = await forge.head()
    const result = (await alpha.sync()).result
    assert.equal(result.outcome, 'quick')
    assert.equal(await forge.head(), head)
  })

  it('status and the sync log report the last sync', async function () {
    const status = (await alpha.status()).result
    assert.equal(status.machine, 'alpha')
    assert.equal(status.ahead, 0)
    assert.deepEqual(status.conflicts, [])
    assert.ok(['ok', 'quick'].includes(status.lastSync!.outcome))
    const log = readFileSync(alpha.syncFiles.log, 'utf8').trim().split('\n')
    assert.ok(log.length >= 3)
    for (const line of log) assert.ok(JSON.parse(line).machine === 'alpha')
  })

  it('remove-path stops syncing fleet-wide and leaves the files on every machine', async function () {
    alpha.write('.vimrc', 'set number\n')
    await alpha.addPath('.vimrc')
    await beta.sync()
    assert.equal(beta.read('.vimrc'), 'set number\n')
    await beta.removePath('.vimrc')
    await alpha.sync()
    assert.equal(alpha.read('.vimrc'), 'set number\n')
    assert.equal(beta.read('.vimrc'), 'set number\n')
    alpha.write('.vimrc', 'set nonumber\n')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('.vimrc'), 'set number\n', 'no longer synced')
    const paths = (await alpha.paths()).result.paths.map((p) => p.path)
    assert.ok(!paths.includes('.vimrc'))
  })
})

describe('sync: conflicts keep both versions until a person resolves them', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({fleet, forge, alpha, beta} = await twoMachines('conflict'))
  })
  after(() => fleet?.remove())

  /** alpha and beta change the same line: beta's sync ends in a conflict (exit 4). */
  async function sameLineConflict(alphaValue: string, betaValue: string) {
    alpha.edit(`${APP}/settings.conf`, (text) => text.replace(/size = \d+/, `size = ${alphaValue}`))
    await alpha.sync()
    beta.edit(`${APP}/settings.conf`, (text) => text.replace(/size = \d+/, `size = ${betaValue}`))
    return beta.sync({exit: 4})
  }

  it('the same line changed on two machines: exit 4, beta keeps its version, both are reachable', async function () {
    const result = await sameLineConflict('20', '30')
    const report = result.result
    assert.equal(report.outcome, 'conflict')
    assert.deepEqual(
      report.conflicts.map((c) => c.path),
      [`${APP}/settings.conf`],
    )
    assert.match(beta.read(`${APP}/settings.conf`), /size = 30/, "beta's own version stays in its file")
    assert.match((await forge.show('dot_config/app/settings.conf'))!, /size = 20/, "the forge keeps alpha's")
    const parked = report.conflicts[0].parkedBranch
    assert.match(await beta.git(['show', `${parked}:dot_config/app/settings.conf`]), /size = 30/, "beta's commit is kept on the parked branch")
    assert.equal(existsSync(join(beta.sourceDir, '.git/rebase-merge')), false, 'never left mid-rebase')

    // Still in conflict: another sync neither overwrites nor captures the file, and exits 4 again.
    await beta.sync({exit: 4})
    assert.match(beta.read(`${APP}/settings.conf`), /size = 30/)
    const status = (await beta.status()).result
    assert.deepEqual(
      status.conflicts.map((c) => c.path),
      [`${APP}/settings.conf`],
    )
  })

  it("resolve --mine: beta's version becomes the fleet's", async function () {
    await beta.resolve(`~/${APP}/settings.conf`, 'mine')
    await alpha.sync()
    assert.match(alpha.read(`${APP}/settings.conf`), /size = 30/)
    assert.deepEqual((await beta.status()).result.conflicts, [])
  })

  it("resolve --theirs: beta takes the fleet's version and its own is backed up", async function () {
    await sameLineConflict('40', '50')
    const resolved = await beta.resolve(beta.path(`${APP}/settings.conf`), 'theirs')
    assert.equal(resolved.result.side, 'theirs')
    assert.match(beta.read(`${APP}/settings.conf`), /size = 40/)
    const backups = beta.locations.backupsDir
    const saved = readdirSync(backups)
      .map((d) => join(backups, d, APP, 'settings.conf'))
      .filter((f) => existsSync(f))
    assert.ok(
      saved.some((f) => /size = 50/.test(readFileSync(f, 'utf8'))),
      "beta's version was backed up",
    )
    await beta.sync()
  })

  it('resolve without --mine/--theirs and without a terminal names the flags (exit 2)', async function () {
    const result = await beta.fleet(['resolve', `${APP}/settings.conf`])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /--mine or --theirs/)
  })
})

describe('sync: file names and encrypted paths', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  before(async function () {
    ;({fleet, forge, alpha, beta} = await twoMachines('names'))
  })
  after(() => fleet?.remove())

  const strange = `we"ird 'quo\`ted' $(touch PWNED) &<>|; é ü 日本.txt`
  const content = Buffer.from(`$(touch PWNED_CONTENT)\n\`touch PWNED_TICK\`\nbytes: \u00e9\u65e5\r\n\u0000end`, 'utf8')

  it('a path with spaces, quotes, $(), &<> and non-ASCII letters travels byte for byte; nothing is executed', async function () {
    alpha.write(`${APP}/${strange}`, content)
    const dir = `.config/dir with space & $(id)`
    alpha.write(`${dir}/ä.conf`, 'x\n')
    await alpha.addPath(dir)
    await beta.sync()
    assert.deepEqual(readFileSync(beta.path(`${APP}/${strange}`)), content)
    assert.equal(beta.read(`${dir}/ä.conf`), 'x\n')

    beta.write(`${APP}/${strange}`, Buffer.concat([content, Buffer.from('\nmore')]))
    await beta.sync()
    await alpha.sync()
    assert.deepEqual(readFileSync(alpha.path(`${APP}/${strange}`)), Buffer.concat([content, Buffer.from('\nmore')]))
    for (const machine of [alpha, beta]) {
      for (const dirToCheck of [machine.home, machine.sourceDir, join(machine.home, APP)]) {
        assert.deepEqual(
          readdirSync(dirToCheck).filter((f) => f.startsWith('PWNED')),
          [],
          `nothing ran in ${dirToCheck}`,
        )
      }
    }
  })

  it('an encrypted path is ciphertext in every commit of the forge and plain text on the machines', async function () {
    const secret = 'TOKEN=sk-live-4f9a8b7c6d5e'
    alpha.write('.netrc', `machine example.com login me password ${secret}\n`, 0o600)
    const refused = await alpha.addPath('.netrc', {exit: 2, json: false})
    assert.match(refused.stderr, /--encrypt/)
    await alpha.addPath('.netrc', {encrypt: true})
    await beta.sync()
    assert.match(beta.read('.netrc'), new RegExp(secret))
    beta.edit('.netrc', (text) => `${text}machine other.example login you password ${secret}-2\n`)
    await beta.sync()
    await alpha.sync()
    assert.match(alpha.read('.netrc'), /other\.example/)

    const blobs = await forge.allBlobs()
    assert.ok(blobs.some((b) => b.path.endsWith('.age')))
    for (const blob of blobs) assert.ok(!blob.content.includes(secret), `plain text secret in ${blob.commit}:${blob.path}`)
    for (const machine of [alpha, beta]) {
      const logs = readFileSync(machine.syncFiles.log, 'utf8')
      assert.ok(!logs.includes(secret), 'no secret in the sync log')
    }
  })

  it('an encrypted file added with mode 0644 lands decrypted with mode 0600 on every machine', async function () {
    alpha.write('.config/app-token', 'token for the app\n', 0o644)
    await alpha.addPath('.config/app-token', {encrypt: true})
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('.config/app-token'), 'token for the app\n')
    assert.equal(beta.mode('.config/app-token'), 0o600, 'private on the machine that receives it')
    assert.equal(alpha.mode('.config/app-token'), 0o600, 'and on the machine that added it')
    assert.ok((await forge.files()).includes('dot_config/encrypted_private_app-token.age'), (await forge.files()).join(', '))
    // An edit keeps it private and travels.
    beta.write('.config/app-token', 'token for the app, rotated\n')
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('.config/app-token'), 'token for the app, rotated\n')
    assert.equal(alpha.mode('.config/app-token'), 0o600)
  })
})

describe('add-path: refusals, merges and --dry-run', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  before(async function () {
    fleet = await TestFleet.start('addpath', {machines: ['alpha']})
    ;({
      forge,
      machines: [alpha],
    } = fleet)
  })
  after(() => fleet?.remove())

  async function refused(args: string[], pattern: RegExp) {
    const result = await alpha.addPath(args, {exit: 2, json: false})
    assert.match(result.stderr, pattern)
    assert.match(result.stderr, /Fix: /)
  }

  it('--dry-run prints the plan and changes nothing', async function () {
    alpha.write('.config/editor/init.lua', 'vim.o.number = true\n')
    const head = await forge.head()
    const manifest = readFileSync(alpha.manifestFile, 'utf8')
    const sourceFiles = await alpha.git(['ls-files'])
    const result = await alpha.addPath('.config/editor', {dryRun: true, json: false})
    assert.match(result.stdout, /Would add ~\/\.config\/editor/)
    assert.equal(await forge.head(), head)
    assert.equal(readFileSync(alpha.manifestFile, 'utf8'), manifest)
    assert.equal(await alpha.git(['ls-files']), sourceFiles)
    assert.equal((await alpha.git(['status', '--porcelain'])).trim(), '')
  })

  it('refuses what it must, each with its fix', async function () {
    await refused(['/etc/hostname'], /not inside your home directory/)
    await refused([alpha.path('nope.txt')], /does not exist/)
    await refused([alpha.sourceFile('.chezmoiignore')], /source repo/)
    await refused([alpha.locations.configDir], /private key/)
    await refused([alpha.path('.config')], /holds/)
    await refused([alpha.path('.config/fleet/secrets.env')], /already managed|source repo|fleet's own/)
    alpha.write('.aws/credentials', '[default]\naws_secret_access_key = Zx8Kq2Lm9Np4Rs7Tv1Wy3Ab6Cd0Ef5Gh8Ij2Kl4m\n')
    await refused([alpha.path('.aws')], /looks like it holds secrets/)
    for (let i = 0; i < 1005; i++) alpha.write(`big/f${i}.txt`, 'x')
    await refused([alpha.path('big')], /is large/)
  })

  it('a path inside a managed one is refused; a directory around one is merged', async function () {
    await alpha.addPath('.config/editor/init.lua')
    alpha.write('.config/editor/lua/plugins.lua', 'return {}\n')
    await refused([alpha.path('.config/editor/init.lua')], /already managed/)
    const merged = await alpha.addPath('.config/editor', {json: false})
    assert.match(merged.stdout, /was managed on its own: it is now part of ~\/\.config\/editor/)
    await refused([alpha.path('.config/editor/lua')], /already synced as part of/)
    const paths = (await alpha.paths()).result.paths.map((p) => p.path)
    assert.ok(paths.includes('.config/editor') && !paths.includes('.config/editor/init.lua'))
    assert.ok((await forge.files()).includes('dot_config/editor/lua/plugins.lua'))
  })

  it('warns about macOS protected folders', async function () {
    alpha.write('Documents/notes.md', '# notes\n')
    const result = await alpha.addPath('Documents/notes.md', {json: false})
    assert.match(result.stderr, /Full Disk Access/)
  })
})
