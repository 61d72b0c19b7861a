import {FleetCommand} from '../../lib/cli/base-command.ts'
import {renderTable} from '../../lib/cli/table.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {keyTypeOfRecipient} from '../../lib/keys/identity.ts'
import {listMachines, type RosterView} from '../../lib/machines/machines.ts'

export default class MachinesList extends FleetCommand {
  static override summary = "Show the fleet's machines, as the forge has them now."
  static override description = "Fetches from the forge first. When the forge does not answer, shows this machine's copy of the roster and says so."
  static override examples = [
    {description: 'The roster as a table', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The roster as JSON, for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<RosterView> {
    await this.parse(MachinesList)
    const view = await listMachines(await openLocalFleet())
    if (this.jsonEnabled()) return view
    if (view.source === 'local') this.warn(`Showing this machine's local copy of the roster: ${view.forgeError}`)
    const rows = view.machines.map((m) => [
      `${m.name}${m.name === view.thisMachine ? ' (this machine)' : ''}`,
      m.state,
      m.hostname,
      m.os,
      keyTypeOfRecipient(m.recipient),
      m.enrolledAt.slice(0, 10),
      m.sshAddress ?? '-',
    ])
    for (const line of renderTable(['NAME', 'STATE', 'HOSTNAME', 'OS', 'KEY', 'ENROLLED', 'SSH ADDRESS'], rows)) this.log(line)
    const pending = view.machines.filter((m) => m.state === 'pending')
    if (pending.length > 0) this.log(`\nPending machines wait for approval: fleet machines approve ${pending[0].name}`)
    return view
  }
}
