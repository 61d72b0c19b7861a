import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {UsageError} from '../lib/errors/index.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {reportSync} from '../lib/sync/describe.ts'
import {sync, type SyncResult} from '../lib/sync/engine.ts'
import {findConflict, resolveConflict, type Side} from '../lib/sync/resolve.ts'
import {readSyncState} from '../lib/sync/state.ts'

export default class Resolve extends FleetCommand {
  static override summary = 'Finish a conflict: keep this machine\'s version, or take the fleet\'s.'
  static override description = 'In a terminal without --mine or --theirs, fleet asks. --mine makes this machine\'s version the fleet\'s; --theirs applies the fleet\'s version here (this machine\'s is backed up first). Then fleet syncs.'
  static override examples = [
    {description: 'Keep this machine\'s version of a file', command: '<%= config.bin %> <%= command.id %> ~/.zshrc --mine'},
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
    let side: Side | undefined = flags.mine ? 'mine' : flags.theirs ? 'theirs' : undefined
    if (side === undefined) {
      if (!process.stdin.isTTY || !process.stdout.isTTY || this.jsonEnabled()) {
        throw new UsageError('fleet resolve needs --mine or --theirs when it cannot ask (no terminal).', `fleet resolve ${args.path} --mine   or   fleet resolve ${args.path} --theirs`, 'MISSING_ANSWER')
      }
      const conflict = findConflict(local, (await readSyncState(local.paths)).conflicts, args.path)
      const {select} = await import('@inquirer/prompts')
      side = await select<Side>({
        message: `~/${conflict.path} changed here and on another machine. Which version should the fleet keep?`,
        choices: [
          {name: "This machine's (what is in the file now)", value: 'mine'},
          {name: "The fleet's (this machine's is backed up first)", value: 'theirs'},
        ],
      })
    }
    const conflict = await resolveConflict(local, args.path, side)
    this.log(`Resolved ~/${conflict.path}: kept ${side === 'mine' ? "this machine's" : "the fleet's"} version.`)
    const result = await sync(local, {reason: 'resolve', full: true})
    reportSync(result, {json: this.jsonEnabled(), log: (line) => this.log(line)})
    return {path: conflict.path, side, sync: result}
  }
}
