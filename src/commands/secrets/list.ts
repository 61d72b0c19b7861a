import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {listSecrets, type SecretListing} from '../../lib/secrets-file/history.ts'

export default class SecretsList extends FleetCommand {
  static override summary = "The fleet's secrets by name, with when each last changed and on which machine. Never a value."
  static override description =
    "Reads ~/.config/fleet/secrets.env as this machine has it. When each key last changed comes from the history of the encrypted file in the source repo, decrypted in memory with this machine's key; a key changed here and not synced yet says so."
  static override examples = [
    {description: 'The secrets and when each changed', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON (names and times only)', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<{secrets: SecretListing[]}> {
    await this.parse(SecretsList)
    const secrets = await listSecrets(await openLocalFleet())
    const width = Math.max(0, ...secrets.map((s) => s.key.length))
    const when = (s: SecretListing) =>
      s.local ? 'changed here, not synced yet' : s.changedAt ? `changed ${s.changedAt}${s.orEarlier ? ' or earlier' : ''} by ${s.changedBy}` : 'never synced'
    this.render({
      lines: secrets.length === 0 ? ['No secrets yet: add one with `fleet secrets set KEY`.'] : secrets.map((s) => `${s.key.padEnd(width)}  ${when(s)}`),
    })
    return {secrets}
  }
}
