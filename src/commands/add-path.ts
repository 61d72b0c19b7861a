import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeAddPlan, describePlainText} from '../lib/managed/describe.ts'
import {type AddPathPlan, addPaths, confirmPlainText, insideManagedPaths, planAddPaths} from '../lib/managed/paths.ts'
import {readManifest} from '../lib/manifest/store.ts'
import type {SyncResult} from '../lib/sync/engine.ts'

export default class AddPath extends FleetCommand {
  static override summary = 'Sync files or directories under your home across the fleet.'
  static override description = `Checks each path first: it must exist inside $HOME, outside fleet's own files, not be managed already; a managed path inside a new directory is merged into it; a large tree needs --force; content that looks like a secret (a private key, a token, a password; public keys are fine) needs --encrypt (or --force). Then the manifest gains the paths, chezmoi adds them in one invocation, fleet commits once and syncs.

Encrypted paths are stored in the forge as age ciphertext for the active machines and applied decrypted on each.`

  static override examples = [
    {description: 'Sync your shell and editor settings', command: '<%= config.bin %> <%= command.id %> ~/.zshrc ~/.config/nvim'},
    {description: 'Sync a file that holds secrets, encrypted', command: '<%= config.bin %> <%= command.id %> --encrypt ~/.netrc'},
    {
      description: 'A file the sync held back is not a secret after all: sync it in plain text',
      command: '<%= config.bin %> <%= command.id %> --plain-text ~/.claude/project/.env',
    },
    {
      description: 'See what would happen, changing nothing',
      command: '<%= config.bin %> <%= command.id %> --dry-run "~/Library/Application Support/Code/User/settings.json"',
    },
  ]

  static override strict = false
  static override enableJsonFlag = true
  static override args = {path: Args.string({required: true, description: 'Files or directories to sync (quote paths with spaces).'})}
  static override flags = {
    encrypt: Flags.boolean({summary: 'Store the paths encrypted (age) in the forge.'}),
    force: Flags.boolean({summary: 'Add a large tree (more than 1,000 files or 50 MiB).'}),
    'dry-run': Flags.boolean({summary: 'Print the plan and change nothing.'}),
    'plain-text': Flags.boolean({
      summary: 'You checked that what looks like a secret in these files is not one: sync them in plain text (a file the sync held back, or a new path).',
      exclusive: ['encrypt'],
    }),
  }

  async run(): Promise<{plan?: AddPathPlan; plainText?: string[]; dryRun: boolean; sync?: SyncResult}> {
    const {argv, flags} = await this.parse(AddPath)
    const paths = argv as string[]
    const local = await openLocalFleet()
    if (flags['plain-text'] && !flags['dry-run'] && (await insideManagedPaths(local, paths))) {
      const plainText = await confirmPlainText(local, paths)
      this.render({lines: describePlainText(plainText)})
      const result = await this.syncAndReport(local, {reason: 'add-path'})
      return {plainText, dryRun: false, sync: result}
    }
    const options = {paths, encrypt: flags.encrypt, force: flags.force, plainText: flags['plain-text']}
    if (flags['dry-run']) {
      const plan = await planAddPaths(local, await readManifest(local.paths.sourceDir), options)
      this.render(describeAddPlan(plan, 'Would add'))
      return {plan, dryRun: true}
    }
    const plan = await addPaths(local, options)
    this.render(describeAddPlan(plan, 'Added'))
    const result = await this.syncAndReport(local, {reason: 'add-path'})
    if (result.outcome === 'offline') this.warn('The forge did not answer: the paths are committed here and will reach the other machines at the next sync.')
    return {plan, dryRun: false, sync: result}
  }
}
