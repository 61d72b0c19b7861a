// Never wedged: agents run exactly the tools that installed them, a sync refuses an old chezmoi with the binary,
// its version and a fix that works, and `fleet agents run` leaves exactly one watcher per machine, even after a
// kill -9. The machine here has a newer chezmoi in ~/.local/bin, first on its PATH, and an old one in a directory
// that also holds git (as /usr/bin does on a machine with a distribution's chezmoi).
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'
import {parse} from 'plist'

import {executablesOnPath} from '../../src/lib/process/which.ts'
import {RunningAgents, waitFor} from '../support/agents.ts'
import {Forge} from '../support/forge.ts'
import {Machine, NODE_BIN_DIR} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const OLD_VERSION = 'chezmoi version v2.60.1, commit 0000000, built at 2024-01-01T00:00:00Z, built by distribution'

/** Every `fleet agents watch` of this machine (by command line and HOME), stopped ones included. */
function watcherPids(machine: Machine): number[] {
  const pids: number[] = []
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (!(cmdline.includes('agents') && cmdline.includes('watch'))) continue
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`HOME=${machine.home}`)) pids.push(Number(pid))
    } catch {
      // gone
    }
  }
  return pids
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** Where `command -v` finds each tool with this PATH. */
async function resolved(path: string, tools: string[]): Promise<Record<string, string>> {
  const found: Record<string, string> = {}
  for (const tool of tools) found[tool] = String((await execa('sh', ['-c', `command -v ${tool}`], {env: {PATH: path}, extendEnv: false, reject: false})).stdout)
  return found
}

describe('never wedged: agents run the tools that installed them', function () {
  this.timeout(180_000)
  let root: string
  let alpha: Machine
  let forge: Forge
  let localBin: string
  let oldBin: string
  let personalPath: string
  let usedMarker: string

  before(async function () {
    root = makeTempDir('wedged-agents')
    forge = await Forge.create(root)
    const realChezmoi = executablesOnPath('chezmoi')[0]
    const realGit = executablesOnPath('git')[0]
    oldBin = join(root, 'distribution-bin')
    mkdirSync(oldBin)
    // An old chezmoi: it reports its version and refuses the flags fleet passes, as chezmoi before 2.71 does.
    writeFileSync(
      join(oldBin, 'chezmoi'),
      `#!/bin/sh\nif [ "$1" = --version ]; then echo '${OLD_VERSION}'; exit 0; fi\necho 'chezmoi: unknown flag: --persistent-state' >&2\nexit 1\n`,
      {mode: 0o755},
    )
    symlinkSync(realGit, join(oldBin, 'git'))
    localBin = join(root, 'alpha', '.local/bin')
    usedMarker = join(root, 'new-chezmoi-used')
    mkdirSync(localBin, {recursive: true})
    // The newer chezmoi the person installed: the real one, leaving a mark each time it runs.
    writeFileSync(join(localBin, 'chezmoi'), `#!/bin/sh\necho "$$" >> '${usedMarker}'\nexec '${realChezmoi}' "$@"\n`, {mode: 0o755})
    personalPath = `${localBin}:${oldBin}:${NODE_BIN_DIR}:${process.env.PATH}`
    alpha = new Machine(root, 'alpha', {PATH: personalPath})
    await alpha.enroll(forge.url)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath('.zshrc')
  })
  after(() => removeTempDir(root))

  it("the rendered agents find git, chezmoi, age and ssh where the person's PATH finds them (launchd and systemd)", async function () {
    const tools = ['git', 'chezmoi', 'age', 'ssh']
    const mine = await resolved(personalPath, tools)
    assert.equal(mine.chezmoi, join(localBin, 'chezmoi'))
    assert.equal(mine.git, join(oldBin, 'git'))

    const plists = join(root, 'plists')
    await alpha.renderAgents('launchd', plists)
    for (const file of ['dev.dotfleet.watcher.plist', 'dev.dotfleet.puller.plist']) {
      const plist = parse(readFileSync(join(plists, file), 'utf8')) as any
      assert.deepEqual(await resolved(plist.EnvironmentVariables.PATH, tools), mine, file)
    }
    const units = join(root, 'units')
    await alpha.renderAgents('systemd', units)
    const service = readFileSync(join(units, 'dev.dotfleet.puller.service'), 'utf8')
    const path = /^Environment="PATH=([^"]*)"$/m.exec(service)?.[1]
    assert.ok(path, service)
    assert.deepEqual(await resolved(path, tools), mine)

    // An agent's sync renders its definition again after a manifest change: from the agent's own PATH, the same.
    const again = join(root, 'units-again')
    await alpha.renderAgents('systemd', again, {env: {PATH: path}})
    assert.equal(readFileSync(join(again, 'dev.dotfleet.puller.service'), 'utf8'), service)
  })

  it("FLEET_CHEZMOI given relative to where fleet ran is rendered absolute, and its directory shadows no tool of the person's", async function () {
    const pinnedDir = join(root, 'pinned')
    mkdirSync(pinnedDir)
    symlinkSync(join(localBin, 'chezmoi'), join(pinnedDir, 'chezmoi'))
    writeFileSync(join(pinnedDir, 'git'), '#!/bin/sh\necho not the git you use >&2\nexit 1\n', {mode: 0o755})
    const out = join(root, 'plists-pinned')
    // Machine.fleet runs in HOME: ../pinned/chezmoi is root/pinned/chezmoi.
    await alpha.renderAgents('launchd', out, {env: {FLEET_CHEZMOI: '../pinned/chezmoi'}})
    const plist = parse(readFileSync(join(out, 'dev.dotfleet.watcher.plist'), 'utf8')) as any
    assert.equal(plist.EnvironmentVariables.FLEET_CHEZMOI, join(pinnedDir, 'chezmoi'))
    const tools = ['git', 'age', 'ssh']
    assert.deepEqual(await resolved(plist.EnvironmentVariables.PATH, tools), await resolved(personalPath, tools))
  })

  it('the puller, run exactly as launchd would run it, syncs with the newer chezmoi', async function () {
    const plists = join(root, 'plists-puller')
    await alpha.renderAgents('launchd', plists)
    const plist = parse(readFileSync(join(plists, 'dev.dotfleet.puller.plist'), 'utf8')) as any
    const [program, ...args] = plist.ProgramArguments as string[]
    writeFileSync(usedMarker, '')
    alpha.write('.zshrc', 'export EDITOR=nvim\n')
    // launchd gives an agent HOME, USER and the plist's variables, nothing of the person's shell.
    const env = {HOME: alpha.home, USER: alpha.env.USER, LANG: 'C.UTF-8', GIT_CONFIG_NOSYSTEM: '1', ...plist.EnvironmentVariables}
    const puller = await execa(program, args, {env, extendEnv: false, reject: false, cwd: '/'})
    assert.equal(puller.exitCode, 0, `${puller.stdout}\n${puller.stderr}`)
    assert.doesNotMatch(String(puller.stderr), /unknown flag/)
    assert.ok(readFileSync(usedMarker, 'utf8').trim().length > 0, 'the newer chezmoi ran')
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=nvim\n', 'the edit reached the forge')
  })

  it('fleet sync with the old chezmoi first on PATH names it, its version and the minimum, and the fix it prints works', async function () {
    alpha.write('.zshrc', 'export EDITOR=hx\n')
    const head = await forge.head()
    const oldFirst = {PATH: `${oldBin}:${personalPath}`}
    const refused = await alpha.sync({exit: 1, json: false, env: oldFirst})
    assert.ok(refused.stderr.includes(`chezmoi 2.60.1 is too old: fleet needs 2.71.0 or later (this one is ${join(oldBin, 'chezmoi')})`), refused.stderr)
    assert.doesNotMatch(refused.stderr, /unknown flag/, 'the old chezmoi was never asked to sync')
    assert.equal(await forge.head(), head, 'nothing was pushed')

    // The fix, as printed: point fleet at the newer chezmoi it found.
    const pinned = /export FLEET_CHEZMOI=(\S+)`/.exec(refused.stderr)?.[1]
    assert.equal(pinned, join(localBin, 'chezmoi'), refused.stderr)
    await alpha.sync({env: {...oldFirst, FLEET_CHEZMOI: pinned}})
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=hx\n')
    assert.equal(alpha.read('.zshrc'), 'export EDITOR=hx\n', 'nothing lost')

    // The other fix it prints: the newer chezmoi's directory first on PATH.
    assert.ok(refused.stderr.includes(`put ${localBin} before ${oldBin} on PATH`), refused.stderr)
    alpha.write('.zshrc', 'export EDITOR=micro\n')
    await alpha.sync({env: {PATH: `${localBin}:${oldBin}:${personalPath}`}})
    assert.equal(await forge.show('dot_zshrc'), 'export EDITOR=micro\n')
  })

  it('the agents of a `fleet agents run` killed with SIGKILL stop by themselves', async function () {
    const runner = new RunningAgents(alpha, ['--agent', 'watcher'])
    await waitFor('the watcher to start', () => /watching \d+ managed path/.test(runner.output), 30_000)
    assert.equal(watcherPids(alpha).length, 1)
    runner.process.kill('SIGKILL')
    await runner.process
    await waitFor('the orphaned watcher to stop', () => watcherPids(alpha).length === 0, 15_000)
  })

  it("kill -9 of the runner, then a restart: exactly one watcher, the new runner's, even when the old one cannot follow", async function () {
    const first = new RunningAgents(alpha, ['--agent', 'watcher'])
    await waitFor('the first watcher to start', () => /watching \d+ managed path/.test(first.output), 30_000)
    const [old] = watcherPids(alpha)
    // A stopped process cannot notice its runner is gone: only the new runner's record of it can end it.
    process.kill(old, 'SIGSTOP')
    first.process.kill('SIGKILL')
    await first.process
    const second = new RunningAgents(alpha, ['--agent', 'watcher'])
    try {
      await waitFor('the second watcher to start', () => /watching \d+ managed path/.test(second.output), 60_000)
      assert.match(second.output, new RegExp(`stopping the watcher an earlier fleet agents run left running \\(pid ${old}\\)`))
      await waitFor('one watcher', () => watcherPids(alpha).length === 1, 10_000)
      const [now] = watcherPids(alpha)
      assert.notEqual(now, old)
      assert.equal(parentOf(now), second.process.pid)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      assert.deepEqual(watcherPids(alpha), [now], 'still exactly one')
    } finally {
      assert.equal(await second.stop(), 0)
    }
    assert.deepEqual(watcherPids(alpha), [], 'SIGTERM stopped it')
  })

  it('a second `fleet agents run` on the same machine is refused, naming the first; the fix it prints works', async function () {
    const first = new RunningAgents(alpha, ['--agent', 'watcher'])
    await waitFor('the watcher to start', () => /watching \d+ managed path/.test(first.output), 30_000)
    const refused = await alpha.fleet(['agents', 'run', '--agent', 'watcher'])
    assert.equal(refused.exitCode, 1, refused.stdout + refused.stderr)
    assert.ok(refused.stderr.includes(`already running on this machine (pid ${first.process.pid})`), refused.stderr)
    assert.equal(watcherPids(alpha).length, 1)

    // The fix: kill <pid>, then run again.
    const pid = /kill (\d+)/.exec(refused.stderr)?.[1]
    assert.equal(Number(pid), first.process.pid)
    process.kill(Number(pid), 'SIGTERM')
    assert.equal((await first.process).exitCode, 0)
    const second = new RunningAgents(alpha, ['--agent', 'watcher'])
    try {
      await waitFor('the new watcher to start', () => /watching \d+ managed path/.test(second.output), 30_000)
      assert.equal(watcherPids(alpha).length, 1)
    } finally {
      await second.stop()
    }
  })
})
