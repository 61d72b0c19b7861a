import {Args} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {unreadableReport} from '../../lib/keys/crypto.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {changeMachineState, type RosterChange} from '../../lib/machines/machines.ts'

export default class MachinesRevoke extends FleetCommand {
  static override summary = 'Revoke a machine (a lost laptop): its key can no longer read new versions of the encrypted files.'
  static override description =
    "Run on an active machine. Marks the machine revoked, re-encrypts every encrypted file for the remaining active machines, checks each one, and pushes. Older versions stay readable to the revoked key in the forge's history: change the secret values themselves afterwards."
  static override examples = [{description: 'Revoke the machine named old-laptop', command: '<%= config.bin %> <%= command.id %> old-laptop'}]
  static override enableJsonFlag = true
  static override args = {name: Args.string({required: true, description: 'Name of the machine to revoke.'})}

  async run(): Promise<RosterChange> {
    const {args} = await this.parse(MachinesRevoke)
    const result = await changeMachineState(await openLocalFleet(), args.name, 'revoked')
    if (!result.changed) this.log(`${result.machine} is already revoked; nothing to do.`)
    else {
      this.log(`${result.machine} is revoked. Re-encrypted ${result.reencrypted.length} file(s) for ${result.recipients} active machine(s) and pushed.`)
      this.log(
        "Its key can still read the versions in the forge's history: change the secret values themselves now (edit ~/.config/fleet/secrets.env and rotate each token at its issuer).",
      )
    }
    this.render(unreadableReport(result.unreadable))
    return result
  }
}
