import {listMachineAgents} from '../lib/agents/machine-agents.ts'
import {FleetCommand} from '../lib/cli/base-command.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeStatus} from '../lib/status/describe.ts'
import {machineStatus, type StatusReport} from '../lib/status/status.ts'

export default class Status extends FleetCommand {
  static override summary = "This machine's sync state: last sync, ahead/behind, conflicts, edits waiting, and the roster."
  static override examples = [
    {description: 'How this machine stands', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<StatusReport> {
    await this.parse(Status)
    const local = await openLocalFleet()
    const {agents} = await this.contributedAgents()
    const {manager, agents: listed} = await listMachineAgents(local.paths, agents)
    const report = await machineStatus(local, listed)
    this.render({lines: describeStatus(report, manager)})
    return report
  }
}
