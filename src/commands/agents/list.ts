import {type AgentListing} from '../../lib/agents/install.ts'
import {describeListing, listMachineAgents} from '../../lib/agents/machine-agents.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'

export default class AgentsList extends FleetCommand {
  static override summary = "This machine's agents: where each comes from, whether it is installed and running, and whether its definition is current."
  static override examples = [
    {description: 'The agents', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<{manager?: string; agents: AgentListing[]; failures: Array<{source: string; error: string}>}> {
    await this.parse(AgentsList)
    const {agents, failures} = await this.contributedAgents()
    const {manager, agents: listed} = await listMachineAgents(fleetPaths(), agents)
    const listings = listed.map((a) => a.listing)
    this.render({lines: describeListing(manager, listings)})
    return {manager, agents: listings, failures}
  }
}
