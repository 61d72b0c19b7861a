import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {askWhichSide} from '../lib/cli/prompts.ts'
import {UsageError} from '../lib/errors/index.ts'
import {type LocalFleet, openLocalFleet} from '../lib/fleet/local.ts'
import type {SyncResult} from '../lib/sync/engine.ts'
import {resolveConflict, type Side} from '../lib/sync/resolve.ts'

export default class Resolve extends FleetCommand {
  static override summary = "Finish a conflict: keep this machine's version, or take the fleet's."
  static override description =
    "In a terminal without --mine or --theirs, fleet asks. --mine makes this machine's version the fleet's; --theirs applies the fleet's version here (this machine's is backed up first). Then fleet syncs."
  static override examples = [
    {description: "Keep this machine's version of a file", command: '<%= config.bin %> <%= command.id %> ~/.zshrc --mine'},
    {description: 'Take the version the other machines have', command: '<%= config.bin %> <%= command.id %> ~/.config/nvim/init.lua --theirs'},
  ]
  static override enableJsonFlag = true
  static override args = {path: Args.string({required: true, description: 'The file in conflict (see `fleet status`).'})}
  static override flags = {
    mine: Flags.boolean({summary: "Keep this machine's version.", exclusive: ['theirs']}),
    theirs: Flags.boolean({summary: "Take the fleet's version.", exclusive: ['mine']}),
  }

  async run(): Promise<{path: string; side: Side; sync: SyncResult}> {
    const {args, flags} = await this.parse(Resolve)
    const local = await openLocalFleet()
    const side: Side = flags.mine ? 'mine' : flags.theirs ? 'theirs' : await this.askWhichSide(local, args.path)
    const conflict = await resolveConflict(local, args.path, side)
    this.log(`Resolved ~/${conflict.path}: kept ${side === 'mine' ? "this machine's" : "the fleet's"} version.`)
    const result = await this.syncAndReport(local, {reason: 'resolve', full: true})
    return {path: conflict.path, side, sync: result}
  }

  /** Ask in the terminal; where it cannot ask, the flags are needed. */
  private async askWhichSide(local: LocalFleet, path: string): Promise<Side> {
    if (!this.interactive)
      throw new UsageError(
        'fleet resolve needs --mine or --theirs when it cannot ask (no terminal).',
        `fleet resolve ${path} --mine   or   fleet resolve ${path} --theirs`,
        'MISSING_ANSWER',
      )
    return askWhichSide(local, path)
  }
}
