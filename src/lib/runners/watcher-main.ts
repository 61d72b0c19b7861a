// `fleet agents watch` as its agent definition starts it (bin/run.js sends exactly that command line here): the
// watcher without oclif, its plugins and their hooks, which would stay in its memory for as long as it runs
// (months). It behaves as the command does: fleet's errors with their fix and exit code, and Ctrl-C or SIGTERM
// lets a running sync finish.
import {followRunner} from '../agents/runner-record.ts'
import {fleetPaths} from '../platform/paths.ts'
import {onStopSignal, reportFailure} from './entry.ts'
import {stepProcesses} from './step-process.ts'
import {startWatcher} from './watcher.ts'

/** Run the watcher until it is told to stop; resolves with the exit code. */
export async function runWatcherAgent(): Promise<number> {
  followRunner() // an agent of `fleet agents run` stops when the runner is gone
  try {
    const handle = await startWatcher(fleetPaths(), stepProcesses(), (line) => process.stdout.write(`${line}\n`))
    onStopSignal(() => void handle.stop())
    await handle.stopped
    return 0
  } catch (error) {
    return reportFailure(error)
  }
}
