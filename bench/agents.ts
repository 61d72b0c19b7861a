// The background agents with their shipped default settings, on a fleet of three simulated machines (own HOMEs, one
// bare forge over file://), each running real agents through `fleet agents run` (the watcher and the puller):
//
//  - propagation: how long a save on A takes to reach B and C (≥ 20 saves, one at a time, each with unique content);
//  - idle:        what an idle fleet costs each machine: CPU seconds per hour of the whole agent process tree, and
//                 forge requests per minute, beside an idle `node` process measured over the same window.
//  - idle-ssh:    the same with the forge reached over ssh:// (an sshd of the bench's own on 127.0.0.1, from
//                 test/support/sshd.ts), so every forge check is a real `git ls-remote` through an ssh client;
//                 beside it the sshd side's CPU per request, and a what-if for SSH connection multiplexing.
//
// Nothing in the fleet's settings is shortened: the point is the defaults (debounce, ceiling, remote check, puller).
//
// Propagation timing. Each save writes unique content to A's managed file; from just before that write this process
// polls every 50 ms: the forge's branch (read from the bare repo's ref file, no process), B's file and C's file. The
// receivers' logs tell which of their syncs applied it. Between saves, a random pause of 1 s plus up to one
// forge-check period (see benchPropagation for why).
//
// Counting forge requests. Over file:// (and ssh://) every request is one server-side process: `git-upload-pack`
// for ls-remote, fetch and clone, `git-receive-pack` for push. git starts the local one through `sh -c`, but with
// its exec-path put first on PATH, so a wrapper earlier on PATH is never reached (checked: git 2.39). Instead each
// machine's env sets GIT_EXEC_PATH to a directory of our own: symlinks to every entry of the real `git --exec-path`,
// except git-upload-pack and git-receive-pack, which are two-line sh scripts that append "<kind> $HOME" to a log
// (one O_APPEND write, so lines from concurrent requests never mix) and `exec` the real program. The log's lines
// between two moments are the requests each machine made. The cost is one dash start per request (measured and
// printed: "counting wrapper" below).
//
// Over ssh:// that cannot work: sshd passes none of the client's environment (no AcceptEnv, PermitUserEnvironment
// off) and starts `git-upload-pack '<path>'` through the remote user's shell by PATH, not through git's exec-path.
// So the counter sits in sshd instead: every machine has a client key of its own, listed in the sshd's
// authorized_keys with a forced command, `command="<wrapper> <machine's HOME>"`. The wrapper (dash) appends
// "<kind> <HOME>" to the same kind of log (kind from $SSH_ORIGINAL_COMMAND) and `eval exec`s what the client asked
// for. Its cost is on the server; the client side (what the idle targets are about) runs exactly as uncounted.
//
// CPU of an agent tree, short-lived processes included. /proc/<pid>/stat has utime+stime (the process's own CPU)
// and cutime+cstime (the CPU of every child it has waited for, each with the cutime of the children *that* child
// waited for, and so on). So the CPU a tree has ever used is Σ over its living processes of
// utime+stime+cutime+cstime: a process that ran and was reaped in between (a `git ls-remote`, its upload-pack, a
// puller's `fleet sync` with its git and chezmoi) has moved into its parent's cutime/cstime. The difference of that
// sum between the start and the end of the window is the CPU the tree used in the window: a process alive at the start
// that died meanwhile is in its parent's cutime at the end with its whole life, and was in the start sum with what it
// had used by then. A snapshot is taken twice in a row and retried until both list the same processes, so a child
// reaped between reading it and reading its parent is neither lost nor counted twice. What this misses: a process
// reparented away (a daemonising `git gc --auto`; none appeared here) and a zombie's time not yet reaped (ms).
// Resolution: clock ticks (10 ms) per living process per snapshot.
//
// The puller runs every pullIntervalSeconds (300 s by default) and once at start-up, so a 180 s window may hold no run
// of it at all. The per-hour figure is therefore given twice: "window" (exactly what the window measured, × 3600 /
// window) and "steady" (the window without any puller run in it, plus one puller run's measured cost × runs per hour).
// One puller run's cost is measured with `fleet sync --reason bench-puller --json` on the same machine afterwards
// (the puller's exact argv but for the reason; GNU time for its CPU; a counter of its own for its requests).
import type {SyncRecord} from '../src/lib/sync/state.ts'
import {randomUUID} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa, type ResultPromise} from 'execa'

import {agentSettingsSchema} from '../dist/lib/manifest/schema.js'
import {readManifest} from '../dist/lib/manifest/store.js'
import {readOr, RunningAgents, setAgentSettings, waitFor} from '../test/support/agents.ts'
import {FLEET_BIN, NODE} from '../test/support/cli.ts'
import {Forge} from '../test/support/forge.ts'
import {Machine} from '../test/support/machine.ts'
import {Sshd} from '../test/support/sshd.ts'
import {timeProcessCpu} from './support/process-time.ts'
import {type Distribution, distribution, fmt, median, type Target} from './support/stats.ts'
import {toolVersions} from './support/tool-versions.ts'

const APP = '.config/bench-app'
const FILE = `${APP}/settings.conf`
/** Machine names must be lowercase; the reports call them A, B and C. */
const NAMES = ['a', 'b', 'c']
const label = (m: Machine) => m.name.toUpperCase()
const SYNC_LOG = '.local/state/fleet/log/sync.jsonl'
/** A save that has not reached a machine by then is a failure of the benchmark (the puller alone takes ≤ 300 s). */
const PROPAGATION_TIMEOUT_MS = 420_000

type AgentSettings = ReturnType<typeof agentSettingsSchema.parse>

// ---------------------------------------------------------------------------------------------------------------
// Counting forge requests

interface ForgeCounter {
  execPath: string
  log: string
}

interface Request {
  kind: 'upload-pack' | 'receive-pack' | 'other'
  /** The machine's HOME (or PROBE_LABEL for the ssh route's probe key). */
  home: string
}

let realExecPath: string | undefined

async function forgeCounter(dir: string): Promise<ForgeCounter> {
  realExecPath ??= String((await execa('git', ['--exec-path'])).stdout).trim()
  const execPath = join(dir, 'exec-path')
  const log = join(dir, 'requests.log')
  mkdirSync(execPath, {recursive: true})
  writeFileSync(log, '')
  const counted = ['git-upload-pack', 'git-receive-pack']
  for (const entry of readdirSync(realExecPath)) if (!counted.includes(entry)) symlinkSync(join(realExecPath, entry), join(execPath, entry))
  for (const name of counted) {
    const script = `#!/bin/sh\n# fleet bench: count this forge request, then be the real ${name}.\necho "${name.slice(4)} $HOME" >> '${log}'\nexec '${join(realExecPath, name)}' "$@"\n`
    writeFileSync(join(execPath, name), script, {mode: 0o755})
  }
  return {execPath, log}
}

function requests(counter: {log: string}): Request[] {
  return readFileSync(counter.log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ')
      return {kind: line.slice(0, space) as Request['kind'], home: line.slice(space + 1)}
    })
}

// ---------------------------------------------------------------------------------------------------------------
// How the machines reach the forge

type Transport = 'file' | 'ssh'

/** The forge as the machines reach it, with their requests counted. */
interface ForgeRoute {
  transport: Transport
  /** What every machine enrolls with. */
  url: string
  /** The request log of the machines' requests (each line's label: the machine's HOME). */
  counter: {log: string}
  /** What a machine with this HOME needs in its env to reach the forge, its requests counted under its HOME. */
  machineEnv(home: string): NodeJS.ProcessEnv
  /** For one-off runs on a machine beside its agents (the puller probe): its requests counted apart. */
  probe: {env: NodeJS.ProcessEnv; count(): number}
  /** ssh only: the sshd the forge is reached through. */
  sshd?: Sshd
  stop(): Promise<void>
}

/** Quote for the POSIX shell (git runs GIT_SSH_COMMAND through sh; sshd runs a forced command through the user's shell). */
function shQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

async function fileRoute(root: string, url: string): Promise<ForgeRoute> {
  const counter = await forgeCounter(join(root, 'counter'))
  const probe = await forgeCounter(join(root, 'probe-counter'))
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
  mkdirSync(dir, {recursive: true})
  const log = join(dir, 'requests.log')
  writeFileSync(log, '')
  const wrapper = join(dir, 'count-ssh-request')
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      '# fleet bench: sshd runs this for every login with a counted key (a forced command in authorized_keys):',
      '# count the request under the label it is given, then be what the client asked for.',
      'case "$SSH_ORIGINAL_COMMAND" in',
      "  git-upload-pack\\ *|git\\ upload-pack\\ *) kind=upload-pack ;;",
      "  git-receive-pack\\ *|git\\ receive-pack\\ *) kind=receive-pack ;;",
      '  *) kind=other ;;',
      'esac',
      `echo "$kind $1" >> ${shQuote(log)}`,
      'eval "exec $SSH_ORIGINAL_COMMAND"',
      '',
    ].join('\n'),
    {mode: 0o755},
  )
  const sshd = await Sshd.start(join(root, 'sshd'))
  try {
    const keys = new Map<string, string>()
    const lines = [readFileSync(`${sshd.clientKey}.pub`, 'utf8').trim()]
    for (const label of [...homes, PROBE_LABEL]) {
      // The forced command sits in double quotes in authorized_keys: nothing in it may need escaping there.
      if (/["\\\n]/.test(wrapper + label)) throw new Error(`cannot put ${label} into a forced command`)
      const key = join(dir, `client-key-${keys.size}`)
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `fleet-bench ${keys.size}`, '-f', key])
      keys.set(label, key)
      const options = [`command="${shQuote(wrapper)} ${shQuote(label)}"`, 'no-pty', 'no-port-forwarding', 'no-agent-forwarding', 'no-X11-forwarding']
      lines.push(`${options.join(',')} ${readFileSync(`${key}.pub`, 'utf8').trim()}`)
    }
    writeFileSync(join(sshd.dir, 'authorized_keys'), `${lines.join('\n')}\n`, {mode: 0o600})
    const base = sshd.gitSshCommand
    if (!base.startsWith('ssh ')) throw new Error(`unexpected GIT_SSH_COMMAND from the sshd fixture: ${base}`)
    const command = (label: string) => `ssh -i ${shQuote(keys.get(label)!)} ${base.slice('ssh '.length)}`
    const counter = {log}
    return {
      transport: 'ssh',
      url: sshd.url(forgePath),
      counter,
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

// ---------------------------------------------------------------------------------------------------------------
// CPU from /proc

let clockTicks = 100

interface ProcStat {
  pid: number
  ppid: number
  /** Start time (ticks since boot): with pid, a process's identity. */
  start: number
  /** utime + stime, ticks. */
  self: number
  /** cutime + cstime, ticks: children waited for, with theirs. */
  reaped: number
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name is in parentheses and may hold spaces: fields count from the last ')'. Field 3 (state) first.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {pid, ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]), start: Number(f[19])}
  } catch {
    return undefined // gone
  }
}

function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat) table.set(stat.pid, stat)
  }
  return table
}

function subtree(table: Map<number, ProcStat>, root: number): ProcStat[] {
  const rootStat = table.get(root)
  if (!rootStat) return []
  const found = [rootStat]
  for (let i = 0; i < found.length; i++) for (const stat of table.values()) if (stat.ppid === found[i].pid) found.push(stat)
  return found
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/** One machine's agent tree at one moment, in ticks. */
interface TreeCpu {
  at: number
  /** Σ self + reaped over the living tree: everything the tree has used. */
  total: number
  supervisorSelf: number
  /** Reaped by the supervisor: puller runs (and a watcher that died). */
  supervisorReaped: number
  watcher?: string
  watcherSelf: number
  /** Reaped by the watcher: its git ls-remote / git remote get-url, and the git and chezmoi of its syncs. */
  watcherReaped: number
  processes: string[]
}

function treeCpu(root: number): TreeCpu {
  for (let attempt = 0; ; attempt++) {
    const first = subtree(processTable(), root)
    const at = performance.now()
    const second = subtree(processTable(), root)
    const ids = (tree: ProcStat[]) => tree.map((p) => `${p.pid}:${p.start}`).sort().join(',')
    if (ids(first) !== ids(second) && attempt < 20) continue
    const supervisor = second.find((p) => p.pid === root)
    const watcher = second.find((p) => p.ppid === root && cmdline(p.pid).includes('watch'))
    return {
      at,
      total: second.reduce((sum, p) => sum + p.self + p.reaped, 0),
      supervisorSelf: supervisor?.self ?? 0,
      supervisorReaped: supervisor?.reaped ?? 0,
      watcher: watcher ? `${watcher.pid}:${watcher.start}` : undefined,
      watcherSelf: watcher?.self ?? 0,
      watcherReaped: watcher?.reaped ?? 0,
      processes: second.map((p) => `${p.pid}:${p.start}`),
    }
  }
}

const seconds = (ticks: number) => ticks / clockTicks

// ---------------------------------------------------------------------------------------------------------------
// The fleet

type SyncLogEntry = SyncRecord & {machine: string}

function syncLog(machine: Machine): SyncLogEntry[] {
  const text = readOr(machine, SYNC_LOG) ?? ''
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as SyncLogEntry)
}

/** Syncs by "reason → outcome", from a machine's log, between two Date.now() moments. */
function syncsBetween(machine: Machine, from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const entry of syncLog(machine)) {
    const at = Date.parse(entry.at)
    if (at < from || at > to) continue
    const key = `${entry.reason} → ${entry.outcome}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** The forge's main without a process: its loose ref, else packed-refs. */
function forgeHead(forge: Forge): string {
  try {
    return readFileSync(join(forge.path, 'refs/heads/main'), 'utf8').trim()
  } catch {
    let packed = ''
    try {
      packed = readFileSync(join(forge.path, 'packed-refs'), 'utf8')
    } catch {
      // no refs at all yet
    }
    return /^([0-9a-f]+) refs\/heads\/main$/m.exec(packed)?.[1] ?? ''
  }
}

class BenchFleet {
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

  get counter(): {log: string} {
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
      route = transport === 'ssh' ? await sshRoute(root, forge.path, NAMES.map((name) => join(root, name))) : await fileRoute(root, forge.url)
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
    // The shipped defaults, untouched (unless a what-if run asked for overrides): refuse to measure anything else.
    const expected = agentSettingsSchema.parse(overrides)
    for (const m of this.machines) {
      const settings = (await readManifest(m.sourceDir)).settings.agents
      if (JSON.stringify(settings) !== JSON.stringify(expected)) throw new Error(`${m.name} has agent settings ${JSON.stringify(settings)}, not ${JSON.stringify(expected)}`)
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

function settingsText(s: AgentSettings): string {
  const what = JSON.stringify(s) === JSON.stringify(agentSettingsSchema.parse({})) ? 'shipped defaults' : 'WHAT-IF settings, not the defaults'
  return `${what}: debounce ${s.debounceMs} ms, ceiling ${s.maxDelayMs} ms, forge check every ${s.remoteCheckSeconds} s, puller every ${s.pullIntervalSeconds} s`
}

// ---------------------------------------------------------------------------------------------------------------
// propagation

export interface Save {
  i: number
  /** Write on A → the forge's main moved (A's watcher: debounce, capture, commit, push). */
  forgeMs: number
  bMs: number
  cMs: number
  /** The reason of the sync that applied it on B and on C (from their sync logs). */
  bReason?: string
  cReason?: string
}

export interface PropagationReport {
  node: string
  git: string
  chezmoi: string
  settings: AgentSettings
  saves: Save[]
  pauseMs: [number, number]
  pollMs: number
  distributions: Record<'A → forge' | 'forge → B' | 'forge → C' | 'B' | 'C' | 'B and C pooled' | 'both (later of B, C)', Distribution>
  deliveredBy: Record<string, number>
  /** New commits on the forge's main during the saves (one per save expected). */
  commits: number
  syncs: Record<string, Record<string, number>>
  forgeRequests: Record<string, Record<string, number>>
  trouble: string[]
  baseline: string
  targets: Target[]
}

export const TEMPLATE_BASELINE =
  "the template's design (not a measurement): on the saving machine a 2 s settle + a 2 s watcher, then each receiver's 300 s poll → p50 ≈ 150 s, worst ≈ 7 min"

export async function benchPropagation(options: {saves?: number; pollMs?: number; settings?: Partial<AgentSettings>} = {}): Promise<PropagationReport> {
  const saves = options.saves ?? Number(process.env.BENCH_PROPAGATION_SAVES ?? 20)
  const pollMs = options.pollMs ?? 50
  const fleet = await BenchFleet.create('propagation', options.settings)
  try {
    const [a, b, c] = fleet.machines
    // The pause after a save has arrived everywhere: at least 1 s, plus a random part as long as the receivers'
    // forge-check period. Each receiver asks the forge on a fixed setInterval; with a pause of 1–2 s the next save
    // would land at almost the same phase of that interval every time (the previous arrival was itself set by it),
    // and every save would wait about as long for the next check (a first try measured forge → B at 1.0–1.3 s
    // for every save). Spreading the pause over one whole period samples every phase.
    const pauseMs: [number, number] = [1000, 1000 + fleet.settings.remoteCheckSeconds * 1000]
    await fleet.startAgents()
    await fleet.settle(8000)
    const commitsBefore = Number((await fleet.forge.git(['rev-list', '--count', 'main'])).trim())
    const requestsBefore = requests(fleet.counter).length
    const from = Date.now()
    const results: Save[] = []
    const writes: Array<{at: number; content: string}> = []
    for (let i = 1; i <= saves; i++) {
      const content = `save ${i} ${randomUUID()}\n`
      const headBefore = forgeHead(fleet.forge)
      const wroteAt = Date.now()
      const t0 = performance.now()
      a.write(FILE, content)
      let forgeMs: number | undefined
      let bMs: number | undefined
      let cMs: number | undefined
      while (bMs === undefined || cMs === undefined) {
        const now = performance.now() - t0
        if (forgeMs === undefined && forgeHead(fleet.forge) !== headBefore) forgeMs = now
        if (bMs === undefined && readOr(b, FILE) === content) bMs = now
        if (cMs === undefined && readOr(c, FILE) === content) cMs = now
        if (now > PROPAGATION_TIMEOUT_MS) {
          throw new Error(`save ${i} did not reach ${bMs === undefined ? 'B' : ''}${cMs === undefined ? ' C' : ''} in ${PROPAGATION_TIMEOUT_MS / 1000} s\n${fleet.running.map((r) => `--- ${label(r.machine)}\n${r.output.slice(-3000)}`).join('\n')}`)
        }
        await sleep(pollMs)
      }
      results.push({i, forgeMs: forgeMs ?? Math.min(bMs, cMs), bMs, cMs})
      writes.push({at: wroteAt, content})
      process.stderr.write(`  propagation: save ${i}/${saves}: B ${fmt(bMs)}, C ${fmt(cMs)}\n`)
      await sleep(pauseMs[0] + Math.random() * (pauseMs[1] - pauseMs[0]))
    }
    const to = Date.now()
    await sleep(3000) // the last syncs' log lines

    // Which sync delivered each save: the receiver's log entry that started after the write and applied the file.
    const deliveredBy: Record<string, number> = {}
    const reasonFor = (m: Machine, save: Save, wroteAt: number, arrivedMs: number) => {
      const entry = syncLog(m).find((e) => {
        const at = Date.parse(e.at)
        return at >= wroteAt - 1000 && at <= wroteAt + arrivedMs + 1000 && e.applied.some((p) => p === FILE || FILE.startsWith(`${p}/`))
      })
      const reason = entry?.reason ?? 'unknown'
      deliveredBy[`${label(m)}: ${reason}`] = (deliveredBy[`${label(m)}: ${reason}`] ?? 0) + 1
      return reason
    }
    results.forEach((save, k) => {
      save.bReason = reasonFor(b, save, writes[k].at, save.bMs)
      save.cReason = reasonFor(c, save, writes[k].at, save.cMs)
    })

    const commits = Number((await fleet.forge.git(['rev-list', '--count', 'main'])).trim()) - commitsBefore
    const forgeRequests: Record<string, Record<string, number>> = {}
    for (const r of requests(fleet.counter).slice(requestsBefore)) {
      const owner = fleet.home[r.home]
      const name = owner ? label(owner) : r.home
      forgeRequests[name] ??= {}
      forgeRequests[name][r.kind] = (forgeRequests[name][r.kind] ?? 0) + 1
    }
    const syncs = Object.fromEntries(fleet.machines.map((m) => [label(m), syncsBetween(m, from, to + 3000)]))

    const bs = results.map((s) => s.bMs)
    const cs = results.map((s) => s.cMs)
    const distributions = {
      'A → forge': distribution(results.map((s) => s.forgeMs)),
      'forge → B': distribution(results.map((s) => s.bMs - s.forgeMs)),
      'forge → C': distribution(results.map((s) => s.cMs - s.forgeMs)),
      B: distribution(bs),
      C: distribution(cs),
      'B and C pooled': distribution([...bs, ...cs]),
      'both (later of B, C)': distribution(results.map((s) => Math.max(s.bMs, s.cMs))),
    }
    const pooled = distributions['B and C pooled']
    const both = distributions['both (later of B, C)']
    const targets: Target[] = [
      {name: 'p50, B and C pooled', target: '≤ 10 s', value: pooled.p50Ms / 1000, unit: 's', met: pooled.p50Ms <= 10_000},
      {name: 'p95, B and C pooled', target: '≤ 20 s', value: pooled.p95Ms / 1000, unit: 's', met: pooled.p95Ms <= 20_000},
      {name: 'p50, both (later of B, C)', target: '≤ 10 s', value: both.p50Ms / 1000, unit: 's', met: both.p50Ms <= 10_000},
      {name: 'p95, both (later of B, C)', target: '≤ 20 s', value: both.p95Ms / 1000, unit: 's', met: both.p95Ms <= 20_000},
    ]
    return {
      ...(await toolVersions()),
      settings: fleet.settings,
      saves: results,
      pauseMs,
      pollMs,
      distributions,
      deliveredBy,
      commits,
      syncs,
      forgeRequests,
      trouble: fleet.trouble(),
      baseline: TEMPLATE_BASELINE,
      targets,
    }
  } finally {
    await fleet.dispose()
  }
}

export function printPropagation(report: PropagationReport): void {
  console.log(`\nPropagation: a save on A until it is on B and on C (${report.saves.length} saves, one at a time, unique content; polled every ${report.pollMs} ms; then a random pause of ${report.pauseMs[0] / 1000}–${report.pauseMs[1] / 1000} s (one forge-check period wide, so saves fall at every phase of the receivers' checks); Node ${report.node}; ${report.git}; ${report.chezmoi})`)
  console.log(`  three machines, real agents (fleet agents run), ${settingsText(report.settings)}`)
  console.log(`  ${''.padEnd(22)} ${'n'.padStart(3)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)} ${'min'.padStart(8)}`)
  for (const [name, d] of Object.entries(report.distributions)) {
    console.log(`  ${name.padEnd(22)} ${String(d.n).padStart(3)} ${fmt(d.p50Ms).padStart(8)} ${fmt(d.p95Ms).padStart(8)} ${fmt(d.maxMs).padStart(8)} ${fmt(d.minMs).padStart(8)}`)
  }
  console.log(`  baseline: ${report.baseline}`)
  const templateP50 = 150_000
  const both = report.distributions['both (later of B, C)']
  console.log(`  template p50 / fleet p50 (both): ${(templateP50 / both.p50Ms).toFixed(0)}× (against the template's design figure)`)
  console.log(`  delivered by (the receiver's sync that applied it): ${Object.entries(report.deliveredBy).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log(`  forge commits during the saves: ${report.commits} for ${report.saves.length} saves`)
  for (const [name, counts] of Object.entries(report.syncs)) {
    console.log(`  syncs on ${name}: ${Object.entries(counts).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`)
  }
  for (const [name, counts] of Object.entries(report.forgeRequests)) {
    console.log(`  forge requests by ${name} during the saves: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }
  if (report.trouble.length > 0) {
    console.log(`  agents' output worth a look (${report.trouble.length} line(s)):`)
    for (const line of report.trouble.slice(0, 12)) console.log(`    ${line}`)
  }
  console.log('  Targets')
  for (const t of report.targets) console.log(`    ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(28)} ${t.value.toFixed(2).padStart(7)} ${t.unit}  (target ${t.target})`)
}

// ---------------------------------------------------------------------------------------------------------------
// idle (over file://) and idle-ssh (the same fleet, the forge reached over ssh://)

export interface MachineIdle {
  machine: string
  cpuSeconds: {
    total: number
    supervisorSelf: number
    /** Puller runs that ended in the window (and a restarted watcher, if any). */
    supervisorReaped: number
    watcherSelf: number
    /** git ls-remote (with its upload-pack over file://, its sh and ssh over ssh://), git remote get-url; a sync's git and chezmoi. */
    watcherReaped: number
    /** Processes alive at either end other than the supervisor and the watcher. */
    other: number
  }
  watcherRestarted: boolean
  /** Extrapolated from the window as measured. */
  cpuSecondsPerHourWindow: number
  /** The window without puller runs + one puller run's cost × runs per hour. */
  cpuSecondsPerHourSteady: number
  /** The same less what the counting wrapper added on this machine (its measured cost × requests): the agents alone. */
  cpuSecondsPerHourSteadyUncounted: number
  requests: Record<string, number>
  requestsPerMinuteWindow: number
  requestsPerMinuteSteady: number
  syncsInWindow: Record<string, number>
  /** CPU per forge check by the watcher: watcherReaped + a share of watcherSelf, per request. */
  watcherCpuMsPerRequest: number
  puller: {runs: number; cpuMs: number; wallMs: number; requests: number; outcomes: string[]}
}

export interface UnitCost {
  /** Per run: the process with its children, from this process's cutime/cstime. */
  childMs: number
  /** Per run: this node process's own CPU to spawn and reap it through execa. */
  spawnerMs: number
  /** ssh only, per run: the sshd's CPU for it (the listening sshd's tree: each connection's sshd, the login shell, the forced command, git-upload-pack). */
  serverMs?: number
}

/** What-if (not what fleet does): the forge check over ssh with OpenSSH connection multiplexing. */
export interface MuxWhatIf {
  /** Appended to the sshd fixture's GIT_SSH_COMMAND. */
  options: string
  runs: number
  /** The first connection, which becomes the master: git ls-remote with its ssh up to the detach, plus the master by then. */
  firstMs: number
  /** Per later check: git ls-remote with its sh and its ssh (a mux client of the master). */
  clientMs: number
  /** Per later check: the background master's CPU (a descendant of nothing of ours once ssh has detached it). */
  masterMs: number
  spawnerMs: number
  serverMs: number
  /** clientMs + masterMs: what one check costs the machine. */
  perCheckMs: number
  /** The worst machine's steady CPU s/h with each request's client cost (ssh, uncounted) replaced by perCheckMs: an estimate. */
  estimatedCpuSecondsPerHour: number
}

export interface IdleReport {
  transport: Transport
  forgeUrl: string
  node: string
  git: string
  chezmoi: string
  settings: AgentSettings
  windowSeconds: number
  cpuMethod: string
  requestMethod: string
  machines: MachineIdle[]
  baseline: {what: string; cpuSeconds: number; cpuSecondsPerHour: number}
  /** Each machine's steady CPU per hour (less wrapper) over the idle node's. */
  ratio: Record<string, number>
  forgeCommitsInWindow: number
  /** Direct costs, for the explanation: one `git ls-remote` as the watcher runs it, one `git remote get-url`. */
  unitCosts: {
    runs: number
    costs: Record<string, UnitCost>
    /** The entries of `costs` that are one forge check over file:// and (idle-ssh) over ssh://, uncounted. */
    lsRemote: {file: string; ssh?: string}
    /** What counting adds to every request on the machine's side: file://, upload-pack through the wrapper minus without it; ssh://, 0 (the wrapper runs in sshd). */
    wrapperMs: number
    /** ssh only: what counting adds on the sshd side per request (counted minus uncounted serverMs). */
    serverWrapperMs?: number
  }
  /** ssh only: the sshd side over the window (all three machines' requests). */
  server?: {what: string; cpuSeconds: number; requests: number; msPerRequest: number; cpuSecondsPerHour: number}
  mux?: MuxWhatIf
  trouble: string[]
  targets: Target[]
}

const CPU_METHOD =
  '/proc/<pid>/stat of the supervisor and every living descendant: Σ utime+stime+cutime+cstime at the end minus at the start (reaped children live on in their parent\'s cutime/cstime, so short-lived git and puller runs count)'
const REQUEST_METHOD: Record<Transport, string> = {
  file: 'GIT_EXEC_PATH → a copy of git\'s exec-path whose git-upload-pack / git-receive-pack append "<kind> $HOME" to a log, then exec the real one: one line per ls-remote, fetch or push',
  ssh: 'sshd forced command: each machine logs in with a key of its own, listed in authorized_keys with command="<wrapper> <its HOME>"; the wrapper appends "<kind> <HOME>" to a log (kind from $SSH_ORIGINAL_COMMAND), then eval-execs the original command: one line per ls-remote, fetch or push (a GIT_EXEC_PATH wrapper is never reached through sshd: no client env gets there, and it starts git-upload-pack by PATH)',
}

async function gitExecPath(): Promise<string> {
  realExecPath ??= String((await execa('git', ['--exec-path'])).stdout).trim()
  return realExecPath
}

/** The listening sshd of the fixture: a child of this process (execa, no shell). */
function sshdPid(sshd: Sshd): number {
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

/**
 * `runs` runs of `file args` back to back, measured through this process's own cutime/cstime (every child it reaps,
 * with theirs), process.cpuUsage() for what spawning them costs the spawner (execa, as the watcher uses it), and,
 * given the listening sshd's pid, that sshd's tree. Most of these take less than GNU time's 10 ms resolution.
 * Nothing else of ours is reaped meanwhile (the agents are a child of ours, but are not reaped until they exit).
 */
async function unitCost(file: string, args: string[], options: {env: NodeJS.ProcessEnv; cwd: string; runs: number; server?: number}): Promise<UnitCost> {
  const ticks = readStat(process.pid)!.reaped
  const serverBefore = options.server === undefined ? 0 : treeCpu(options.server).total
  const own = process.cpuUsage()
  for (let i = 0; i < options.runs; i++) await execa(file, args, {env: options.env, extendEnv: false, cwd: options.cwd, stdin: 'ignore'})
  const spent = process.cpuUsage(own)
  const cost: UnitCost = {childMs: (seconds(readStat(process.pid)!.reaped - ticks) * 1000) / options.runs, spawnerMs: (spent.user + spent.system) / 1000 / options.runs}
  if (options.server !== undefined) cost.serverMs = (seconds(treeCpu(options.server).total - serverBefore) * 1000) / options.runs
  return cost
}

/**
 * What-if: `git ls-remote` over ssh with GIT_SSH_COMMAND extended by ControlMaster=auto / ControlPersist=120 /
 * ControlPath=<dir>/cm-%C (the fixture's own, uncounted key). One first connection starts the master; then `runs`
 * checks through it. The master detaches (a child of init then), so its CPU is read from its own /proc entry.
 * Always ends it (ssh -O exit, then SIGTERM if it is still there).
 */
async function muxWhatIf(sshd: Sshd, dir: string, url: string, env: NodeJS.ProcessEnv, cwd: string, runs: number, server: number): Promise<Omit<MuxWhatIf, 'estimatedCpuSecondsPerHour'>> {
  mkdirSync(dir, {recursive: true})
  const controlPath = join(dir, 'cm-%C')
  const options = `-o ControlMaster=auto -o ControlPersist=120 -o ControlPath=${shQuote(controlPath)}`
  const muxEnv = {...env, GIT_SSH_COMMAND: `${sshd.gitSshCommand} ${options}`}
  const {hostname} = new URL(url)
  const control = (op: string) => execa('ssh', ['-F', '/dev/null', '-o', `ControlPath=${controlPath}`, '-O', op, '-p', String(sshd.port), '-l', sshd.user, hostname], {env, extendEnv: false, reject: false, stdin: 'ignore'})
  let master: ProcStat | undefined
  try {
    const ticks = readStat(process.pid)!.reaped
    await execa('git', ['ls-remote', '--', url], {env: muxEnv, extendEnv: false, cwd, stdin: 'ignore'})
    const firstChild = seconds(readStat(process.pid)!.reaped - ticks) * 1000
    const check = await control('check')
    const pid = Number(/pid=(\d+)/.exec(String(check.stderr))?.[1])
    master = pid ? readStat(pid) : undefined
    if (!master) throw new Error(`no ssh master after the first connection: ${String(check.stderr)}`)
    const cost = await unitCost('git', ['ls-remote', '--', url], {env: muxEnv, cwd, runs, server})
    const after = readStat(master.pid)
    if (!after || after.start !== master.start) throw new Error('the ssh master went away during the runs')
    const masterMs = (seconds(after.self + after.reaped - master.self - master.reaped) * 1000) / runs
    return {
      options,
      runs,
      firstMs: firstChild + seconds(master.self + master.reaped) * 1000,
      clientMs: cost.childMs,
      masterMs,
      spawnerMs: cost.spawnerMs,
      serverMs: cost.serverMs ?? Number.NaN,
      perCheckMs: cost.childMs + masterMs,
    }
  } finally {
    await control('exit')
    if (master) {
      const deadline = Date.now() + 3000
      while (readStat(master.pid)?.start === master.start && Date.now() < deadline) await sleep(50)
      if (readStat(master.pid)?.start === master.start) {
        try {
          process.kill(master.pid, 'SIGTERM')
        } catch {
          // gone
        }
      }
    }
  }
}

interface IdleOptions {
  windowSeconds?: number
  pullerRuns?: number
  unitRuns?: number
  settings?: Partial<AgentSettings>
}

/** The idle fleet over file://. */
export function benchIdle(options: IdleOptions = {}): Promise<IdleReport> {
  return measureIdle('file', options)
}

/** The idle fleet with the forge reached over ssh:// (an sshd of our own on 127.0.0.1). */
export function benchIdleSsh(options: IdleOptions = {}): Promise<IdleReport> {
  return measureIdle('ssh', options)
}

async function measureIdle(transport: Transport, options: IdleOptions): Promise<IdleReport> {
  const windowSeconds = options.windowSeconds ?? Number(process.env.BENCH_IDLE_SECONDS ?? 180)
  if (!(windowSeconds > 0)) throw new Error(`BENCH_IDLE_SECONDS must be a number of seconds, not ${process.env.BENCH_IDLE_SECONDS}`)
  const pullerRuns = options.pullerRuns ?? 3
  const unitRuns = options.unitRuns ?? 50
  const name = transport === 'ssh' ? 'idle-ssh' : 'idle'
  clockTicks = Number(String((await execa('getconf', ['CLK_TCK'])).stdout).trim()) || 100
  const execPath = await gitExecPath()
  const fleet = await BenchFleet.create(name, options.settings, transport)
  const sshd = fleet.route.sshd
  let idleNode: ResultPromise | undefined
  try {
    const server = sshd ? sshdPid(sshd) : undefined
    await fleet.startAgents()
    await fleet.settle(Math.max(10_000, fleet.settings.remoteCheckSeconds * 2000))
    idleNode = execa(NODE, ['-e', 'setInterval(() => {}, 1000)'], {stdin: 'ignore', reject: false})
    await sleep(3000) // past its start-up

    const supervisors = fleet.running.map((r) => r.process.pid!)
    const headBefore = forgeHead(fleet.forge)
    const requestsBefore = requests(fleet.counter).length
    const from = Date.now()
    const start = supervisors.map((pid) => treeCpu(pid))
    const serverStart = server === undefined ? undefined : treeCpu(server)
    const baseStart = readStat(idleNode.pid!)!
    process.stderr.write(`  ${name}: measuring ${windowSeconds} s of an idle fleet…\n`)
    await sleep(windowSeconds * 1000)
    const end = supervisors.map((pid) => treeCpu(pid))
    const serverEnd = server === undefined ? undefined : treeCpu(server)
    const baseEnd = readStat(idleNode.pid!)!
    const to = Date.now()
    const windowMs = end[0].at - start[0].at
    const inWindow = requests(fleet.counter).slice(requestsBefore)
    const forgeCommitsInWindow = forgeHead(fleet.forge) === headBefore ? 0 : Number((await fleet.forge.git(['rev-list', '--count', `${headBefore}..main`])).trim())

    // One puller run's cost on each machine, as the puller runs it (quick path), its requests counted apart.
    const probe = fleet.route.probe
    const pullerCost = async (m: Machine) => {
      const cpu: number[] = []
      const wall: number[] = []
      const outcomes: string[] = []
      const before = probe.count()
      for (let i = 0; i < pullerRuns; i++) {
        const times = await timeProcessCpu(NODE, [FLEET_BIN, 'sync', '--reason', 'bench-puller', '--json'], {
          env: {...m.env, ...probe.env},
          extendEnv: false,
          cwd: m.home,
        })
        cpu.push(times.cpuMs)
        wall.push(times.wallMs)
        outcomes.push((JSON.parse(times.stdout) as {outcome: string}).outcome)
      }
      return {runs: pullerRuns, cpuMs: median(cpu), wallMs: median(wall), requests: (probe.count() - before) / pullerRuns, outcomes}
    }

    const machines: MachineIdle[] = []
    for (const [k, m] of fleet.machines.entries()) {
      const s = start[k]
      const e = end[k]
      const watcherRestarted = s.watcher !== e.watcher
      const d = (x: number, y: number) => seconds(y - x)
      const total = d(s.total, e.total)
      const supervisorSelf = d(s.supervisorSelf, e.supervisorSelf)
      const supervisorReaped = d(s.supervisorReaped, e.supervisorReaped)
      const watcherSelf = watcherRestarted ? 0 : d(s.watcherSelf, e.watcherSelf)
      const watcherReaped = watcherRestarted ? 0 : d(s.watcherReaped, e.watcherReaped)
      const counts: Record<string, number> = {}
      for (const r of inWindow.filter((r) => r.home === m.home)) counts[r.kind] = (counts[r.kind] ?? 0) + 1
      const all = Object.values(counts).reduce((x, y) => x + y, 0)
      const syncsInWindow = syncsBetween(m, from, to)
      const pullerInWindow = Object.entries(syncsInWindow).filter(([key]) => key.startsWith('timer')).reduce((x, [, v]) => x + v, 0)
      const puller = await pullerCost(m)
      const perHour = 3600 / fleet.settings.pullIntervalSeconds
      const windowH = windowMs / 3_600_000
      const windowMin = windowMs / 60_000
      // Steady: the window without its puller runs (their CPU is in the supervisor's reaped time; their requests are
      // one per quick run, as the probe shows), plus the puller's measured run × runs per hour.
      const steadyCpu = (total - supervisorReaped) / windowH + (puller.cpuMs / 1000) * perHour
      const steadyRequests = (all - pullerInWindow * puller.requests) / windowMin + (puller.requests * perHour) / 60
      machines.push({
        machine: label(m),
        cpuSeconds: {total, supervisorSelf, supervisorReaped, watcherSelf, watcherReaped, other: total - supervisorSelf - supervisorReaped - watcherSelf - watcherReaped},
        watcherRestarted,
        cpuSecondsPerHourWindow: total / windowH,
        cpuSecondsPerHourSteady: steadyCpu,
        cpuSecondsPerHourSteadyUncounted: steadyCpu,
        requests: counts,
        requestsPerMinuteWindow: all / windowMin,
        requestsPerMinuteSteady: steadyRequests,
        syncsInWindow,
        watcherCpuMsPerRequest: all > 0 ? ((watcherSelf + watcherReaped) * 1000) / all : 0,
        puller,
      })
    }
    const trouble = fleet.trouble()

    // Unit costs, outside the window and with the agents stopped (so that the sshd's CPU meanwhile is these runs'
    // alone): what one forge check spawns.
    await fleet.stopAgents()
    const a = fleet.machines[0]
    const plainEnv = {...a.env, GIT_EXEC_PATH: execPath, LC_ALL: 'C'}
    const unit = (file: string, args: string[], env: NodeJS.ProcessEnv, runs = unitRuns, serverPid?: number) => unitCost(file, args, {env, cwd: a.sourceDir, runs, server: serverPid})
    const costs: Record<string, UnitCost> = {}
    const lsRemote: IdleReport['unitCosts']['lsRemote'] = {file: transport === 'ssh' ? 'git ls-remote file:// (+ upload-pack)' : 'git ls-remote (+ upload-pack)'}
    let wrapperMs = 0
    let serverWrapperMs: number | undefined
    let mux: MuxWhatIf | undefined
    costs['git remote get-url origin'] = await unit('git', ['remote', 'get-url', 'origin'], plainEnv)
    costs[lsRemote.file] = await unit('git', ['ls-remote', '--', fleet.forge.url], plainEnv)
    if (sshd && server !== undefined) {
      // A's own GIT_SSH_COMMAND logs in with A's counted key; the fixture's GIT_SSH_COMMAND with its uncounted one.
      lsRemote.ssh = 'git ls-remote ssh:// (+ sh, ssh)'
      costs[lsRemote.ssh] = await unit('git', ['ls-remote', '--', fleet.route.url], {...plainEnv, ...sshd.env}, unitRuns, server)
      costs['git ls-remote ssh://, counted'] = await unit('git', ['ls-remote', '--', fleet.route.url], plainEnv, unitRuns, server)
      serverWrapperMs = Math.max(0, costs['git ls-remote ssh://, counted'].serverMs! - costs[lsRemote.ssh].serverMs!)
    } else {
      costs['git ls-remote, counted'] = await unit('git', ['ls-remote', '--', fleet.forge.url], {...a.env, LC_ALL: 'C'})
      wrapperMs = Math.max(0, costs['git ls-remote, counted'].childMs - costs[lsRemote.file].childMs)
    }
    costs['fleet --version (start-up)'] = await unit(NODE, [FLEET_BIN, '--version'], plainEnv, 5)
    for (const m of machines) m.cpuSecondsPerHourSteadyUncounted = m.cpuSecondsPerHourSteady - (m.requestsPerMinuteSteady * 60 * wrapperMs) / 1000
    const worst = machines.reduce((x, y) => (y.cpuSecondsPerHourSteadyUncounted > x.cpuSecondsPerHourSteadyUncounted ? y : x))
    if (sshd && server !== undefined && lsRemote.ssh) {
      const whatIf = await muxWhatIf(sshd, join(fleet.root, 'mux'), fleet.route.url, {...plainEnv, ...sshd.env}, a.sourceDir, unitRuns, server)
      const saved = (costs[lsRemote.ssh].childMs - whatIf.perCheckMs) / 1000
      mux = {...whatIf, estimatedCpuSecondsPerHour: worst.cpuSecondsPerHourSteadyUncounted - worst.requestsPerMinuteSteady * 60 * saved}
    }

    const baselineCpu = seconds(baseEnd.self + baseEnd.reaped - baseStart.self - baseStart.reaped)
    const baselinePerHour = baselineCpu / (windowMs / 3_600_000)
    const worstCpu = worst.cpuSecondsPerHourSteadyUncounted
    const worstRequests = Math.max(...machines.map((m) => m.requestsPerMinuteSteady))
    const serverSeconds = serverStart && serverEnd ? seconds(serverEnd.total - serverStart.total) : undefined
    return {
      transport,
      forgeUrl: fleet.route.url,
      ...(await toolVersions()),
      settings: fleet.settings,
      windowSeconds: windowMs / 1000,
      cpuMethod: CPU_METHOD,
      requestMethod: REQUEST_METHOD[transport],
      machines,
      baseline: {what: 'node -e "setInterval(() => {}, 1000)"', cpuSeconds: baselineCpu, cpuSecondsPerHour: baselinePerHour},
      ratio: Object.fromEntries(machines.map((m) => [m.machine, baselinePerHour > 0 ? m.cpuSecondsPerHourSteadyUncounted / baselinePerHour : Number.NaN])),
      forgeCommitsInWindow,
      unitCosts: {runs: unitRuns, costs, lsRemote, wrapperMs, serverWrapperMs},
      server:
        serverSeconds === undefined
          ? undefined
          : {
              what: 'the listening sshd\'s tree (/proc, as for the agents): its own CPU and every connection\'s processes, the counting wrapper included',
              cpuSeconds: serverSeconds,
              requests: inWindow.length,
              msPerRequest: inWindow.length > 0 ? (serverSeconds * 1000) / inWindow.length : Number.NaN,
              cpuSecondsPerHour: serverSeconds / (windowMs / 3_600_000),
            },
      mux,
      trouble,
      targets: [
        {name: 'forge requests / min (worst machine, steady)', target: '≤ 12', value: worstRequests, unit: '/min', met: worstRequests <= 12},
        {name: 'CPU s / hour (worst machine, steady, less wrapper)', target: '≤ 10', value: worstCpu, unit: 's/h', met: worstCpu <= 10},
      ],
    }
  } finally {
    try {
      if (idleNode) {
        idleNode.kill('SIGTERM')
        await idleNode
      }
    } finally {
      await fleet.dispose()
    }
  }
}

export function printIdle(report: IdleReport): void {
  const ssh = report.transport === 'ssh'
  const title = ssh ? 'Idle over ssh://: three machines running their agents, the forge behind an sshd of our own on 127.0.0.1, nothing changing' : 'Idle: three machines running their agents, nothing changing'
  console.log(`\n${title}, ${report.windowSeconds.toFixed(0)} s window (BENCH_IDLE_SECONDS; Node ${report.node}; ${report.git}; ${report.chezmoi})`)
  console.log(`  ${settingsText(report.settings)}`)
  console.log(`  forge: ${report.forgeUrl}`)
  console.log(`  CPU = ${report.cpuMethod}${ssh ? ' (the machines\' side: the agents with their git, sh and ssh client processes; the sshd side separately below)' : ''}`)
  console.log(`  requests = ${report.requestMethod}`)
  console.log(`  "steady" = the window without puller runs + one puller run (measured: fleet sync --reason bench-puller, median of ${report.machines[0]?.puller.runs}) × ${3600 / report.settings.pullIntervalSeconds}/h`)
  console.log(`  ${'machine'.padEnd(8)} ${'cpu s'.padStart(7)} ${'s/h win'.padStart(8)} ${'s/h steady'.padStart(10)} ${'less wrapper'.padStart(12)} ${'×idle node'.padStart(10)}   ${'req/min win'.padStart(11)} ${'steady'.padStart(7)}`)
  for (const m of report.machines) {
    console.log(`  ${m.machine.padEnd(8)} ${m.cpuSeconds.total.toFixed(2).padStart(7)} ${m.cpuSecondsPerHourWindow.toFixed(1).padStart(8)} ${m.cpuSecondsPerHourSteady.toFixed(1).padStart(10)} ${m.cpuSecondsPerHourSteadyUncounted.toFixed(1).padStart(12)} ${report.ratio[m.machine].toFixed(0).padStart(9)}×   ${m.requestsPerMinuteWindow.toFixed(1).padStart(11)} ${m.requestsPerMinuteSteady.toFixed(1).padStart(7)}`)
  }
  const fleetWide = report.machines.reduce((sum, m) => sum + m.requestsPerMinuteSteady, 0)
  console.log(`  the forge itself sees ${fleetWide.toFixed(1)} requests/min from these ${report.machines.length} machines (steady)`)
  console.log(`  idle node over the same window: ${report.baseline.cpuSeconds.toFixed(2)} s (${report.baseline.cpuSecondsPerHour.toFixed(2)} s/h)`)
  if (report.server) {
    const s = report.server
    console.log(`  sshd side over the window: ${s.cpuSeconds.toFixed(2)} s for ${s.requests} requests = ${s.msPerRequest.toFixed(1)} ms per request (${s.cpuSecondsPerHour.toFixed(1)} s/h for the ${report.machines.length} machines; ${s.what})`)
  }
  console.log(`  where the CPU went (s in the window): supervisor itself / puller runs ended / watcher itself / watcher's children / other`)
  for (const m of report.machines) {
    const c = m.cpuSeconds
    const f = (x: number) => (Math.abs(x) < 0.005 ? 0 : x).toFixed(2)
    console.log(`    ${m.machine}: ${f(c.supervisorSelf)} / ${f(c.supervisorReaped)} / ${f(c.watcherSelf)} / ${f(c.watcherReaped)} / ${f(c.other)}${m.watcherRestarted ? '  (the watcher restarted in the window)' : ''}`)
  }
  for (const m of report.machines) {
    const syncs = Object.entries(m.syncsInWindow).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'
    console.log(`    ${m.machine}: requests ${Object.entries(m.requests).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; watcher CPU per request ${m.watcherCpuMsPerRequest.toFixed(1)} ms; syncs in the window: ${syncs}`)
    console.log(`       one puller run: ${fmt(m.puller.cpuMs)} CPU, ${fmt(m.puller.wallMs)} wall, ${m.puller.requests} request(s), outcome ${[...new Set(m.puller.outcomes)].join('/')}`)
  }
  const u = report.unitCosts
  console.log(`  unit costs (mean of ${u.runs} back to back; the process with its children / the node that spawns it through execa${ssh ? ' / the sshd side' : ''}):`)
  for (const [name, c] of Object.entries(u.costs)) {
    console.log(`    ${name.padEnd(38)} ${c.childMs.toFixed(1).padStart(6)} ms / ${c.spawnerMs.toFixed(1).padStart(5)} ms${c.serverMs === undefined ? '' : ` / ${c.serverMs.toFixed(1).padStart(6)} ms`}`)
  }
  if (ssh && u.lsRemote.ssh) {
    const viaSsh = u.costs[u.lsRemote.ssh]
    const viaFile = u.costs[u.lsRemote.file]
    console.log(`    one forge check, git ls-remote with its children: ssh:// ${viaSsh.childMs.toFixed(1)} ms vs file:// ${viaFile.childMs.toFixed(1)} ms (${(viaSsh.childMs / viaFile.childMs).toFixed(1)}×) on the machine, + ${viaSsh.serverMs!.toFixed(1)} ms in sshd`)
    console.log(`    the counting wrapper runs in sshd: ${(u.serverWrapperMs ?? 0).toFixed(1)} ms there per request, nothing on the machine ("less wrapper" = steady)`)
  } else {
    console.log(`    the counting wrapper adds ${u.wrapperMs.toFixed(1)} ms per request; "less wrapper" below takes that out of the steady figure`)
  }
  if (report.mux) {
    const x = report.mux
    console.log(`  what-if (not what fleet does): ssh connection multiplexing, GIT_SSH_COMMAND + ${x.options}`)
    console.log(`    first connection (starts the master) ${x.firstMs.toFixed(1)} ms; then per check (mean of ${x.runs}): git ls-remote + sh + ssh mux client ${x.clientMs.toFixed(1)} ms + the master ${x.masterMs.toFixed(1)} ms = ${x.perCheckMs.toFixed(1)} ms on the machine (spawner ${x.spawnerMs.toFixed(1)} ms; sshd side ${x.serverMs.toFixed(1)} ms)`)
    console.log(`    → worst machine's steady CPU with every request at that cost instead: ≈ ${x.estimatedCpuSecondsPerHour.toFixed(1)} s/h (estimate; target ≤ 10)`)
  }
  console.log(`  forge commits in the window: ${report.forgeCommitsInWindow}`)
  if (report.trouble.length > 0) {
    console.log(`  agents' output worth a look (${report.trouble.length} line(s)):`)
    for (const line of report.trouble.slice(0, 12)) console.log(`    ${line}`)
  }
  console.log('  Targets')
  for (const t of report.targets) console.log(`    ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(46)} ${t.value.toFixed(2).padStart(7)} ${t.unit}  (target ${t.target})`)
}
