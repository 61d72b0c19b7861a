import {Flags} from '@oclif/core'

import {renderAgentsTo, renderContext} from '../../lib/agents/install.ts'
import {MANAGER_KINDS} from '../../lib/agents/render.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'

export default class AgentsRender extends FleetCommand {
  static override summary = "Write the agents' launchd plists or systemd units to a directory, without installing them."
  static override examples = [
    {description: 'Read the systemd units fleet would install', command: '<%= config.bin %> <%= command.id %> --manager systemd --out /tmp/units'},
    {description: 'The launchd plists', command: '<%= config.bin %> <%= command.id %> --manager launchd --out ./plists'},
  ]
  static override enableJsonFlag = true
  static override flags = {
    manager: Flags.option({options: MANAGER_KINDS, required: true, summary: 'launchd or systemd.'})(),
    out: Flags.directory({required: true, summary: 'Directory to write the definitions to (created if needed).'}),
  }

  async run(): Promise<{files: string[]}> {
    const {flags} = await this.parse(AgentsRender)
    const {agents} = await this.contributedAgents()
    const files = await renderAgentsTo(flags.out, agents, flags.manager, renderContext(fleetPaths()))
    for (const file of files) this.log(file)
    return {files}
  }
}
