// One `fleet agents run` per machine, and its agents die with it. Each agent it starts carries the runner's pid
// and stops (as on SIGTERM) once the runner is gone, even after a kill -9 that gave the runner no chance to stop
// them. The runner also records itself and its agents in the state directory; a new runner stops whatever an
// earlier one left running (checked to be that very process) before it starts its own.
import {readFileSync} from 'node:fs'
import {mkdir, rm} from 'node:fs/promises'
import {join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import {errorMessage, FleetError} from '../errors/index.ts'
import {processAlive, processStart} from '../lock/lock.ts'
import type {FleetPaths} from '../platform/paths.ts'

/** Set in each agent's environment: the pid of the runner that started it. */
export const RUNNER_PID_ENV = 'FLEET_AGENTS_RUNNER_PID'
/** How often an agent looks whether its runner still lives. */
const FOLLOW_EVERY_MS = 1000
/** How long a left-over agent may take to finish its step before it is killed. */
const LEFTOVER_GRACE_MS = 30_000

export interface RecordedProcess {
  pid: number
  /** Linux: when it started (a reused pid is not taken for it). */
  start?: string
  /** Its command line, arguments joined by spaces. */
  commandLine?: string
  /** The agent's id (for the runner itself: none). */
  agent?: string
}

interface RunnerRecord {
  runner: RecordedProcess
  agents: RecordedProcess[]
}

function recordFile(paths: FleetPaths): string {
  return join(paths.stateDir, 'agents-run.json')
}

/** A process's command line, its arguments joined by spaces (Linux: /proc; elsewhere: ps). */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || undefined
  } catch {
    // not Linux, or gone
  }
  // Loaded here, not above: on Linux the runner never needs it, and it would stay in the runner's memory.
  const {run} = await import('../process/run.ts')
  const result = await run('ps', ['-o', 'command=', '-p', String(pid)], {allowFailure: true, timeout: 10_000}).catch(() => undefined)
  return result?.exitCode === 0 ? result.stdout.trim() || undefined : undefined
}

export async function describeProcess(pid: number, agent?: string): Promise<RecordedProcess> {
  return {pid, start: processStart(pid), commandLine: await commandLineOf(pid), agent}
}

/** The recorded process still runs: same pid, same start, same command line (never a stranger with a reused pid). */
async function stillRuns(recorded: RecordedProcess): Promise<boolean> {
  if (!processAlive(recorded.pid)) return false
  if (recorded.start !== undefined && processStart(recorded.pid) !== recorded.start) return false
  return recorded.commandLine !== undefined && (await commandLineOf(recorded.pid)) === recorded.commandLine
}

function readRecord(paths: FleetPaths): RunnerRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(paths), 'utf8')) as RunnerRecord
  } catch {
    return undefined
  }
}

export interface RunnerClaim {
  /** Record the agents running now. */
  agents(running: RecordedProcess[]): void
  release(): Promise<void>
}

/**
 * Become this machine's runner: refuse while another runner lives; stop the agents a dead one left (SIGTERM, so a
 * sync finishes its step; SIGCONT, so a stopped one acts on it; SIGKILL after a grace).
 */
export async function claimRunner(paths: FleetPaths, log: (line: string) => void): Promise<RunnerClaim> {
  const previous = readRecord(paths)
  if (previous && previous.runner.pid !== process.pid && (await stillRuns(previous.runner))) {
    throw new FleetError(`fleet agents run is already running on this machine (pid ${previous.runner.pid}).`, {
      code: 'AGENTS_RUNNING',
      fix: `Use that one, or stop it first (kill ${previous.runner.pid}: its agents finish their step and stop), then run fleet agents run again.`,
    })
  }
  for (const left of previous?.agents ?? []) {
    if (!(await stillRuns(left))) continue
    log(`stopping the ${left.agent ?? 'agent'} an earlier fleet agents run left running (pid ${left.pid})`)
    await stopLeftover(left)
  }
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  const runner = await describeProcess(process.pid)
  const write = (agents: RecordedProcess[]) => writeFileAtomic.sync(recordFile(paths), JSON.stringify({runner, agents} satisfies RunnerRecord, null, 1) + '\n')
  write([])
  return {
    agents(running) {
      try {
        write(running)
      } catch (error) {
        // The record only helps a later runner clean up; the agents themselves keep running.
        log(`cannot record the running agents in ${recordFile(paths)}: ${errorMessage(error)}`)
      }
    },
    async release() {
      await rm(recordFile(paths), {force: true})
    },
  }
}

async function stopLeftover(left: RecordedProcess): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(left.pid, name)
    } catch {
      // already gone
    }
  }
  signal('SIGTERM')
  signal('SIGCONT')
  const deadline = Date.now() + LEFTOVER_GRACE_MS
  while (Date.now() < deadline && processAlive(left.pid) && processStart(left.pid) === left.start) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (await stillRuns(left)) signal('SIGKILL')
}

/** This process's parent (Linux: /proc/self/stat; elsewhere undefined: node's process.ppid never changes). */
function currentParent(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/**
 * In an agent started by `fleet agents run`: once the runner is gone, stop as a service manager would stop it
 * (SIGTERM to this process, so a sync finishes its step first). Nothing happens in any other process.
 */
export function followRunner(env: NodeJS.ProcessEnv = process.env): void {
  const runner = Number(env[RUNNER_PID_ENV])
  if (!Number.isInteger(runner) || runner <= 0) return
  const parent = currentParent()
  // Only the runner's own children follow it (a process they start inherits the variable, not the bond).
  if (parent !== undefined && parent !== runner && processAlive(runner)) return
  // The runner reads this process's output: once it is gone, a write meets a closed pipe. Nobody is left to read
  // it, and the agent must still finish its step rather than die of the write.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  const gone = () => {
    const now = currentParent()
    return now === undefined ? !processAlive(runner) : now !== runner
  }
  const timer = setInterval(() => {
    if (!gone()) return
    clearInterval(timer)
    process.kill(process.pid, 'SIGTERM')
  }, FOLLOW_EVERY_MS)
  timer.unref()
}
