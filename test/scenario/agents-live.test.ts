// Real agents: three machines, each running `fleet agents run` (the watcher and the puller in the foreground),
// with shorter waits than the defaults so the story runs in seconds. Saves travel between the machines; bursts
// coalesce; an idle fleet stays quiet; a killed watcher's change is caught by the puller; SIGTERM stops cleanly.
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {FAST_AGENTS, readOr, RunningAgents, setAgentSettings, waitFor} from '../support/agents.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

const APP = '.config/app'

/** The pid of the watcher that machine's `agents run` started (found through /proc: cmdline and HOME). */
function watcherPid(machine: Machine): number | undefined {
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (!(cmdline.includes('agents') && cmdline.includes('watch'))) continue
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
      if (environ.includes(`HOME=${machine.home}`)) return Number(pid)
    } catch {
      // gone
    }
  }
  return undefined
}

describe('agents: real watchers and pullers on three machines', function () {
  this.timeout(180_000)
  let fleet: TestFleet
  let forge: Forge
  let machines: Machine[]
  let running: RunningAgents[] = []
  let alpha: Machine
  let beta: Machine
  let gamma: Machine

  const everywhere = (relative: string, content: string) => () => machines.every((m) => readOr(m, relative) === content)
  const forgeCommits = async () => Number((await forge.git(['rev-list', '--count', 'main'])).trim())

  before(async function () {
    fleet = await TestFleet.start('agents', {machines: ['alpha', 'beta', 'gamma']})
    ;({forge, machines} = fleet)
    ;[alpha, beta, gamma] = machines
    alpha.write(`${APP}/settings.conf`, 'v0\n')
    await alpha.addPath(APP)
    await setAgentSettings(alpha, FAST_AGENTS)
    for (const m of [beta, gamma]) await m.sync()
    running = machines.map((m) => new RunningAgents(m))
    await waitFor('every watcher to start', () => running.every((r) => /watching \d+ managed path/.test(r.output)), 20_000)
  })

  after(async function () {
    await Promise.all(running.map((r) => r.stop()))
    if (this.currentTest?.state === 'failed') for (const r of running) console.log(`--- ${r.machine.name}\n${r.output}`)
    await fleet?.remove()
  })

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const r of running) console.log(`--- ${r.machine.name}\n${r.output.slice(-3000)}`)
  })

  it('a save on alpha appears on beta and gamma', async function () {
    alpha.write(`${APP}/settings.conf`, 'v1 from alpha\n')
    await waitFor('v1 everywhere', everywhere(`${APP}/settings.conf`, 'v1 from alpha\n'), 30_000)
  })

  it('an edit on beta travels back', async function () {
    beta.write(`${APP}/settings.conf`, 'v2 from beta\n')
    await waitFor('v2 everywhere', everywhere(`${APP}/settings.conf`, 'v2 from beta\n'), 30_000)
  })

  it('a file created in a managed directory after start-up travels', async function () {
    gamma.write(`${APP}/deep/new/file.conf`, 'created on gamma\n')
    await waitFor('the new file everywhere', everywhere(`${APP}/deep/new/file.conf`, 'created on gamma\n'), 30_000)
  })

  it('a path added while the agents run is watched from then on, everywhere', async function () {
    beta.write('.vimrc', 'set number\n')
    await beta.addPath('.vimrc')
    await waitFor('.vimrc everywhere', everywhere('.vimrc', 'set number\n'), 30_000)
    // Watchers follow the manifest: an edit to the new path on another machine travels too.
    await waitFor('gamma to watch the new path', () => /watching 3 managed path/.test(running[2].output), 30_000)
    gamma.write('.vimrc', 'set relativenumber\n')
    await waitFor('the edit everywhere', everywhere('.vimrc', 'set relativenumber\n'), 30_000)
  })

  it('a burst of 50 saves in about 2.5 s becomes a handful of commits, and the last content wins everywhere', async function () {
    const before = await forgeCommits()
    for (let i = 1; i <= 50; i++) {
      alpha.write(`${APP}/burst.conf`, `save ${i}\n`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await waitFor('the last save everywhere', everywhere(`${APP}/burst.conf`, 'save 50\n'), 40_000)
    const commits = (await forgeCommits()) - before
    assert.ok(commits >= 1 && commits <= 5, `${commits} commits for 50 saves`)
  })

  it('an idle fleet makes no commits', async function () {
    // Let everything settle, then watch the forge through several remote checks and debounce periods.
    await new Promise((resolve) => setTimeout(resolve, 4000))
    const head = await forge.head()
    await new Promise((resolve) => setTimeout(resolve, 8000))
    assert.equal(await forge.head(), head)
  })

  it("a killed watcher: the puller's next run catches the change", async function () {
    const pid = watcherPid(gamma)
    assert.ok(pid, 'gamma runs a watcher')
    process.kill(pid, 'SIGKILL')
    await waitFor('the watcher to be gone', () => !existsSync(`/proc/${pid}`), 5000)
    gamma.write(`${APP}/settings.conf`, 'v3 while the watcher was dead\n')
    // The supervisor waits 10 s before it restarts a resident agent; the puller (every 10 s here) gets there first
    // or at the same time: either way the change travels, and the log shows the timer found it.
    await waitFor('v3 everywhere', everywhere(`${APP}/settings.conf`, 'v3 while the watcher was dead\n'), 40_000)
    const log = readFileSync(gamma.syncFiles.log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const caught = log.find((entry) => entry.captured.includes(`${APP}/settings.conf`) && Date.parse(entry.at) > Date.now() - 40_000)
    assert.ok(caught, 'a sync on gamma captured the change')
    assert.ok(['timer', 'watcher-start'].includes(caught.reason), `caught by ${caught.reason}`)
  })

  it('status shows each agent and the last sync it started', async function () {
    const status = (await gamma.status()).result
    const byId = Object.fromEntries(status.agents.map((a) => [a.id, a]))
    assert.match(byId.watcher.lastTrigger!.reason, /^watcher/)
    // A sync the puller started may run a second round for a trigger that came meanwhile: still the puller's.
    assert.match(byId.puller.lastTrigger!.reason, /^timer( \(again\))?$/)
    const text = await gamma.status({json: false})
    assert.match(text.stdout, /watcher .*last sync .*\(watcher/)
  })

  it('SIGTERM stops the agents cleanly: exit 0, no lock left behind, nothing mid-rebase', async function () {
    alpha.write(`${APP}/settings.conf`, 'v4 just before stopping\n')
    await new Promise((resolve) => setTimeout(resolve, 400))
    const codes = await Promise.all(running.map((r) => r.stop()))
    assert.deepEqual(codes, [0, 0, 0])
    for (const m of machines) {
      const lock = m.lockDir
      assert.equal(existsSync(lock), false, `${m.name} left its lock: ${existsSync(lock) ? readFileSync(join(lock, 'owner.json'), 'utf8') : ''}`)
      assert.equal(existsSync(join(m.sourceDir, '.git/rebase-merge')), false)
      assert.equal(watcherPid(m), undefined, `${m.name}'s watcher stopped`)
    }
    // Whatever alpha had not pushed yet is captured by its next sync.
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read(`${APP}/settings.conf`), 'v4 just before stopping\n')
  })
})
