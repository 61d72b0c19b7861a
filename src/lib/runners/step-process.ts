// The watcher's steps as processes: `fleet agents watcher-step` (see watcher-step.ts), started with this fleet's own node
// and CLI, its --json output read back. Only types come from watcher-step.ts: the resident watcher does not load it.
import type {ChildProcess} from 'node:child_process'

import {errorMessage, type ExitCodeValue, FleetError} from '../errors/index.ts'
import {fleetProcess} from './entry.ts'
import type {StepReport, WatchPlan} from './watcher-step.ts'

/** How the watcher runs its steps (processes here; something else in a test). */
export interface WatcherSteps {
  /** What to watch; a machine that is not enrolled, or a manifest that cannot be read, fails with fleet's message. */
  plan(): Promise<WatchPlan>
  /** One sync: lines for the log and the plan after it. Never throws for a sync that failed (the lines say so). */
  sync(reason: string): Promise<StepReport>
  /** The watcher stops: a step that has not begun its sync yet ends now; one that has finishes it. */
  stop(): void
}

/** Steps as `fleet agents watcher-step` processes, in this process's group: a stop signal to the group lets a running step finish. */
export function stepProcesses(): WatcherSteps {
  const running = new Set<ChildProcess>()
  let stopping = false
  const step = async (args: string[]) => {
    const {child, ended} = fleetProcess(['agents', 'watcher-step', ...args, '--json'])
    running.add(child)
    try {
      return readReport(await ended)
    } finally {
      running.delete(child)
    }
  }
  return {
    plan: async () => {
      const {plan} = await step(['--plan'])
      if (!plan) throw new FleetError('fleet agents watcher-step --plan said nothing to watch.')
      return plan
    },
    sync: async (reason) => {
      try {
        return await step(['--reason', reason])
      } catch (error) {
        return {lines: [stopping ? `sync (${reason}): not begun, the watcher stops` : `sync (${reason}) failed: ${errorMessage(error)}`]}
      }
    },
    stop: () => {
      stopping = true
      // As a service manager signals the whole group: a step still starting ends at once (it has changed nothing),
      // a step in its sync takes the signal as a request to finish first (see the command).
      for (const child of running) child.kill('SIGTERM')
    },
  }
}

/** What a step prints with --json: its report, or fleet's error (see FleetCommand). */
type StepOutput = StepReport & {error?: {message: string; fix?: string; code: string; exitCode: ExitCodeValue}}

/** A step's report, or its error (fleet's own, with its fix and exit code, when it printed one). */
function readReport({code, signal, stdout}: {code: number | null; signal: NodeJS.Signals | null; stdout: string}): StepReport {
  let parsed: StepOutput | undefined
  try {
    parsed = JSON.parse(stdout) as StepOutput
  } catch {
    parsed = undefined
  }
  if (code === 0 && parsed) return parsed
  if (parsed?.error) throw new FleetError(parsed.error.message, parsed.error)
  throw new Error(`fleet agents watcher-step ended with ${signal ?? `exit code ${code}`}${stdout ? `: ${stdout.trim().slice(0, 500)}` : ''}`)
}
