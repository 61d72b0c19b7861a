import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {UsageError} from '../../lib/errors/index.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {getSecret} from '../../lib/secrets-file/store.ts'

export default class SecretsGet extends FleetCommand {
  static override summary = "Print one secret's value, to a pipe or a file (or to the terminal with --reveal)."
  static override description =
    'The value is printed followed by one newline, so that `fleet secrets get A | fleet secrets set B` copies it exactly. A terminal is refused unless --reveal is given: a value on screen stays in scrollback and screen shares. A missing key exits 1 naming the known keys.'
  static override examples = [
    {description: 'Use a token in a command', command: 'GITHUB_TOKEN="$(<%= config.bin %> <%= command.id %> GITHUB_TOKEN)" gh auth status'},
    {description: 'Copy it to the clipboard', command: '<%= config.bin %> <%= command.id %> GITHUB_TOKEN | pbcopy'},
    {description: 'Show it on the terminal', command: '<%= config.bin %> <%= command.id %> GITHUB_TOKEN --reveal'},
  ]
  static override args = {key: Args.string({required: true, description: "The secret's name (see `fleet secrets list`)."})}
  static override flags = {reveal: Flags.boolean({summary: 'Print the value even when stdout is a terminal.'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(SecretsGet)
    if (process.stdout.isTTY && !flags.reveal) {
      throw new UsageError(
        `fleet secrets get prints ${args.key}'s value only to a pipe or a file, not to a terminal, where it would stay on screen.`,
        `Pipe it (fleet secrets get ${args.key} | pbcopy), capture it ("$(fleet secrets get ${args.key})"), or add --reveal to show it here.`,
        'SECRET_TO_TERMINAL',
      )
    }
    const value = await getSecret(await openLocalFleet(), args.key)
    process.stdout.write(value + '\n')
  }
}
