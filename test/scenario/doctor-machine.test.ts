// fleet doctor's checks of a machine itself: its tools, its source repo, the forge, the manifest, the roster, the last
// sync and the lock, its directories and disk. A healthy machine is all ok; then each is broken on purpose, one after
// another on the same fleet, and the check says what is wrong with the fix, and `--fix` repairs what it says it does.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, renameSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {execa} from 'execa'

import type {CheckResult} from '../../src/lib/doctor/check.ts'
import type {DoctorReport, Repair} from '../../src/lib/doctor/doctor.ts'
import {currentBoot} from '../../src/lib/lock/lock.ts'
import {MANIFEST_RELATIVE_PATH} from '../../src/lib/manifest/store.ts'
import {STALE_INDEX_LOCK_MS} from '../../src/lib/sync/recover.ts'
import {FLEET_BIN, NODE, printed} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import {type Machine, NODE_BIN_DIR} from '../support/machine.ts'

const APP = '.config/app'
const SETTINGS = `${APP}/settings.conf`
const SOURCE = '~/.local/share/chezmoi'

/** The checks of this machine itself, by id. */
const MACHINE_CHECKS = [
  'tools.git',
  'tools.chezmoi',
  'tools.age',
  'tools.node',
  'source.repo',
  'source.clean',
  'source.operation',
  'source.branch',
  'source.ahead-behind',
  'source.conflicts',
  'forge.reachable',
  'manifest.valid',
  'roster.machine',
  'roster.pending',
  'sync.last',
  'sync.lock',
  'machine.dirs',
  'machine.disk',
]

function byId(report: DoctorReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id)
  assert.ok(found, `the report has ${id}: ${JSON.stringify(report.checks.map((c) => c.id))}`)
  return found
}

/** `fleet doctor --check ID --json`: that check alone, exit 1 when it failed and 0 otherwise. */
async function check(machine: Machine, id: string, env?: NodeJS.ProcessEnv): Promise<CheckResult> {
  const run = await machine.doctor({check: id, exit: 'any', env})
  const {checks} = run.result
  assert.deepEqual(
    checks.map((c) => c.id),
    [id],
    'only that check runs',
  )
  assert.equal(run.exitCode, checks[0].status === 'fail' ? 1 : 0, printed(run))
  return checks[0]
}

/** `fleet doctor --fix --json`: the report after the repairs, and each repair by id. */
async function fix(machine: Machine, exit: number | 'any' = 0): Promise<{report: DoctorReport; repaired: Map<string, Repair>}> {
  const report = (await machine.doctor({fix: true, exit})).result
  return {report, repaired: new Map((report.repairs ?? []).map((r) => [r.id, r]))}
}

/** The pid of a process that has started and exited: nobody alive has it. */
async function deadPid(): Promise<number> {
  const child = spawn('true', {stdio: 'ignore'})
  await new Promise((resolve) => child.once('exit', resolve))
  return child.pid!
}

/**
 * `fleet doctor --check ID --json` by a process that file permissions apply to: root may write anywhere, so as root it
 * runs without the capabilities that let it (as any other user it runs as it is).
 */
async function checkAsOwner(machine: Machine, id: string): Promise<CheckResult> {
  const asOwner = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'] : []
  const [file, ...args] = [...asOwner, NODE, FLEET_BIN, 'doctor', '--check', id, '--json']
  const run = await execa(file, args, {env: machine.env, extendEnv: false, cwd: machine.home, reject: false})
  const report = JSON.parse(String(run.stdout)) as DoctorReport
  assert.equal(run.exitCode, report.checks[0].status === 'fail' ? 1 : 0)
  return report.checks[0]
}

describe('doctor: the checks of this machine', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine
  let gamma: Machine
  let silent: Server | undefined

  before(async function () {
    fleet = await TestFleet.start('doctor-machine', {machines: ['alpha', 'beta', 'gamma'], joined: 2})
    ;[alpha, beta, gamma] = fleet.machines
    alpha.write(SETTINGS, 'colour = blue\nsize = 12\n')
    await alpha.addPath(APP)
    await beta.sync()
    await alpha.sync()
  })
  after(async () => {
    silent?.closeAllConnections()
    silent?.close()
    await fleet?.remove()
  })

  it('a healthy machine: every check of this machine is ok, and doctor exits 0', async function () {
    const report = (await alpha.doctor()).result
    const mine = report.checks.filter((c) => MACHINE_CHECKS.includes(c.id))
    assert.deepEqual(mine.map((c) => c.id).sort(), [...MACHINE_CHECKS].sort())
    for (const c of mine) assert.equal(c.status, 'ok', `${c.id}: ${c.message}`)
    assert.match(byId(report, 'source.repo').message, /^~\/\.local\/share\/chezmoi is this fleet's source repo \(alpha\); its forge is file:\/\//)
    assert.match(byId(report, 'machine.disk').message, /^\d+(\.\d)? [GM]B free on the disk that holds ~\//)
    assert.match(byId(report, 'tools.age').message, /built-in age/)

    const text = await alpha.doctor({json: false})
    assert.match(text.stdout, /^Tools\n {2}✓ tools\.git/m)
    assert.match(text.stdout, /^This machine\n/m)
    assert.ok(!text.stdout.includes(alpha.home), 'paths are shown with ~')
  })

  it('an older chezmoi earlier on PATH: fails naming it, with the newer one to use; FLEET_CHEZMOI pointing at that one is ok', async function () {
    const bin = join(fleet.root, 'old-bin')
    mkdirSync(bin, {recursive: true})
    writeFileSync(join(bin, 'chezmoi'), '#!/bin/sh\necho "chezmoi version v2.50.0, built at 2024-01-01T00:00:00Z"\n', {mode: 0o755})
    const path = `${bin}:${NODE_BIN_DIR}:${process.env.PATH}`
    const old = await check(alpha, 'tools.chezmoi', {PATH: path})
    assert.equal(old.status, 'fail')
    assert.equal(old.message, `chezmoi 2.50.0 is too old: fleet needs 2.71.0 or later (this one is ${bin}/chezmoi).`)
    const newer = /`export FLEET_CHEZMOI=(\S+)`/.exec(old.fix ?? '')?.[1]
    assert.ok(newer && !newer.startsWith(bin), old.fix)
    assert.match(old.fix!, new RegExp(`or put \\S+ before ${bin} on PATH`))
    assert.equal(old.fixable, undefined, 'a person chooses the chezmoi')

    const missing = await check(alpha, 'tools.chezmoi', {FLEET_CHEZMOI: join(fleet.root, 'no-such-chezmoi')})
    assert.equal(missing.status, 'fail')
    assert.equal(missing.message, `FLEET_CHEZMOI names ${join(fleet.root, 'no-such-chezmoi')}, which does not exist.`)
    assert.match(missing.fix!, /^Correct FLEET_CHEZMOI, or unset it to use the chezmoi on PATH \(\S+\): `unset FLEET_CHEZMOI`$/)

    const pinned = await check(alpha, 'tools.chezmoi', {PATH: path, FLEET_CHEZMOI: newer})
    assert.equal(pinned.status, 'ok')
    assert.match(pinned.message, new RegExp(`^chezmoi 2\\.\\d+\\.\\d+ at ${newer} \\(FLEET_CHEZMOI names it\\)\\.$`))
  })

  it('a forge that does not answer: forge.reachable fails within its timeout, with the fix; --json prints the whole report, exit 1', async function () {
    silent = createServer(() => {}) // takes the connection and never answers
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve))
    await alpha.git(['remote', 'set-url', 'origin', `http://127.0.0.1:${(silent.address() as {port: number}).port}/forge.git`])
    try {
      const started = Date.now()
      const report = (await alpha.doctor({exit: 1})).result
      assert.ok(Date.now() - started < 15_000, 'doctor does not wait for the forge')
      assert.deepEqual(
        MACHINE_CHECKS.filter((id) => !report.checks.some((c) => c.id === id)),
        [],
        'every check is in the report',
      )
      assert.ok(report.summary.fail >= 1)
      const forge = byId(report, 'forge.reachable')
      assert.equal(forge.status, 'fail')
      assert.match(forge.message, /cannot be reached: it did not answer within 3 s/)
      assert.ok(forge.durationMs! < 5_000, `it took ${forge.durationMs} ms`)
      assert.match(forge.fix!, /git ls-remote/)

      // FLEET_FORGE_TIMEOUT is the wait the message names; and --fix runs no sync against a forge that is silent.
      const quick = {FLEET_FORGE_TIMEOUT: '1'}
      const short = await check(alpha, 'forge.reachable', quick)
      assert.match(short.message, /it did not answer within 1 s/)
      assert.ok(short.durationMs! < 2_500, `it took ${short.durationMs} ms`)
      alpha.edit(alpha.sourceFile('dot_config/app/settings.conf'), (text) => `${text}# not pushed while the forge is silent\n`)
      const fixed = (await alpha.doctor({fix: true, exit: 1, env: quick})).result
      assert.deepEqual(
        fixed.repairs?.find((repair) => repair.id === 'source.clean'),
        {id: 'source.clean', notTried: 'the forge did not answer (see forge.reachable)'},
      )
      assert.ok(fixed.durationMs < 6_000, `doctor --fix took ${fixed.durationMs} ms`)
      await alpha.git(['checkout', '--', 'dot_config/app/settings.conf'])
    } finally {
      await alpha.git(['remote', 'set-url', 'origin', fleet.url])
    }
  })

  it('a forge moved away, and a commit made meanwhile: not pushed; --fix cannot push it until the forge is back, then does', async function () {
    const away = `${fleet.forge.path}.away`
    renameSync(fleet.forge.path, away)
    try {
      const forge = await check(alpha, 'forge.reachable')
      assert.equal(forge.status, 'fail')
      assert.match(forge.message, /^The forge file:\/\/\S+ cannot be reached: /)

      alpha.edit(SETTINGS, (text) => text.replace('colour = blue', 'colour = green'))
      await alpha.sync({exit: 3})
      const ahead = await check(alpha, 'source.ahead-behind')
      assert.equal(ahead.status, 'warn')
      assert.match(ahead.message, /^1 commit here not on the forge yet/)
      assert.match(ahead.fix!, /^Run `fleet sync`: it pushes them/)
      assert.equal(ahead.fixable, true)

      const offline = await fix(alpha, 1)
      assert.equal(offline.repaired.get('source.ahead-behind')?.notTried, 'the forge did not answer (see forge.reachable)')
    } finally {
      renameSync(away, fleet.forge.path)
    }
    const {report, repaired} = await fix(alpha)
    assert.match(repaired.get('source.ahead-behind')?.changed ?? '', /^ran a sync: .*Pushed 1 commit\./)
    assert.equal(byId(report, 'source.ahead-behind').status, 'ok')
    assert.equal(await fleet.forge.head(), await alpha.git(['rev-parse', 'HEAD']), 'the forge has the commit')
  })

  it('a malformed manifest in the source repo: names the file and the field; checks that need it are skipped', async function () {
    alpha.edit(alpha.manifestFile, (text) => text.replace(/maxFileMiB: \d+/, 'maxFileMiB: lots'))
    try {
      const bad = await check(alpha, 'manifest.valid')
      assert.equal(bad.status, 'fail')
      assert.match(bad.message, /^~\/\.local\/share\/chezmoi\/\.chezmoidata\/fleet\.yaml is not a valid fleet manifest: fleet\.settings\.maxFileMiB: /)
      assert.match(bad.fix!, /^Correct the field in ~\/\.local\/share\/chezmoi\/\.chezmoidata\/fleet\.yaml/)
      const roster = await check(alpha, 'roster.machine')
      assert.equal(roster.status, 'skip')
      assert.equal(roster.message, 'Skipped: the manifest could not be read (see manifest.valid).')
      // A sync refuses such a manifest: the fix of an uncommitted change says to correct it first, and --fix does not try.
      const dirty = await check(alpha, 'source.clean')
      assert.equal(dirty.status, 'warn')
      assert.match(dirty.fix!, /^First correct the manifest \(see manifest\.valid\); then run `fleet sync`/)
      assert.equal(dirty.fixable, undefined)

      alpha.edit(alpha.manifestFile, (text) => text.replace(/branch: main/, 'branch: 7'))
      const two = await check(alpha, 'manifest.valid')
      assert.match(two.message, /fleet\.settings\.branch: [^;]+; fleet\.settings\.maxFileMiB: /)
      assert.match(two.fix!, /^Correct the fields in .*then run `fleet doctor --check manifest\.valid` to look again/)
      alpha.edit(alpha.manifestFile, (text) => `${text}\n  : [unclosed\n`)
      const syntax = await check(alpha, 'manifest.valid')
      assert.match(syntax.message, /is not valid YAML: /)
      assert.match(
        syntax.fix!,
        /^Correct the YAML syntax at line \d+ of ~\/\.local\/share\/chezmoi\/\.chezmoidata\/fleet\.yaml, then run `fleet doctor --check manifest\.valid`/,
      )
    } finally {
      await alpha.git(['checkout', '--', MANIFEST_RELATIVE_PATH])
    }
    assert.equal((await check(alpha, 'manifest.valid')).status, 'ok')
  })

  it("a person's rebase in progress: fails with the git commands, and --fix leaves it; fleet's own unfinished step is repaired", async function () {
    await alpha.shell(`git -C ${SOURCE} rebase --exec false HEAD~1 >/dev/null 2>&1 || true`)
    await alpha.sync({exit: 1})
    const report = (await alpha.doctor({exit: 1})).result
    const rebase = byId(report, 'source.operation')
    assert.equal(rebase.status, 'fail')
    assert.equal(rebase.message, `A rebase is in progress in the source repo ${SOURCE}, started outside fleet: fleet leaves it to you.`)
    assert.ok(rebase.fix?.includes(`\`fleet sync\``) && rebase.fix.includes(`git -C ${SOURCE} rebase --continue`), rebase.fix)
    assert.equal(rebase.fixable, undefined)
    assert.equal(byId(report, 'source.branch').status, 'skip')
    // A sync stops at the rebase: what a sync would fix says to finish or abort it first, and --fix does not try.
    const ahead = byId(report, 'source.ahead-behind')
    if (ahead.status !== 'ok') {
      assert.match(ahead.fix!, /^First finish or abort the rebase in the source repo \(see source\.operation\); then run `fleet sync`/)
      assert.equal(ahead.fixable, undefined)
    }
    // The sync that met it stopped, and its record says why, with the same fix.
    const last = byId(report, 'sync.last')
    assert.equal(last.status, 'fail')
    assert.match(last.message, /^The last sync \(\d+ s ago, \S+\) failed: A rebase is in progress in the source repo ~\/\.local\/share\/chezmoi/)
    assert.equal(last.fix, rebase.fix)

    const {report: after} = await fix(alpha, 1)
    assert.ok(existsSync(join(alpha.sourceDir, '.git', 'rebase-merge')), "--fix leaves a person's rebase alone")
    assert.deepEqual(after.repairs, [], 'nothing --fix could do: no sync tried and failed')
    await alpha.shell(/(git -C \S+ rebase --abort)/.exec(rebase.fix!)![1])
    assert.equal((await check(alpha, 'source.operation')).status, 'ok')
    // The failed sync's record stays until a sync: its cause is gone, so --fix runs that sync.
    const recorded = await check(alpha, 'sync.last')
    assert.equal(recorded.status, 'fail')
    assert.equal(recorded.fixable, true)

    // A step of fleet's own that never finished (the process was killed): a sync puts it back.
    const head = await alpha.git(['rev-parse', 'HEAD'])
    const record = join(alpha.sourceDir, '.git', 'fleet-operation.json')
    writeFileSync(record, JSON.stringify({operation: 'capture', branch: 'main', head, at: new Date().toISOString()}))
    const own = await check(alpha, 'source.operation')
    assert.equal(own.status, 'warn')
    assert.match(own.message, /^fleet's capture did not finish/)
    assert.equal(own.fixable, true)
    const {repaired} = await fix(alpha)
    assert.match(repaired.get('source.operation')?.changed ?? '', /^ran a sync/)
    assert.equal(existsSync(record), false)
  })

  it('uncommitted changes in the source repo: a warning; --fix commits and pushes them', async function () {
    alpha.edit(alpha.sourceFile('dot_config/app/settings.conf'), (text) => `${text}added = in the source repo\n`)
    const dirty = await check(alpha, 'source.clean')
    assert.equal(dirty.status, 'warn')
    assert.equal(dirty.message, `1 uncommitted change in ${SOURCE}: dot_config/app/settings.conf.`)
    assert.equal(dirty.fixable, true)

    const {report, repaired} = await fix(alpha)
    assert.match(repaired.get('source.clean')?.changed ?? '', /^ran a sync/)
    assert.equal(byId(report, 'source.clean').status, 'ok')
    assert.equal(await alpha.git(['status', '--porcelain']), '')
    assert.match((await fleet.forge.show('dot_config/app/settings.conf'))!, /added = in the source repo/)
  })

  it('the forge moved on, then a conflict: a warning that the next sync brings it; a failure naming the file and `fleet resolve`', async function () {
    await beta.sync()
    beta.edit(SETTINGS, (text) => text.replace(/size = \d+/, 'size = 20'))
    await beta.sync()
    const moved = await check(alpha, 'forge.reachable')
    assert.equal(moved.status, 'warn')
    assert.match(moved.message, /has new commits on main since the last fetch; the next sync brings them\.$/)

    alpha.edit(SETTINGS, (text) => text.replace(/size = \d+/, 'size = 30'))
    await alpha.sync({exit: 4})
    const report = (await alpha.doctor({exit: 1})).result
    const conflict = byId(report, 'source.conflicts')
    assert.equal(conflict.status, 'fail')
    assert.match(
      conflict.message,
      /^1 file changed here and on another machine in the same place: ~\/\.config\/app\/settings\.conf \(this machine's version kept on fleet\/parked\/\S+\)\.$/,
    )
    assert.equal(conflict.fix, "Run `fleet resolve ~/.config/app/settings.conf --mine` to keep this machine's version, or `--theirs` to take the fleet's.")
    assert.equal(conflict.fixable, undefined)
    assert.match(byId(report, 'sync.last').message, /ended in a conflict \(see source\.conflicts\)/)

    await alpha.resolve(`~/${SETTINGS}`, 'mine')
    const resolved = await check(alpha, 'source.conflicts')
    assert.equal(resolved.status, 'ok')
    assert.match(resolved.message, /^No conflicts \(1 parked branch keeps earlier versions: fleet\/parked\//)
  })

  it('a stale lock (its holder is gone): a warning; --fix removes it', async function () {
    const pid = await deadPid()
    mkdirSync(alpha.lockDir, {recursive: true, mode: 0o700})
    const owner = {pid, host: hostname(), startedAt: new Date().toISOString(), purpose: 'sync (watcher)', boot: currentBoot()}
    writeFileSync(join(alpha.lockDir, 'owner.json'), JSON.stringify(owner))
    const stale = await check(alpha, 'sync.lock')
    assert.equal(stale.status, 'warn')
    assert.match(stale.message, new RegExp(`^A stale lock: its holder \\(pid ${pid}: sync \\(watcher\\), since .*\\) is gone\\.$`))
    assert.equal(stale.fixable, true)

    const {report, repaired} = await fix(alpha)
    assert.equal(repaired.get('sync.lock')?.changed, `removed the stale lock of pid ${pid} (sync (watcher)), which is gone`)
    assert.equal(existsSync(alpha.lockDir), false)
    assert.equal(byId(report, 'sync.lock').status, 'ok')
  })

  it('a machine waiting for approval: a warning on the active ones naming it, and on itself naming who can approve', async function () {
    await gamma.enroll(fleet.url)
    await alpha.sync()
    const pending = await check(alpha, 'roster.pending')
    assert.equal(pending.status, 'warn')
    assert.match(pending.message, /^1 machine waits for approval: gamma \(\S+, enrolled \d+ s ago\)\.$/)
    assert.match(pending.fix!, /^Run `fleet machines approve gamma` once you know it is yours \(or `fleet machines revoke gamma` if it is not\)/)

    const itself = await check(gamma, 'roster.machine')
    assert.equal(itself.status, 'warn')
    assert.match(itself.message, /^This machine \(gamma\) waits for approval/)
    assert.equal(itself.fix, 'Run `fleet machines approve gamma` on alpha or beta, then `fleet sync` here.')
    const fresh = await check(gamma, 'sync.last')
    assert.equal(fresh.status, 'ok', 'just enrolled: not having synced yet is as expected')
    assert.match(fresh.message, /^This machine has not synced since it was enrolled \(enrolled \d+ s ago\)\.$/)

    await alpha.approve('gamma')
    assert.equal((await check(alpha, 'roster.pending')).status, 'ok')
  })

  it("a person's `git commit` waiting for its editor: not taken for a killed git, --fix leaves its lock, and the commit completes", async function () {
    const release = join(fleet.root, 'editor-release')
    const editor = join(fleet.root, 'slow-editor')
    const opened = join(fleet.root, 'editor-opened')
    writeFileSync(editor, `#!/bin/sh\ntouch '${opened}'\nwhile [ ! -e '${release}' ]; do sleep 0.05; done\necho 'settings: by hand' > "$1"\n`, {mode: 0o755})
    alpha.edit(alpha.sourceFile('dot_config/app/settings.conf'), (text) => `${text}by = hand\n`)
    // `git commit -a` holds .git/index.lock while its editor is open, without keeping the file open.
    const commit = execa('git', ['-C', alpha.sourceDir, 'commit', '--all'], {env: {...alpha.env, GIT_EDITOR: editor}, extendEnv: false, reject: false})
    let ended = false
    void commit.then(() => (ended = true))
    const indexLock = join(alpha.sourceDir, '.git', 'index.lock')
    try {
      for (const deadline = Date.now() + 10_000; !existsSync(opened); await new Promise((resolve) => setTimeout(resolve, 20))) {
        assert.ok(Date.now() < deadline && !ended, 'git commit opens its editor')
      }
      assert.ok(existsSync(indexLock), 'git commit holds .git/index.lock while its editor is open')
      // Old enough to pass for a killed process's: only the git process at work in the repo says otherwise.
      const old = new Date(Date.now() - STALE_INDEX_LOCK_MS - 60_000)
      utimesSync(indexLock, old, old)
      const busy = await check(alpha, 'source.operation')
      assert.equal(busy.status, 'warn')
      assert.equal(busy.message, `A git command may be running in the source repo ${SOURCE} (a git process works there).`)
      assert.equal(busy.fixable, undefined)
      const {report, repaired} = await fix(alpha, 'any')
      assert.equal(repaired.size, 0, `nothing repaired while git works: ${JSON.stringify(report.repairs)}`)
      assert.match(byId(report, 'source.clean').fix!, /^First let the git command in the source repo finish \(see source\.operation\)/)
      assert.ok(existsSync(indexLock), 'the lock of a git command at work is left alone')
    } finally {
      writeFileSync(release, '')
    }
    const done = await commit
    assert.equal(done.exitCode, 0, String(done.stderr))
    assert.equal(await alpha.git(['log', '-1', '--format=%s']), 'settings: by hand')
    await alpha.sync()
  })

  it('a key others can read, and the sync that failed on it: --fix sets the mode first, then its one sync clears the failure; exit 0', async function () {
    chmodSync(alpha.identityFile, 0o644)
    await alpha.sync({exit: 'any'})
    const failed = await check(alpha, 'sync.last')
    assert.equal(failed.status, 'fail')
    assert.equal(failed.fixable, true)
    const {report} = await fix(alpha)
    const ids = (report.repairs ?? []).map((repair) => repair.id)
    assert.ok(ids.indexOf('keys.mode') >= 0 && ids.indexOf('keys.mode') < ids.indexOf('sync.last'), `repaired in this order: ${ids.join(', ')}`)
    assert.match(report.repairs!.find((repair) => repair.id === 'sync.last')!.changed!, /^ran a sync/)
    assert.equal(byId(report, 'sync.last').status, 'ok')
  })

  it('a state directory fleet may not write: fails naming it, with the chmod that fixes it', async function () {
    const stateDir = alpha.locations.stateDir
    chmodSync(stateDir, 0o500)
    try {
      const dirs = await checkAsOwner(alpha, 'machine.dirs')
      assert.equal(dirs.status, 'fail')
      assert.match(dirs.message, /^fleet may not write ~\/\.local\/state\/fleet \(permission denied\)/)
      assert.equal(dirs.fix, 'Make it writable for you: chmod u+w ~/.local/state/fleet (ls -ld ~/.local/state/fleet shows who owns it).')
    } finally {
      chmodSync(stateDir, 0o700)
    }
    assert.equal((await checkAsOwner(alpha, 'machine.dirs')).status, 'ok')
  })
})
