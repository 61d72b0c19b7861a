import {Flags} from '@oclif/core'

import {listMachineAgents} from '../lib/agents/machine-agents.ts'
import {FleetCommand} from '../lib/cli/base-command.ts'
import {renderTable} from '../lib/cli/table.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeStatus} from '../lib/status/describe.ts'
import {describeFleetView, type FleetView, fleetView, fleetViewExitCode} from '../lib/status/fleet-view.ts'
import {machineStatus, type StatusReport} from '../lib/status/status.ts'

export default class Status extends FleetCommand {
  static override summary = "This machine's sync state: last sync, ahead/behind, conflicts, edits waiting, and the roster."
  static override description = `With --fleet: every machine of the roster as its heartbeat at the forge tells it (each machine publishes one at its syncs): last seen (stale after settings.heartbeat.staleAfterSeconds, default 1 hour), last sync's outcome, whether it holds the roster's key and can decrypt, its conflicts and agents. A machine that never published one is "never seen" ("unknown (never fetched)" while this machine has never fetched the heartbeats); a pending machine cannot decrypt yet, a revoked one is shown revoked; this machine's row is told from its own state now. What another machine's heartbeat says is shown on one line without control characters, and a heartbeat dated in the future is said to come from a clock that is ahead.

Exit codes: 0 done; 3 with --fleet, the forge did not answer (the heartbeats last fetched are shown, and may be old).`

  static override examples = [
    {description: 'How this machine stands', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Every machine of the fleet, from its heartbeat', command: '<%= config.bin %> <%= command.id %> --fleet'},
  ]

  static override enableJsonFlag = true
  static override flags = {
    fleet: Flags.boolean({summary: "Show every machine of the fleet, from the heartbeats at the forge, instead of this machine's state."}),
  }

  async run(): Promise<FleetView | StatusReport> {
    const {flags} = await this.parse(Status)
    const local = await openLocalFleet()
    if (flags.fleet) {
      const view = await fleetView(local)
      const {header, rows, notes} = describeFleetView(view)
      this.render({lines: [...renderTable(header, rows), ...notes], exitCode: fleetViewExitCode(view)})
      return view
    }

    const {agents} = await this.contributedAgents()
    const {manager, agents: listed} = await listMachineAgents(local.paths, agents)
    const report = await machineStatus(local, listed)
    this.render({lines: describeStatus(report, manager)})
    return report
  }
}
