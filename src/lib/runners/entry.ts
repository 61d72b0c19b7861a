// What the resident processes started without oclif (watcher-main.ts, runner-main.ts) share with FleetCommand:
// fleet's errors said with their fix and exit code, and stop signals taken as a request to finish.
import {errorMessage, FleetError} from '../errors/index.ts'

/** Say `error` on stderr as FleetCommand does (`Error: …`, `Fix: …`); returns the exit code it calls for. */
export function reportFailure(error: unknown): number {
  const fix = error instanceof FleetError && error.fix ? `Fix: ${error.fix}\n` : ''
  process.stderr.write(`Error: ${errorMessage(error)}\n${fix}`)
  return error instanceof FleetError ? error.exitCode : 1
}

/** Run `stop` on every Ctrl-C (SIGINT) or SIGTERM, never Node's default of ending at once. */
export function onStopSignal(stop: () => void): void {
  // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener is left to handle.
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
