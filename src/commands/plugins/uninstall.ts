import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {describeFleetPlugins, enabledPlugins, type FleetPluginsChange, recordFleetPlugins} from '../../lib/machines/fleet-plugins.ts'
import {planUninstall, pluginManager, runPluginManager} from '../../lib/plugins/install.ts'

export default class PluginsUninstall extends FleetCommand {
  static override aliases = ['plugins:unlink', 'plugins:remove']
  static override summary = 'Remove a plugin from fleet, here and from the plugins the fleet enables.'
  static override description = `Removes the plugin (installed or linked) from this machine and takes its package name out of the fleet's manifest (committed and pushed), so that no machine's \`fleet doctor\` asks for it any more; each other machine keeps its copy until it runs this command too. Where this machine's agents are installed, they are installed again, without the plugin's. A plugin the manifest lists but this machine never installed is taken out of the manifest alone.`

  static override examples = [
    {description: 'Remove the task-durations plugin', command: '<%= config.bin %> <%= command.id %> task-durations'},
    {description: 'Unlink the plugin linked from the current directory', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override enableJsonFlag = true
  static override strict = false
  static override args = {
    plugin: Args.string({
      description: 'The plugin: its short name (task-durations), its package name, or a linked plugin’s path (default: the current directory).',
    }),
  }

  static override flags = {
    verbose: Flags.boolean({char: 'v', summary: "Show npm's verbose output."}),
  }

  async run(): Promise<{uninstalled: string[]; fleet: FleetPluginsChange}> {
    const {argv, flags} = await this.parse(PluginsUninstall)
    const given = argv.length === 0 ? ['.'] : (argv as string[])
    const plan = await planUninstall(await pluginManager(this.config), given, await enabledPlugins())
    if (plan.installed.length > 0) {
      await runPluginManager(this.config, 'plugins:uninstall', [...plan.installed.map((p) => p.given), ...(flags.verbose ? ['--verbose'] : [])])
    }
    const uninstalled = plan.installed.map((p) => p.package)
    const fleet = await recordFleetPlugins([...uninstalled, ...plan.manifestOnly], false)
    this.render({lines: [...uninstalled.map((name) => `Uninstalled ${name}.`), ...describeFleetPlugins(fleet, false)]})
    return {uninstalled, fleet}
  }
}
