import {Command, Flags} from '@oclif/core'

import {runPluginManager} from '../../lib/plugins/install.ts'

// The plugin manager's own list, under a summary that says what the `plugins` commands are for: `fleet --help` lists
// `plugins` once (its topic is hidden), with this line.
export default class PluginsIndex extends Command {
  static override summary = 'List the plugins installed here; `fleet plugins install`, `uninstall` and `update` change them.'
  static override description =
    "A short name such as task-durations stands for fleet's own @dotfleet/plugin-task-durations. The plugins the fleet enables (its manifest's list) are the ones `fleet doctor` asks every machine to install."

  static override examples = [
    {description: 'The plugins installed here', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'With the plugins fleet comes with', command: '<%= config.bin %> <%= command.id %> --core'},
  ]

  // Parsed by the plugin manager's list, which this hands its arguments to; declared here for the help.
  static override strict = false
  static override flags = {
    core: Flags.boolean({summary: 'Show the plugins fleet comes with too.'}),
    json: Flags.boolean({summary: 'Format output as json.'}),
  }

  async run(): Promise<void> {
    await runPluginManager(this.config, 'plugins', this.argv)
  }
}
