import {Config, Flags} from '@oclif/core'

import {reinstallAgents} from '../../lib/agents/reinstall.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {runPluginManager} from '../../lib/plugins/install.ts'

export default class PluginsReset extends FleetCommand {
  static override summary = 'Remove every plugin installed or linked here (--reinstall: then install them again); the agents follow.'
  static override description = `The fleet's manifest is not changed: the plugins it enables stay enabled, and \`fleet doctor\` says to install them here again (\`fleet plugins uninstall NAME\` disables one fleet-wide). Where this machine's agents are installed, they are installed again, without the removed plugins' agents.`

  static override examples = [
    {description: 'Remove every plugin here', command: '<%= config.bin %> <%= command.id %>'},
    {
      description: 'Start the plugins afresh: remove them and their files, then install them again',
      command: '<%= config.bin %> <%= command.id %> --hard --reinstall',
    },
  ]

  static override flags = {
    hard: Flags.boolean({summary: 'Delete the plugins’ node_modules and npm files in addition to uninstalling them.'}),
    reinstall: Flags.boolean({summary: 'Reinstall every plugin after uninstalling them.'}),
  }

  async run(): Promise<void> {
    await this.parse(PluginsReset)
    await runPluginManager(this.config, 'plugins:reset', this.argv)
    // The plugin manager's reset fires no hooks and leaves this process's plugins as they were: the agents are
    // collected from a config loaded afresh, which has the plugins there are now.
    this.render({lines: await reinstallAgents(await Config.load(this.config.root))})
  }
}
