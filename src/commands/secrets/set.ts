import {Args} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {readSecretValue} from '../../lib/cli/secret-input.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {checkKey} from '../../lib/secrets/dotenv.ts'
import {type SecretChange, setSecret} from '../../lib/secrets-file/store.ts'
import type {SyncResult} from '../../lib/sync/engine.ts'

export default class SecretsSet extends FleetCommand {
  static override summary = 'Set one secret on every machine: the value is asked for (not shown), or read from stdin.'
  static override description =
    'There is no flag for the value: a command line is visible to every process on the machine. In a terminal the value is asked for without echo; otherwise it is all of stdin, less one trailing newline. The value is written to ~/.config/fleet/secrets.env (mode 0600) and the sync that follows commits it encrypted and sends it to the other machines: one commit, one sync.'
  static override examples = [
    {description: 'Type the value at a hidden prompt', command: '<%= config.bin %> <%= command.id %> GITHUB_TOKEN'},
    {description: 'From another command', command: 'pass show github | <%= config.bin %> <%= command.id %> GITHUB_TOKEN'},
    {description: 'From a file (a certificate, several lines)', command: '<%= config.bin %> <%= command.id %> TLS_CERT < cert.pem'},
  ]
  static override enableJsonFlag = true
  static override args = {key: Args.string({required: true, description: "The secret's name: letters, digits and _, not starting with a digit."})}

  async run(): Promise<{key: string; change: SecretChange; sync?: SyncResult}> {
    const {args} = await this.parse(SecretsSet)
    checkKey(args.key)
    const local = await openLocalFleet()
    const change = await setSecret(local, args.key, await readSecretValue(args.key))
    if (change === 'unchanged') {
      this.render({lines: [`${args.key} already has this value: nothing to do.`]})
      return {key: args.key, change}
    }
    this.render({lines: [`${args.key} ${change === 'added' ? 'added' : 'changed'}.`]})
    return {key: args.key, change, sync: await this.syncAndReport(local, {reason: 'secrets set'})}
  }
}
