// Three simulated machines running their agents, the forge reached over file:// or ssh:// (BENCHMARKS.md).
import type {SyncRecord} from '../../src/lib/sync/state.ts'
import {appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import {shellWord} from '../../dist/lib/errors/shell-command.js'
import {readBranchRef} from '../../dist/lib/git/git.js'
import {controlDirectory} from '../../dist/lib/git/ssh.js'
import {fleetPaths} from '../../dist/lib/platform/paths.js'
import {statePaths} from '../../dist/lib/sync/state.js'
import {agentSettingsSchema, DEFAULT_BRANCH} from '../../dist/lib/manifest/schema.js'
import {readManifest} from '../../dist/lib/manifest/store.js'
import {QUIET_AFTER_MS} from '../../dist/lib/runners/forge-poller.js'
import {readOr, RunningAgents, setAgentSettings, waitFor} from '../../test/support/agents.ts'
import {Forge} from '../../test/support/forge.ts'
import {Machine} from '../../test/support/machine.ts'
import {Sshd} from '../../test/support/sshd.ts'
import {execPathCounter, type RequestLog, requests, sshCounter} from './forge-counter.ts'
import {cmdline, processTable, readStat, subtree} from './proc-cpu.ts'

export const APP = '.config/bench-app'
/** The managed file the benchmarks save. */
export const FILE = `${APP}/settings.conf`
/** Machine names must be lowercase; the reports call them A, B and C. */
const NAMES = ['a', 'b', 'c']
export const label = (m: Machine) => m.name.toUpperCase()

function readFileIfAny(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

export type AgentSettings = ReturnType<typeof agentSettingsSchema.parse>

export type Transport = 'file' | 'ssh'

/** The forge as the machines reach it, with their requests counted. */
export interface ForgeRoute {
  transport: Transport
  /** What every machine enrolls with. */
  url: string
  /** The request log of the machines' requests (each line's label: the machine's HOME). */
  counter: RequestLog
  /** What a machine with this HOME needs in its env to reach the forge, its requests counted under its HOME. */
  machineEnv(home: string): NodeJS.ProcessEnv
  /** For one-off runs on a machine beside its agents (the puller probe): its requests counted apart. */
  probe: {env: NodeJS.ProcessEnv; count(): number}
  /** ssh only: the sshd the forge is reached through. */
  sshd?: Sshd
  stop(): Promise<void>
}

async function fileRoute(root: string, url: string): Promise<ForgeRoute> {
  const counter = await execPathCounter(join(root, 'counter'))
  const probe = await execPathCounter(join(root, 'probe-counter'))
  return {
    transport: 'file',
    url,
    counter,
    machineEnv: () => ({GIT_EXEC_PATH: counter.execPath}),
    probe: {env: {GIT_EXEC_PATH: probe.execPath}, count: () => requests(probe).length},
    stop: async () => {},
  }
}

const PROBE_LABEL = 'probe'

/**
 * An sshd of our own (test/support/sshd.ts) in front of the bare repo at `forgePath`. Its authorized_keys is
 * rewritten (sshd reads it at every login): the fixture's own client key as it was (uncounted, for the unit
 * costs), then one key per label (each machine's HOME, and PROBE_LABEL) with the counting wrapper as forced command.
 * A machine's GIT_SSH_COMMAND is the fixture's with its own key given first (ssh offers -i keys in order).
 */
async function sshRoute(root: string, forgePath: string, homes: string[]): Promise<ForgeRoute> {
  const dir = join(root, 'counter')
  const counter = sshCounter(dir)
  const sshd = await Sshd.start(join(root, 'sshd'))
  try {
    const keys = new Map<string, string>()
    const lines = [readFileSync(`${sshd.clientKey}.pub`, 'utf8').trim()]
    for (const label of [...homes, PROBE_LABEL]) {
      const key = join(dir, `client-key-${keys.size}`)
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `fleet-bench ${keys.size}`, '-f', key])
      keys.set(label, key)
      lines.push(counter.authorizedKey(label, readFileSync(`${key}.pub`, 'utf8').trim()))
    }
    writeFileSync(join(sshd.dir, 'authorized_keys'), `${lines.join('\n')}\n`, {mode: 0o600})
    await withoutLoginScripts(sshd, join(root, 'sshd-home'))
    const base = sshd.gitSshCommand
    if (!base.startsWith('ssh ')) throw new Error(`unexpected GIT_SSH_COMMAND from the sshd fixture: ${base}`)
    const command = (label: string) => `ssh -i ${shellWord(keys.get(label)!)} ${base.slice('ssh '.length)}`
    return {
      transport: 'ssh',
      url: sshd.url(forgePath),
      counter: {log: counter.log},
      machineEnv: (home) => ({GIT_SSH_COMMAND: command(home)}),
      probe: {env: {GIT_SSH_COMMAND: command(PROBE_LABEL)}, count: () => requests(counter).filter((r) => r.home === PROBE_LABEL).length},
      sshd,
      stop: () => sshd.stop(),
    }
  } catch (error) {
    await sshd.stop()
    throw error
  }
}

/**
 * sshd runs every forge command through the login shell of the user it runs as, which reads that user's ~/.bashrc;
 * on this development machine root's starts pyenv, 0.3–0.9 s per request (no forge has that). The bench's sshd gives
 * its sessions a HOME of their own (sshd_config SetEnv, read again on SIGHUP) where no login script waits.
 */
async function withoutLoginScripts(sshd: Sshd, home: string): Promise<void> {
  mkdirSync(home, {recursive: true})
  appendFileSync(join(sshd.dir, 'sshd_config'), `SetEnv HOME=${home}\n`)
  const pid = sshdPid(sshd)
  const before = sshd.output.length
  process.kill(pid, 'SIGHUP')
  // With -D, sshd executes itself again in the same process and says that it listens once it does.
  const deadline = Date.now() + 10_000
  while (!/Server listening/.test(sshd.output.slice(before))) {
    if (Date.now() > deadline) throw new Error(`sshd did not come back after SIGHUP:\n${sshd.output.slice(before)}`)
    await sleep(25)
  }
  const probe = await execa('ssh', [...sshd.clientOptions(sshd.clientKey), '-l', sshd.user, '127.0.0.1', 'printf %s "$HOME"'], {reject: false, stdin: 'ignore'})
  if (String(probe.stdout) !== home) throw new Error(`sshd's sessions do not get HOME=${home}: ${String(probe.stdout)} ${String(probe.stderr)}`)
}

/** The ssh masters (see git/ssh.ts) a machine's watcher keeps, by their title `ssh: <socket> [mux]`: its shared connections. */
export function sharedConnectionPids(machine: Machine): number[] {
  const dir = controlDirectory(machine.env)
  const pids: number[] = []
  for (const p of processTable().values()) {
    const title = /^ssh: (\S+) \[mux\]/.exec(cmdline(p.pid).join(' '))
    if (dir && title?.[1].startsWith(`${dir}/`)) pids.push(p.pid)
  }
  return pids
}

/** The listening sshd of the fixture: a child of this process (execa, no shell). */
export function sshdPid(sshd: Sshd): number {
  try {
    const fromFile = Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8').trim())
    if (readStat(fromFile)?.ppid === process.pid) return fromFile
  } catch {
    // no pid file: look for it
  }
  const config = join(sshd.dir, 'sshd_config')
  for (const p of processTable().values()) if (p.ppid === process.pid && cmdline(p.pid).includes(config)) return p.pid
  throw new Error(`cannot find the sshd listening on port ${sshd.port}`)
}

type SyncLogEntry = SyncRecord & {machine: string}

/** A machine's sync log: one record per sync, oldest first. */
export function syncLog(machine: Machine): SyncLogEntry[] {
  const text = readFileIfAny(statePaths(fleetPaths(machine.env)).log)
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SyncLogEntry)
}

/** Syncs by "reason → outcome", from a machine's log, between two Date.now() moments. */
export function syncsBetween(machine: Machine, from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const entry of syncLog(machine)) {
    const at = Date.parse(entry.at)
    if (at < from || at > to) continue
    const key = `${entry.reason} → ${entry.outcome}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** The fleet's branch on the forge, read without a process (see readBranchRef); '' before the first push. */
export function forgeHead(forge: Forge): string {
  return readBranchRef(forge.path, DEFAULT_BRANCH) ?? ''
}

export class BenchFleet {
  readonly root: string
  /** The bare repo on this disk (read directly by the bench whatever the machines reach it through). */
  readonly forge: Forge
  readonly route: ForgeRoute
  readonly machines: Machine[]
  readonly running: RunningAgents[] = []
  settings!: AgentSettings

  private constructor(root: string, forge: Forge, route: ForgeRoute) {
    this.root = root
    this.forge = forge
    this.route = route
    this.machines = NAMES.map((name) => new Machine(root, name, route.machineEnv(join(root, name))))
  }

  get counter(): RequestLog {
    return this.route.counter
  }

  /**
   * Enrolled, approved, one managed directory with one file everywhere; no agents yet. Removes its dir on failure.
   * `overrides` of the agent settings are for what-if runs only: npm run bench always measures the defaults.
   * `transport`: the machines reach the bare repo over file:// (default) or over ssh:// through an sshd of our own.
   */
  static async create(label: string, overrides: Partial<AgentSettings> = {}, transport: Transport = 'file'): Promise<BenchFleet> {
    const root = mkdtempSync(join(tmpdir(), `fleet-bench-${label}-`))
    let route: ForgeRoute | undefined
    try {
      const forge = await Forge.create(join(root, 'forge'))
      route =
        transport === 'ssh'
          ? await sshRoute(
              root,
              forge.path,
              NAMES.map((name) => join(root, name)),
            )
          : await fileRoute(root, forge.url)
      const fleet = new BenchFleet(root, forge, route)
      await fleet.setUp(overrides)
      return fleet
    } catch (error) {
      try {
        await route?.stop()
      } finally {
        rmSync(root, {recursive: true, force: true})
      }
      throw error
    }
  }

  get home(): Record<string, Machine> {
    return Object.fromEntries(this.machines.map((m) => [m.home, m]))
  }

  private async setUp(overrides: Partial<AgentSettings>): Promise<void> {
    const [a, ...others] = this.machines
    await a.enroll(this.route.url)
    for (const m of others) {
      await m.enroll(this.route.url)
      await a.ok(['machines', 'approve', m.name])
    }
    a.write(FILE, 'v0\n')
    await a.ok(['add-path', a.path(APP)])
    if (Object.keys(overrides).length > 0) await setAgentSettings(a, overrides)
    for (const m of others) await m.ok(['sync'])
    const roster = (await a.ok(['machines', 'list', '--json'])).json<{machines: Array<{name: string; state: string}>}>()
    const inactive = roster.machines.filter((m) => m.state !== 'active')
    if (inactive.length > 0 || roster.machines.length !== NAMES.length) throw new Error(`not every machine is active: ${JSON.stringify(roster.machines)}`)
    for (const m of this.machines) if (readOr(m, FILE) !== 'v0\n') throw new Error(`${label(m)} does not have ${FILE} before the agents start`)
    // Enrolling and syncing asked the forge: every machine's requests must have been counted, under its HOME.
    const counted = new Set(requests(this.counter).map((r) => r.home))
    for (const m of this.machines) if (!counted.has(m.home)) throw new Error(`no forge request of ${label(m)} was counted (${this.route.transport} route)`)
    // The shipped defaults, untouched (unless a what-if run asked for overrides): the point is what they give
    // (BENCHMARKS.md, "Three machines running their agents"); refuse to measure anything else.
    const expected = agentSettingsSchema.parse(overrides)
    for (const m of this.machines) {
      const settings = (await readManifest(m.sourceDir)).settings.agents
      if (JSON.stringify(settings) !== JSON.stringify(expected))
        throw new Error(`${m.name} has agent settings ${JSON.stringify(settings)}, not ${JSON.stringify(expected)}`)
    }
    this.settings = expected
  }

  /** `fleet agents run` on every machine; resolves once each watcher watches and the start-up syncs are over. */
  async startAgents(): Promise<void> {
    for (const m of this.machines) this.running.push(new RunningAgents(m))
    await waitFor('every watcher to start', () => this.running.every((r) => /watching \d+ managed path/.test(r.output)), 60_000)
    // Start-up: the watcher's first sync (watcher-start) and the puller's first run. Over when each watcher has
    // logged its first sync and the supervisor has no child but the watcher, and the watcher none.
    await waitFor(
      'the start-up syncs to finish',
      () =>
        this.running.every((r) => {
          if (!/\[watcher\] .*sync \(watcher-start/.test(r.output)) return false
          const tree = subtree(processTable(), r.process.pid!)
          return tree.length === 2
        }),
      120_000,
      250,
    )
  }

  /** Quiet: nothing synced anywhere for `quietMs` (the log and the forge unchanged). */
  async settle(quietMs: number): Promise<void> {
    const deadline = Date.now() + 180_000
    for (;;) {
      const head = forgeHead(this.forge)
      const logs = this.machines.map((m) => syncLog(m).length)
      await sleep(quietMs)
      if (forgeHead(this.forge) === head && this.machines.every((m, i) => syncLog(m).length === logs[i])) return
      if (Date.now() > deadline) throw new Error('the fleet did not go quiet within 3 minutes')
    }
  }

  /**
   * Wait until every watcher has said the fleet is quiet (it asks the forge every quietCheckSeconds then: see
   * ForgePoller), and has not said it is active since: QUIET_AFTER_MS after the last sync or change on the forge.
   */
  async waitQuiet(): Promise<void> {
    const pace = (output: string) => [...output.matchAll(/the fleet (has been quiet|is active)/g)].at(-1)?.[1]
    await waitFor('every watcher to find the fleet quiet', () => this.running.every((r) => pace(r.output) === 'has been quiet'), QUIET_AFTER_MS + 180_000, 500)
  }

  /** Lines in the agents' output that look like trouble (errors, restarts, conflicts, offline). */
  trouble(): string[] {
    const lines: string[] = []
    for (const r of this.running) {
      for (const line of r.output.split('\n')) {
        if (/error|fail|exited|restarting|offline|conflict|warn|deferred/i.test(line)) lines.push(`${label(r.machine)}: ${line}`)
      }
    }
    return lines
  }

  /** SIGTERM every supervisor and wait; SIGKILL what is left after the supervisor's own grace. Safe to repeat. */
  async stopAgents(): Promise<void> {
    await Promise.all(
      this.running.map(async (r) => {
        const pid = r.process.pid
        const killer = setTimeout(() => {
          for (const p of pid ? subtree(processTable(), pid) : []) {
            try {
              process.kill(p.pid, 'SIGKILL')
            } catch {
              // gone
            }
          }
        }, 150_000)
        try {
          await r.stop()
        } finally {
          clearTimeout(killer)
        }
      }),
    )
  }

  /** Stop the agents, anything else of ours, the route (sshd); remove the dir. */
  async dispose(): Promise<void> {
    try {
      await this.stopAgents()
      // Anything still running with a HOME of ours (e.g. a child the supervisor lost): stop it too.
      for (const pid of this.leftovers()) {
        try {
          process.kill(pid, 'SIGTERM')
        } catch {
          // gone
        }
      }
    } finally {
      try {
        await this.route.stop()
      } finally {
        rmSync(this.root, {recursive: true, force: true})
      }
    }
  }

  leftovers(): number[] {
    const pids: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
      try {
        const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')
        if (environ.some((v) => v.startsWith(`HOME=${this.root}/`))) pids.push(Number(entry))
      } catch {
        // gone, or not ours to read
      }
    }
    return pids
  }
}

/** The agent settings a report ran with, and whether they are the shipped defaults. */
export function settingsText(s: AgentSettings): string {
  const what = JSON.stringify(s) === JSON.stringify(agentSettingsSchema.parse({})) ? 'shipped defaults' : 'WHAT-IF settings, not the defaults'
  return `${what}: debounce ${s.debounceMs} ms, ceiling ${s.maxDelayMs} ms, forge check every ${s.remoteCheckSeconds} s while active / ${s.quietCheckSeconds} s once quiet (${QUIET_AFTER_MS / 60_000} min), puller every ${s.pullIntervalSeconds} s`
}
