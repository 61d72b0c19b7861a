import {Args} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {unreadableReport} from '../../lib/keys/crypto.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {changeMachineState, type RosterChange} from '../../lib/machines/machines.ts'

export default class MachinesApprove extends FleetCommand {
  static override summary = "Approve a pending machine: it can then read the fleet's encrypted files."
  static override description =
    'Run on an active machine. Marks the machine active, re-encrypts every encrypted file in the source repo for the new set of active machines, checks each one decrypts, and pushes. The approved machine gets its encrypted files at its next `fleet enroll` (or sync).'
  static override examples = [{description: 'Approve the machine named laptop', command: '<%= config.bin %> <%= command.id %> laptop'}]
  static override enableJsonFlag = true
  static override args = {name: Args.string({required: true, description: 'Name of the pending machine (see `fleet machines list`).'})}

  async run(): Promise<RosterChange> {
    const {args} = await this.parse(MachinesApprove)
    const result = await changeMachineState(await openLocalFleet(), args.name, 'active')
    if (!result.changed) this.log(`${result.machine} is already active; nothing to do.`)
    else
      this.log(
        `${result.machine} is active. Re-encrypted ${result.reencrypted.length} file(s) for ${result.recipients} active machine(s) and pushed.\nOn ${result.machine}, run \`fleet enroll\` to apply the encrypted files.`,
      )
    this.render(unreadableReport(result.unreadable))
    return result
  }
}
