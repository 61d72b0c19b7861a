import {Args} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {importSecrets} from '../../lib/secrets-file/store.ts'
import type {SyncResult} from '../../lib/sync/engine.ts'

export default class SecretsImport extends FleetCommand {
  static override summary = "Merge a dotenv file's entries into the secrets: one commit, one sync."
  static override description =
    'Each KEY=value of FILE is set (a key already there takes the new value; the other secrets stay). A malformed FILE is refused with its line number, and nothing changes. Remove FILE afterwards if it should not stay in plain text.'
  static override examples = [
    {description: "A project's .env into the fleet's secrets", command: '<%= config.bin %> <%= command.id %> ~/project/.env'},
    {description: 'See what was added and changed, as JSON', command: '<%= config.bin %> <%= command.id %> old-secrets.env --json'},
  ]
  static override enableJsonFlag = true
  static override args = {file: Args.string({required: true, description: 'A dotenv file (KEY=value lines).'})}

  async run(): Promise<{added: string[]; changed: string[]; unchanged: string[]; sync?: SyncResult}> {
    const {args} = await this.parse(SecretsImport)
    const local = await openLocalFleet()
    const result = await importSecrets(local, args.file)
    const lines = [
      ...(result.added.length > 0 ? [`Added: ${result.added.join(', ')}`] : []),
      ...(result.changed.length > 0 ? [`Changed: ${result.changed.join(', ')}`] : []),
      ...(result.unchanged.length > 0 ? [`Already the same: ${result.unchanged.join(', ')}`] : []),
    ]
    if (result.added.length + result.changed.length === 0) {
      this.render({lines: [...lines, 'Nothing to change.']})
      return result
    }
    this.render({lines})
    return {...result, sync: await this.syncAndReport(local, {reason: 'secrets import'})}
  }
}
