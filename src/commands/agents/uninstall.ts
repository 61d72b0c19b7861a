import {uninstallAgents} from '../../lib/agents/install.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'

export default class AgentsUninstall extends FleetCommand {
  static override summary = "Stop and remove this machine's agents from its service manager."
  static override examples = [{description: 'Remove the agents', command: '<%= config.bin %> <%= command.id %>'}]
  static override enableJsonFlag = true

  async run(): Promise<{removed: string[]}> {
    await this.parse(AgentsUninstall)
    const report = await uninstallAgents(fleetPaths())
    this.log(report ? `Removed ${report.removed.join(', ')} from ${report.manager}.` : 'No agents are installed.')
    return {removed: report?.removed ?? []}
  }
}
