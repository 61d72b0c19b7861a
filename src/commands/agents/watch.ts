import {FleetCommand} from '../../lib/cli/base-command.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'
import {stepProcesses} from '../../lib/runners/step-process.ts'
import {startWatcher} from '../../lib/runners/watcher.ts'

// bin/run.js starts `fleet agents watch` (as its agent definition runs it) through lib/runners/watcher-main.ts,
// without oclif; this class is for the help, and for the same command reached any other way.
export default class AgentsWatch extends FleetCommand {
  static override summary = 'The watcher agent in the foreground: sync seconds after a save, or after the forge moved.'
  static override description =
    'This is what the watcher agent runs. It watches every managed path recursively (following the manifest as it changes), syncs once the paths have been quiet for a moment, and asks the forge every few seconds whether it moved. Ctrl-C or SIGTERM stops it after a running sync finishes.'
  static override examples = [{description: 'Watch and sync in this terminal', command: '<%= config.bin %> <%= command.id %>'}]

  async run(): Promise<void> {
    await this.parse(AgentsWatch)
    const handle = await startWatcher(fleetPaths(), stepProcesses(), (line) => this.log(line))
    this.onStopSignal(() => void handle.stop())
    await handle.stopped
  }
}
