import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {UsageError} from '../../lib/errors/index.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {type AddressChange, currentMachineAddress, setMachineAddress} from '../../lib/machines/machines.ts'

export default class MachinesAddress extends FleetCommand {
  static override summary = "Record how the fleet's other machines reach this one over SSH ([user@]host[:port]), or --clear it; without either, show it."
  static override description =
    "The address goes into this machine's roster entry (shown by `fleet machines list`), committed and pushed; plugins that copy files between machines (task-durations' pull-fleet) reach this machine there. The port defaults to 22 and the user to the one running the command on the other machine."
  static override examples = [
    {description: 'Peers log in as me on laptop.local, port 2222', command: '<%= config.bin %> <%= command.id %> me@laptop.local:2222'},
    {description: 'A host name alone (port 22, the peer’s own user name)', command: '<%= config.bin %> <%= command.id %> studio.lan'},
    {description: "Remove this machine's address: its peers no longer try to reach it", command: '<%= config.bin %> <%= command.id %> --clear'},
    {description: "Show this machine's address (as the roster has it)", command: '<%= config.bin %> <%= command.id %>'},
  ]
  static override enableJsonFlag = true
  static override args = {
    address: Args.string({description: "This machine's SSH address: host, user@host or user@host:port (an IPv6 host in brackets)."}),
  }
  static override flags = {
    clear: Flags.boolean({summary: "Remove this machine's SSH address from the roster."}),
  }

  async run(): Promise<AddressChange> {
    const {args, flags} = await this.parse(MachinesAddress)
    const clear = flags.clear === true
    if (clear && args.address !== undefined) {
      throw new UsageError(
        'Give either an ADDRESS or --clear, not both.',
        'For example: fleet machines address me@laptop.local:2222 (or fleet machines address --clear).',
      )
    }
    if (!clear && args.address === undefined) {
      const current = await currentMachineAddress(await openLocalFleet())
      this.log(
        current.sshAddress === undefined
          ? `${current.machine} has no SSH address in the roster. Set one with: fleet machines address user@host[:port]`
          : `${current.machine} is reached over SSH at ${current.sshAddress}.`,
      )
      return current
    }
    const result = await setMachineAddress(await openLocalFleet(), clear ? undefined : args.address)
    const now = result.sshAddress === undefined ? 'has no SSH address' : `is reached over SSH at ${result.sshAddress}`
    this.log(result.changed ? `${result.machine} ${now} in the roster (pushed).` : `${result.machine} already ${now}; nothing to do.`)
    return result
  }
}
