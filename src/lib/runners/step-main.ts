// `fleet agents watcher-step` as the watcher starts it (without-oclif.ts): one sync, or the plan, printed as the
// command's --json prints it (FleetCommand's JSON error included), so that step-process.ts reads either the same way.
import {homedir} from 'node:os'

import {errorMessage, ExitCode, explainSystemError, FleetError} from '../errors/index.ts'
import {openLocalFleet} from '../fleet/local.ts'
import {onStopSignal} from './entry.ts'
import {type StepRequest, watcherStep} from './watcher-step.ts'

/** Run the step and print its report (or its error) as JSON; resolves with the exit code once it is printed. */
export async function runWatcherStep(request: StepRequest): Promise<number> {
  // The watcher is told to stop with this process (a service manager signals them all): the step finishes first.
  onStopSignal(() => {})
  // The watcher may be gone (killed) before the step ends: its output then has no reader, and the step still finishes.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  let output: unknown
  let code: number = ExitCode.ok
  try {
    const local = await openLocalFleet()
    output = await watcherStep(local, request)
  } catch (raw) {
    const error = explainSystemError(raw, homedir())
    const failure = error instanceof FleetError ? error : new FleetError(errorMessage(error), {code: 'UNEXPECTED'})
    code = failure.exitCode
    output = {error: {code: failure.code, message: failure.message, fix: failure.fix, exitCode: failure.exitCode}}
  }
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(output)}\n`, resolve))
  return code
}
