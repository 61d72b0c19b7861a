// `fleet agents watch` as its agent definition starts it (bin/run.js sends exactly that command line here): the
// watcher without the CLI's framework, its plugins and their hooks, which would stay in its memory for as long as
// it runs (months). It behaves as the command does: fleet's errors with their fix and exit code, and Ctrl-C or
// SIGTERM lets a running sync finish.
import {followRunner} from '../agents/runner-record.ts'
import {errorMessage, FleetError} from '../errors/index.ts'
import {fleetPaths} from '../platform/paths.ts'
import {stepProcesses} from './step-process.ts'
import {startWatcher} from './watcher.ts'

/** Run the watcher until it is told to stop; resolves with the exit code. */
export async function runWatcherAgent(): Promise<number> {
  followRunner() // an agent of `fleet agents run` stops when the runner is gone
  let handle
  try {
    handle = await startWatcher(fleetPaths(), stepProcesses(), (line) => process.stdout.write(`${line}\n`))
  } catch (error) {
    const fix = error instanceof FleetError && error.fix ? `Fix: ${error.fix}\n` : ''
    process.stderr.write(`Error: ${errorMessage(error)}\n${fix}`)
    return error instanceof FleetError ? error.exitCode : 1
  }
  const stop = () => void handle.stop()
  // `on`, not `once`: every Ctrl-C or SIGTERM is this watcher's to handle, never Node's default of ending at once.
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  await handle.stopped
  return 0
}
