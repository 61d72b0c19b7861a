import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {askToGoOn} from '../../lib/cli/prompts.ts'
import {describeFleetPlugins, type FleetPluginsChange, recordFleetPlugins} from '../../lib/machines/fleet-plugins.ts'
import {installedPackages, pluginManager, resolvePluginRequests, runPluginManager} from '../../lib/plugins/install.ts'

export default class PluginsInstall extends FleetCommand {
  static override aliases = ['plugins:add']
  static override summary = "Install a plugin into fleet, here and fleet-wide: a short name (task-durations) means fleet's own @dotfleet/plugin-task-durations."
  static override description = `A short NAME stands for @dotfleet/plugin-NAME only. fleet asks the registry for it first; when it has no such package, fleet refuses (exit 2) instead of installing the unscoped package NAME, which anyone may have published, unless --allow-unscoped is given (in a terminal, it asks). A scoped name, a tag (NAME@1.2.0, NAME@beta), a git URL or a GitHub slug are taken as they are.

The registry is npm's own configuration: FLEET_NPM_REGISTRY, else npm_config_registry or an .npmrc (a \`@dotfleet:registry\` line wins for fleet's plugins). Plugins go into fleet's data directory (FLEET_DATA_DIR, else ~/.local/share/fleet).

Once installed, the plugin is enabled fleet-wide: its package name goes into the manifest (committed and pushed), and every other machine's \`fleet doctor\` says to install it there too. Where this machine's agents are installed, they are installed again, with the plugin's.`

  static override examples = [
    {description: "Install fleet's task-durations plugin (@dotfleet/plugin-task-durations)", command: '<%= config.bin %> <%= command.id %> task-durations'},
    {description: 'A given version, or a dist-tag', command: '<%= config.bin %> <%= command.id %> task-durations@0.2.0'},
    {description: 'A plugin published under another scope', command: '<%= config.bin %> <%= command.id %> @someone/fleet-plugin-x'},
    {
      description: 'The unscoped package hello, when there is no @dotfleet/plugin-hello and you trust its publisher',
      command: '<%= config.bin %> <%= command.id %> hello --allow-unscoped',
    },
  ]

  static override enableJsonFlag = true
  static override strict = false
  static override args = {
    plugin: Args.string({description: 'The plugin: a short name (task-durations), a package name, NAME@tag, a git URL or a GitHub slug.', required: true}),
  }

  static override flags = {
    'allow-unscoped': Flags.boolean({
      summary: 'When @dotfleet/plugin-NAME does not exist, install the unscoped package NAME instead (anyone may have published it).',
    }),
    force: Flags.boolean({char: 'f', summary: "npm's --force: fetch remote resources even when a local copy exists."}),
    silent: Flags.boolean({char: 's', summary: "Silence npm's output.", exclusive: ['verbose']}),
    verbose: Flags.boolean({char: 'v', summary: "Show npm's verbose output.", exclusive: ['silent']}),
  }

  async run(): Promise<{installed: Array<{name: string; version: string}>; fleet: FleetPluginsChange}> {
    const {argv, flags} = await this.parse(PluginsInstall)
    const manager = await pluginManager(this.config)
    const ask = this.interactive ? askToGoOn : undefined
    const requests = await resolvePluginRequests(manager, this.config, argv as string[], {allowUnscoped: flags['allow-unscoped'] === true, ask})
    const options = [
      ...(flags.force ? ['--force'] : []),
      // Under --json, stdout holds the JSON alone.
      ...(flags.silent || this.jsonEnabled() ? ['--silent'] : []),
      ...(flags.verbose ? ['--verbose'] : []),
    ]
    const before = new Set(this.config.plugins.keys())
    await runPluginManager(this.config, 'plugins:install', [...requests.map((r) => r.argument), ...options])
    const installed = installedPackages(this.config, requests, before)
    const fleet = await recordFleetPlugins(
      installed.map((p) => p.name),
      true,
    )
    this.render({lines: [...installed.map((p) => `Installed ${p.name} ${p.version}.`), ...(installed.length > 0 ? describeFleetPlugins(fleet, true) : [])]})
    return {installed, fleet}
  }
}
