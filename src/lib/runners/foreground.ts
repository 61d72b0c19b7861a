// `fleet agents run`: this machine's agents in the foreground, for containers and machines without a service
// manager. Resident agents are restarted when they die (after a pause, as launchd and systemd do); interval
// agents run at start and then every interval. Ctrl-C or SIGTERM stops everything cleanly: each agent is
// asked to stop and given time to finish its step, never cut off mid-commit.
import {createInterface} from 'node:readline'

import {execa} from 'execa'

import {programArguments, type RenderContext} from '../agents/render.ts'
import {type RecordedProcess, RUNNER_PID_ENV} from '../agents/runner-record.ts'
import type {ContributedAgent} from '../agents/spec.ts'
import {processStart} from '../lock/lock.ts'

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

interface RunningChild {
  kill(signal: NodeJS.Signals): void
  /** Resolves when the process has exited, with how. */
  exited: Promise<{code?: number; signal?: string}>
}

/**
 * Run this machine's agents as child processes of this one, as a service manager would: resident agents restarted
 * when they exit, interval agents started every `intervalSeconds` (the first run a little after start). Lines about
 * each start and exit go to `log`. Returns at once; the handle stops them.
 */
export function runAgentsInForeground(
  agents: ContributedAgent[],
  ctx: RenderContext,
  log: (line: string) => void,
  /** Told the agents running now, each time one starts or exits. */
  onAgents: (running: RecordedProcess[]) => void = () => {},
): ForegroundHandle {
  const children = new Map<RunningChild, RecordedProcess>()
  const timers: NodeJS.Timeout[] = []
  let stopping = false

  const start = (agent: ContributedAgent): RunningChild => {
    const argv = programArguments(agent, ctx)
    const [file, ...args] = argv
    // The same environment a service manager gives the agent (so the same tools), and the runner's pid: the agent
    // stops when the runner is gone, however it went.
    const env = {...ctx.env, [RUNNER_PID_ENV]: String(process.pid)}
    // No timeout: a resident agent runs until it is stopped, and an interval agent's sync bounds its own steps.
    // Nor execa's SIGKILL 5 s after a stop: an agent finishing its sync gets STOP_GRACE_MS (stop() below).
    const subprocess = execa(file, args, {env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, forceKillAfterDelay: false})
    for (const stream of [subprocess.stdout, subprocess.stderr]) {
      createInterface({input: stream}).on('line', (line) => log(`[${agent.id}] ${line}`))
    }
    const child: RunningChild = {
      kill: (signal) => subprocess.kill(signal),
      exited: subprocess.then((result) => ({code: result.exitCode, signal: result.signal})),
    }
    if (subprocess.pid !== undefined) {
      children.set(child, {pid: subprocess.pid, start: processStart(subprocess.pid), commandLine: argv.join(' '), agent: agent.id})
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
