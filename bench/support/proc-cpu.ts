// The CPU a process tree has used, reaped children included, from /proc (BENCHMARKS.md, "CPU of an agent tree").
import {readdirSync, readFileSync} from 'node:fs'

import {execa} from 'execa'

/** How the reports describe the method. */
export const CPU_METHOD =
  "/proc/<pid>/stat of the supervisor and every living descendant: Σ utime+stime+cutime+cstime at the end minus at the start (reaped children live on in their parent's cutime/cstime, so short-lived git and puller runs count)"

let clockTicks = 100

/** Ask the system how many clock ticks /proc counts per second (until then: 100). */
export async function loadClockTicks(): Promise<void> {
  clockTicks = Number(String((await execa('getconf', ['CLK_TCK'])).stdout).trim()) || 100
}

/** Clock ticks in seconds. */
export const seconds = (ticks: number) => ticks / clockTicks

export interface ProcStat {
  pid: number
  ppid: number
  /** Start time (ticks since boot): with pid, a process's identity. */
  start: number
  /** utime + stime, ticks. */
  self: number
  /** cutime + cstime, ticks: children waited for, with theirs. */
  reaped: number
}

/** One process's /proc/<pid>/stat, or undefined once it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name is in parentheses and may hold spaces: fields count from the last ')'. Field 3 (state) first.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {pid, ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]), start: Number(f[19])}
  } catch {
    return undefined // gone
  }
}

/** Every process's stat, by pid. */
export function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat) table.set(stat.pid, stat)
  }
  return table
}

/** `root` and its living descendants in `table`, root first. */
export function subtree(table: Map<number, ProcStat>, root: number): ProcStat[] {
  const rootStat = table.get(root)
  if (!rootStat) return []
  const found = [rootStat]
  for (let i = 0; i < found.length; i++) for (const stat of table.values()) if (stat.ppid === found[i].pid) found.push(stat)
  return found
}

/** A process's argv ([] once it is gone). */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/** One machine's agent tree at one moment, in ticks. */
export interface TreeCpu {
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

/** The tree under `root` (an agents supervisor, or any process) at this moment. */
export function treeCpu(root: number): TreeCpu {
  for (let attempt = 0; ; attempt++) {
    // Two snapshots that list the same processes: none was reaped between reading it and reading its parent.
    const first = subtree(processTable(), root)
    const at = performance.now()
    const second = subtree(processTable(), root)
    const ids = (tree: ProcStat[]) =>
      tree
        .map((p) => `${p.pid}:${p.start}`)
        .sort()
        .join(',')
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

export interface UnitCost {
  /** Per run: the process with its children, from this process's cutime/cstime. */
  childMs: number
  /** Per run: this node process's own CPU to spawn and reap it through execa. */
  spawnerMs: number
  /** ssh only, per run: the sshd's CPU for it (the listening sshd's tree: each connection's sshd, the login shell, the forced command, git-upload-pack). */
  serverMs?: number
}

/**
 * `runs` runs of `file args` back to back, measured through this process's own cutime/cstime (every child it reaps,
 * with theirs), process.cpuUsage() for what spawning them costs the spawner (execa, as the watcher uses it), and,
 * given the listening sshd's pid, that sshd's tree. Most of these take less than GNU time's 10 ms resolution.
 * Nothing else of ours may be reaped meanwhile (agents started by this process are not reaped until they exit).
 */
export async function unitCost(file: string, args: string[], options: {env: NodeJS.ProcessEnv; cwd: string; runs: number; server?: number}): Promise<UnitCost> {
  const ticks = readStat(process.pid)!.reaped
  const serverBefore = options.server === undefined ? 0 : treeCpu(options.server).total
  const own = process.cpuUsage()
  for (let i = 0; i < options.runs; i++) await execa(file, args, {env: options.env, extendEnv: false, cwd: options.cwd, stdin: 'ignore'})
  const spent = process.cpuUsage(own)
  const cost: UnitCost = {
    childMs: (seconds(readStat(process.pid)!.reaped - ticks) * 1000) / options.runs,
    spawnerMs: (spent.user + spent.system) / 1000 / options.runs,
  }
  if (options.server !== undefined) cost.serverMs = (seconds(treeCpu(options.server).total - serverBefore) * 1000) / options.runs
  return cost
}
