import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {startWatcher} from '../../lib/runners/watcher.ts'

export default class AgentsWatch extends FleetCommand {
  static override summary = 'The watcher agent in the foreground: sync seconds after a save, or after the forge moved.'
  static override description =
    'This is what the watcher agent runs. It watches every managed path recursively (following the manifest as it changes), syncs once the paths have been quiet for a moment, and asks the forge every few seconds whether it moved. Ctrl-C or SIGTERM stops it after a running sync finishes.'
  static override examples = [{description: 'Watch and sync in this terminal', command: '<%= config.bin %> <%= command.id %>'}]

  async run(): Promise<void> {
    await this.parse(AgentsWatch)
    const handle = await startWatcher(await openLocalFleet(), (line) => this.log(line))
    this.onStopSignal(() => void handle.stop())
    await handle.stopped
  }
}
