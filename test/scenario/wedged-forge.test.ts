// Never wedged: every wait is bounded. A forge that accepts the connection and never answers (ssh://, http://)
// ends a sync with exit 3 within about a minute, git and all its helpers gone and the lock released; a sync that
// defers to a running one says so, and a holder stuck past the bound is named, with a fix that works.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, type Server as HttpServer} from 'node:http'
import {createServer, type Server, type Socket} from 'node:net'
import {hostname} from 'node:os'

import type {CommandRun} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import {Machine} from '../support/machine.ts'

/** A forge that takes the connection and never says a word: not the ssh banner, not an HTTP response. */
class SilentForge {
  private readonly sockets = new Set<Socket>()
  private readonly server: Server | HttpServer
  readonly port: number
  private constructor(server: Server | HttpServer, port: number) {
    this.server = server
    this.port = port
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  static async start(kind: 'tcp' | 'http'): Promise<SilentForge> {
    const server = kind === 'tcp' ? createServer(() => {}) : createHttpServer(() => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return new SilentForge(server, (server.address() as {port: number}).port)
  }

  /** Connections it holds open now. */
  get connections(): number {
    return this.sockets.size
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** ssh as a person's git runs it, minus their config and any prompt; no ConnectTimeout, which a default client lacks. */
const SSH_COMMAND = 'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'

/** Processes started for a machine (its HOME is in their environment) that are still there: git, ssh, git-remote-http, fleet. */
function processesOf(machine: Machine): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
      if (!environ.includes(`HOME=${machine.home}`)) continue
      found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`)
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found
}

/** The bound the cases set with FLEET_FORGE_TIMEOUT (seconds): what they prove holds for any bound, and they wait it out. */
const BOUND = 1

/** A machine of the fleet, its forge replaced by one that never answers. */
function onSilentForge(root: string, name: string, env: NodeJS.ProcessEnv = {}): Machine {
  return new Machine(root, name, {GIT_SSH_COMMAND: SSH_COMMAND, ...env})
}

// The fleet and the silent forges of the stories about a forge that never answers. They outlive those stories: gamma's
// push at the default bound, started with them, is looked at by the last story of this file, so that every other
// story runs while it waits.
let fleet: TestFleet
let root: string
let ssh: SilentForge
let http: SilentForge
/** gamma's push to the silent ssh:// forge at the default bound, started in the first before(): see there. */
let atDefaultBound: Promise<{run: CommandRun<unknown>; seconds: number}> | undefined

describe('never wedged: a forge that never answers', function () {
  before(async function () {
    fleet = await TestFleet.start('wedged-forge', {machines: ['alpha', 'beta', 'gamma']})
    root = fleet.root
    for (const machine of fleet.machines) {
      machine.write('.zshrc', `# ${machine.name}\n`)
    }
    // ~/.profile is gamma's to edit, in the case at the default bound; the others edit ~/.zshrc.
    fleet.machines[0].write('.profile', '# the fleet\n')
    await fleet.machines[0].addPath(['.zshrc', '.profile'])
    for (const machine of fleet.machines.slice(1)) await machine.sync()
    ssh = await SilentForge.start('tcp')
    http = await SilentForge.start('http')

    // The bound by default is 45 s of waiting on a forge that says nothing: gamma's push starts now, on a machine of
    // its own, and its case (the last of this file) looks at how it ended while the other cases have run meanwhile.
    const gamma = onSilentForge(root, 'gamma')
    await gamma.git(['remote', 'set-url', 'origin', `ssh://git@127.0.0.1:${ssh.port}/fleet.git`])
    gamma.write('.profile', '# gamma, edited while the forge is silent\n')
    const started = Date.now()
    atDefaultBound = gamma.sync({exit: 3, json: false, timeout: 85_000}).then((run) => ({run, seconds: (Date.now() - started) / 1000}))
    // Its failure, if any, is the failure of its case.
    atDefaultBound.catch(() => undefined)
  })
  for (const kind of ['ssh', 'http'] as const) {
    it(`${kind}://: a push, a fetch and a look at the forge each end with exit 3 within the bound, nothing left running, the lock released`, async function () {
      const name = kind === 'ssh' ? 'alpha' : 'beta'
      const forge = kind === 'ssh' ? ssh : http
      const url = kind === 'ssh' ? `ssh://git@127.0.0.1:${forge.port}/fleet.git` : `http://127.0.0.1:${forge.port}/fleet.git`
      const machine = onSilentForge(root, name, {FLEET_FORGE_TIMEOUT: String(BOUND)})
      // The quick path's look at the forge needs a settled machine whose forge has not moved: sync once first.
      await machine.sync()
      await machine.git(['remote', 'set-url', 'origin', url])

      const runs: Array<[string, boolean]> = [
        ['a look at the forge (the quick path)', false],
        ['a fetch', true],
      ]
      for (const [what, full] of runs) {
        const started = Date.now()
        const run = await machine.sync({full, exit: 3, json: false})
        const seconds = (Date.now() - started) / 1000
        assert.ok(seconds < 20, `${what}: it ended ${seconds} s after it started`)
        assert.match(run.stdout + run.stderr, new RegExp(`did not answer within ${BOUND} s`), what)
        assert.deepEqual(processesOf(machine), [], `${what}: nothing of ${name}'s is left running`)
        assert.equal(existsSync(machine.lockDir), false, `${what}: the lock is released`)
      }

      machine.write('.zshrc', `# ${name}, edited while the forge is silent\n`)
      const started = Date.now()
      const push = await machine.sync({exit: 3, json: false})
      assert.ok(Date.now() - started < 20_000, 'a push ends within the bound')
      assert.match(push.stdout, /Captured 1 change: ~\/\.zshrc/)
      assert.match(push.stdout, new RegExp(`did not answer within ${BOUND} s.*Local commits are kept`, 's'))
      assert.deepEqual(processesOf(machine), [], 'nothing is left running')
      assert.equal(existsSync(machine.lockDir), false, 'the lock is released')

      // The forge answers again: the kept commit travels.
      await machine.git(['remote', 'set-url', 'origin', `file://${root}/forge.git`])
      await machine.sync()
      const other = new Machine(root, name === 'alpha' ? 'beta' : 'alpha')
      await other.sync()
      assert.equal(other.read('.zshrc'), `# ${name}, edited while the forge is silent\n`)
    })
  }

  it('enroll --forge with a forge that never answers: exit 3 within the bound, no half clone left, nothing running', async function () {
    const delta = onSilentForge(root, 'delta', {FLEET_FORGE_TIMEOUT: String(BOUND)})
    const started = Date.now()
    const run = await delta.enroll(`http://127.0.0.1:${http.port}/fleet.git`, {exit: 3, json: false})
    assert.ok(Date.now() - started < 30_000)
    assert.match(run.stderr, new RegExp(`did not answer within ${BOUND} s`))
    assert.deepEqual(processesOf(delta), [])
    assert.deepEqual(delta.stagingClones(), [], 'no staging clone left behind')
  })

  it('a bad FLEET_FORGE_TIMEOUT is refused with exit 2 and says what it takes', async function () {
    const alpha = onSilentForge(root, 'alpha', {FLEET_FORGE_TIMEOUT: 'soon'})
    const run = await alpha.sync({full: true, exit: 2, json: false})
    assert.match(run.stderr, /FLEET_FORGE_TIMEOUT must be a number of seconds, not "soon"/)
    assert.match(run.stderr, /Fix: Set it to how many seconds/)
  })
})

describe('never wedged: a sync that defers to another', function () {
  let lockFleet: TestFleet
  let lockRoot: string
  let lockForge: SilentForge
  let alpha: Machine
  const sleepers: ChildProcess[] = []

  before(async function () {
    lockFleet = await TestFleet.start('wedged-lock', {machines: ['alpha']})
    lockRoot = lockFleet.root
    ;[alpha] = lockFleet.machines
    alpha.write('.zshrc', '# alpha\n')
    await alpha.addPath('.zshrc')
    lockForge = await SilentForge.start('tcp')
  })
  after(async () => {
    for (const sleeper of sleepers) sleeper.kill('SIGKILL')
    await lockForge?.stop()
    await lockFleet?.remove()
  })

  it('while a sync waits on a silent forge, a second one says who holds the lock and that it runs again; the first ends with exit 3', async function () {
    const machine = onSilentForge(lockRoot, 'alpha', {FLEET_FORGE_TIMEOUT: '8'})
    await machine.git(['remote', 'set-url', 'origin', `ssh://git@127.0.0.1:${lockForge.port}/fleet.git`])
    machine.write('.zshrc', '# alpha, edited\n')
    const first = machine.sync({exit: 3, json: false})
    const deadline = Date.now() + 8_000
    while (lockForge.connections === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(lockForge.connections > 0, 'the first sync is waiting on the forge')

    const second = await machine.sync({json: false})
    assert.match(
      second.stdout,
      /Another sync is running on this machine \(pid \d+: sync \(manual\), since \S+ \(\d+ s ago\)\); it will run once more for this one\./,
    )

    await first
    assert.equal(existsSync(machine.lockDir), false, 'the lock is released')
    assert.deepEqual(processesOf(machine), [])
    await machine.git(['remote', 'set-url', 'origin', `file://${lockRoot}/forge.git`])
    await machine.sync()
  })

  it('a lock held past the bound by a live process: sync exits 1 naming it and the fix, status says so, add-path does not wait; the fix works', async function () {
    // A live process that has held the lock for 20 minutes: what a sync stuck in a wait with no bound looks like.
    const sleeper = spawn('sleep', ['600'], {stdio: 'ignore'})
    sleepers.push(sleeper)
    const pid = sleeper.pid!
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const since = new Date(Date.now() - 20 * 60_000).toISOString()
    mkdirSync(alpha.lockDir, {recursive: true})
    writeFileSync(
      `${alpha.lockDir}/owner.json`,
      JSON.stringify({
        pid,
        host: hostname(),
        startedAt: since,
        purpose: 'sync (watcher)',
        boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
        pidStart: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
      }),
    )
    alpha.write('.zshrc', '# alpha, edited while the lock is stuck\n')

    const run = await alpha.sync({exit: 1, json: false})
    assert.match(run.stderr, new RegExp(`pid ${pid}: sync \\(watcher\\), since ${since.replace(/[.]/g, '\\.')} \\(20 min ago\\)`))
    assert.match(run.stderr, /looks stuck/)
    assert.match(run.stderr, new RegExp(`Fix: Stop it: kill ${pid} \\(then kill -9 ${pid}`))
    assert.equal((await alpha.sync({exit: 'any'})).result.outcome, 'error')

    const status = await alpha.status({json: false})
    assert.match(status.stdout, new RegExp(`Stuck: Another fleet process \\(pid ${pid}: sync \\(watcher\\)`))
    assert.match(status.stdout, new RegExp(`Fix: Stop it: kill ${pid}`))
    assert.equal((await alpha.status()).result.lock?.stuck, true)

    const started = Date.now()
    alpha.write('.vimrc', 'set nu\n')
    const add = await alpha.addPath('.vimrc', {exit: 1, json: false})
    assert.match(add.stderr, /looks stuck/)
    assert.ok(Date.now() - started < 20_000, 'a stuck holder is reported at once, not after the wait')

    // The fix, as printed.
    process.kill(pid, 'SIGTERM')
    await new Promise((resolve) => sleeper.once('exit', resolve))
    const recovered = await alpha.sync({json: false})
    assert.match(recovered.stdout, /Captured 1 change: ~\/\.zshrc/)
    assert.doesNotMatch((await alpha.status({json: false})).stdout, /Stuck|Running now/)
  })
})

describe('never wedged: a forge that never answers, at the default bound', function () {
  after(async () => {
    await ssh?.stop()
    await http?.stop()
    await atDefaultBound?.catch(() => undefined)
    await fleet?.remove()
  })

  it('at the default bound (no FLEET_FORGE_TIMEOUT): a push to a silent ssh:// forge ends with exit 3 within a minute, nothing left running', async function () {
    const gamma = onSilentForge(root, 'gamma')
    const {run, seconds} = await atDefaultBound!
    assert.ok(seconds < 60, `it ended ${seconds} s after it started`)
    assert.match(run.stdout, /did not answer within 45 s/)
    assert.deepEqual(processesOf(gamma), [])
    assert.equal(existsSync(gamma.lockDir), false)
    await gamma.git(['remote', 'set-url', 'origin', `file://${root}/forge.git`])
    await gamma.sync()
  })
})
