// `fleet agents run`: this machine's agents in the foreground, for containers and machines without a service
// manager. Resident agents are restarted when they die (after a pause, as launchd and systemd do); interval
// agents run at start and then every interval. Ctrl-C or SIGTERM stops everything cleanly: each agent is
// asked to stop and given time to finish its step, never cut off mid-commit.
// The runner stays small: it is given its agents' command lines (runner-plan.ts) and loads nothing else.
import {spawn} from 'node:child_process'
import {createInterface} from 'node:readline'

import {claimRunner, type RecordedProcess, RUNNER_PID_ENV} from '../agents/runner-record.ts'
import {errorMessage} from '../errors/index.ts'
import {processStart} from '../lock/lock.ts'
import type {FleetPaths} from '../platform/paths.ts'

/** Like launchd's ThrottleInterval and the units' RestartSec. */
export const RESTART_DELAY_MS = 10_000
const STOP_GRACE_MS = 120_000
/** When an interval agent first runs after start (as the units' OnActiveSec=30s). */
const FIRST_INTERVAL_RUN_MS = 30_000

/** The agents running in this process's foreground. */
export interface ForegroundHandle {
  /** Stop every agent (SIGTERM; a sync finishes first); resolves when all have exited. */
  stop(): Promise<void>
  /** Resolves when every agent has stopped. */
  stopped: Promise<void>
}

/** One agent as the runner starts it: its whole command line (node, fleet's entry, the agent's arguments), kept alive or run every `intervalSeconds`. */
export type ForegroundAgent = {id: string; argv: string[]} & ({resident: true} | {resident: false; intervalSeconds: number})

/** What the runner runs: the agents, and the environment a service manager would give them. */
export interface RunnerPlan {
  agents: ForegroundAgent[]
  env: Record<string, string>
}

interface RunningChild {
  kill(signal: NodeJS.Signals): void
  /** Resolves when the process has exited, with how. */
  exited: Promise<{code?: number; signal?: string}>
}

/**
 * Run these agents as child processes of this one, as a service manager would: resident agents restarted when they
 * exit, interval agents started every `intervalSeconds` (the first run a little after start), each with `env`.
 * Lines about each start and exit go to `log`. Returns at once; the handle stops them.
 */
export function runAgentsInForeground(
  agents: ForegroundAgent[],
  env: Record<string, string>,
  log: (line: string) => void,
  /** Told the agents running now, each time one starts or exits. */
  onAgents: (running: RecordedProcess[]) => void = () => {},
): ForegroundHandle {
  const children = new Map<RunningChild, RecordedProcess>()
  const timers: NodeJS.Timeout[] = []
  let stopping = false

  const start = (agent: ForegroundAgent): RunningChild => {
    const [file, ...args] = agent.argv
    // The runner's environment with what a service manager gives the agent (so the same tools), and the runner's
    // pid: the agent stops when the runner is gone, however it went. No timeout: a resident agent runs until it is
    // stopped, and an interval agent's sync bounds its own steps.
    const agentEnv = {...process.env, ...env, [RUNNER_PID_ENV]: String(process.pid)}
    const subprocess = spawn(file, args, {env: agentEnv, stdio: ['ignore', 'pipe', 'pipe']})
    for (const stream of [subprocess.stdout, subprocess.stderr]) {
      createInterface({input: stream}).on('line', (line) => log(`[${agent.id}] ${line}`))
    }
    const child: RunningChild = {
      kill: (signal) => subprocess.kill(signal),
      exited: new Promise((resolve) => {
        subprocess.once('close', (code, signal) => resolve({code: code ?? undefined, signal: signal ?? undefined}))
        subprocess.once('error', (error) => {
          log(`[${agent.id}] cannot start: ${errorMessage(error)}`)
          resolve({})
        })
      }),
    }
    if (subprocess.pid !== undefined) {
      children.set(child, {pid: subprocess.pid, start: processStart(subprocess.pid), commandLine: agent.argv.join(' '), agent: agent.id})
      onAgents([...children.values()])
    }
    void child.exited.then(() => {
      children.delete(child)
      onAgents([...children.values()])
    })
    return child
  }

  for (const agent of agents) {
    if (agent.resident) {
      const keepAlive = () => {
        if (stopping) return
        void start(agent).exited.then(({code, signal}) => {
          if (stopping) return
          log(`[${agent.id}] exited (${signal ?? code}); restarting in ${RESTART_DELAY_MS / 1000} s`)
          timers.push(setTimeout(keepAlive, RESTART_DELAY_MS))
        })
      }
      keepAlive()
    } else {
      let running = false
      const tick = () => {
        if (stopping || running) return
        running = true
        void start(agent).exited.then(() => {
          running = false
        })
      }
      // Like the systemd timer (OnActiveSec): the first run comes a little after start, not on top of the watcher's.
      timers.push(
        setTimeout(
          () => {
            tick()
            timers.push(setInterval(tick, agent.intervalSeconds * 1000))
          },
          Math.min(FIRST_INTERVAL_RUN_MS, agent.intervalSeconds * 1000),
        ),
      )
    }
  }
  log(`running ${agents.length} agent(s) in the foreground: ${agents.map((a) => a.id).join(', ')} (Ctrl-C stops them)`)

  const {promise: stopped, resolve: resolveStopped} = Promise.withResolvers<void>()
  return {
    stopped,
    async stop() {
      if (stopping) return stopped
      stopping = true
      for (const timer of timers) clearTimeout(timer)
      await Promise.all(
        [...children.keys()].map(async (child) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
          child.kill('SIGTERM')
          await child.exited
          clearTimeout(kill)
        }),
      )
      resolveStopped()
      return stopped
    },
  }
}

/**
 * Become this machine's runner (refused while another one runs; what a dead one left is stopped), run the plan's
 * agents until a stop signal, then stop them (each finishes its step) and give up the claim.
 */
export async function superviseInForeground(
  paths: FleetPaths,
  plan: RunnerPlan,
  log: (line: string) => void,
  /** Registers what a stop signal (Ctrl-C, SIGTERM) does. */
  onStopSignal: (stop: () => void) => void,
): Promise<void> {
  const claim = await claimRunner(paths, log) // one runner per machine; what a dead one left is stopped
  const handle = runAgentsInForeground(plan.agents, plan.env, log, (running) => claim.agents(running))
  onStopSignal(() => {
    log('stopping the agents (a sync in progress finishes first)…')
    void handle.stop()
  })
  await handle.stopped
  await claim.release()
}
