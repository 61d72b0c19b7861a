import {FleetCommand} from '../../lib/cli/base-command.ts'
import type {FleetError} from '../../lib/errors/index.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {editSecrets, type EditOutcome} from '../../lib/secrets-file/edit.ts'
import type {SyncResult} from '../../lib/sync/engine.ts'

export default class SecretsEdit extends FleetCommand {
  static override summary = 'Edit the secrets in your editor ($VISUAL or $EDITOR); saved, they reach every machine in one commit and one sync.'
  static override description =
    'The editor opens a copy in a new directory only you can enter ($XDG_RUNTIME_DIR when set, else the temporary directory), removed however the editor ends: saved, quit with an error, or killed. A result with a malformed line is refused with its line number and nothing changes (in a terminal, fleet offers to open the editor again). Quitting without a change changes nothing.'
  static override examples = [
    {description: 'Edit in your usual editor', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'With another editor, this once', command: 'EDITOR="code --wait" <%= config.bin %> <%= command.id %>'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<EditOutcome & {sync?: SyncResult}> {
    await this.parse(SecretsEdit)
    const local = await openLocalFleet()
    const reopen = this.interactive ? (error: FleetError) => this.askReopen(error) : undefined
    const outcome = await editSecrets(local, {reopen})
    if (!outcome.changed) {
      this.render({lines: ['No change: nothing to do.']})
      return outcome
    }
    const names = (label: string, keys: string[]) => (keys.length > 0 ? [`${label}: ${keys.join(', ')}`] : [])
    const keys = [...names('Added', outcome.added), ...names('Changed', outcome.updated), ...names('Removed', outcome.removed)]
    const replaced = (outcome.replaced ?? []).map(
      (key) => `${key} was also changed on another machine while the editor was open: your value replaced it (the other is in the forge's history).`,
    )
    this.render({lines: keys.length > 0 ? keys : ['Comments or layout changed; no value did.'], warnings: replaced})
    return {...outcome, sync: await this.syncAndReport(local, {reason: 'secrets edit'})}
  }

  private async askReopen(error: FleetError): Promise<boolean> {
    this.toStderr(`${error.message}\n`)
    const {confirm} = await import('@inquirer/prompts')
    return confirm({message: 'Open the editor again to fix it? (No: nothing is changed.)', default: true})
  }
}
