import {type AgentListing, detectManager, listAgents} from '../../lib/agents/install.ts'
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
    const manager = await detectManager()
    const listings = await listAgents(fleetPaths(), agents, manager)
    if (!this.jsonEnabled()) {
      this.log(manager ? `Service manager: ${manager}` : 'No service manager here: run the agents with `fleet agents run`.')
      for (const a of listings) {
        const how = a.kind === 'resident' ? 'resident' : `every ${a.intervalSeconds} s`
        const state = !manager ? '' : !a.installed ? 'not installed' : `${a.running ? (manager === 'launchd' ? 'loaded' : 'active') : 'not running'}${a.current ? '' : ', definition out of date (fleet agents install)'}`
        this.log(`  ${a.id.padEnd(12)} ${how.padEnd(16)} ${state.padEnd(24)} from ${a.source}`)
      }
    }
    return {manager, agents: listings, failures}
  }
}
