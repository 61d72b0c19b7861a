import {Args} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {unsetSecret} from '../../lib/secrets-file/store.ts'
import type {SyncResult} from '../../lib/sync/engine.ts'

export default class SecretsUnset extends FleetCommand {
  static override summary = 'Remove one secret from every machine.'
  static override description =
    "Removes the key's line from ~/.config/fleet/secrets.env, and the sync that follows takes the change to the other machines (one commit, one sync). Its old value stays readable in the forge's history to the machines that could read it: change it where it was issued if it must stop working."
  static override examples = [{description: 'Remove a token you no longer use', command: '<%= config.bin %> <%= command.id %> OLD_TOKEN'}]
  static override enableJsonFlag = true
  static override args = {key: Args.string({required: true, description: "The secret's name (see `fleet secrets list`)."})}

  async run(): Promise<{key: string; sync: SyncResult}> {
    const {args} = await this.parse(SecretsUnset)
    const local = await openLocalFleet()
    await unsetSecret(local, args.key)
    this.render({lines: [`${args.key} removed.`]})
    return {key: args.key, sync: await this.syncAndReport(local, {reason: 'secrets unset'})}
  }
}
