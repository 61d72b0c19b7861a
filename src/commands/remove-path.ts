import {Args} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeRemoved} from '../lib/managed/describe.ts'
import {removePaths} from '../lib/managed/paths.ts'
import type {SyncResult} from '../lib/sync/engine.ts'

export default class RemovePath extends FleetCommand {
  static override summary = 'Stop syncing paths, fleet-wide. The files stay where they are on every machine.'
  static override examples = [{description: 'Stop syncing a directory', command: '<%= config.bin %> <%= command.id %> ~/.config/nvim'}]
  static override strict = false
  static override enableJsonFlag = true
  static override args = {path: Args.string({required: true, description: 'Managed paths to stop syncing (see `fleet paths`).'})}

  async run(): Promise<{removed: string[]; sync: SyncResult}> {
    const {argv} = await this.parse(RemovePath)
    const local = await openLocalFleet()
    const removed = await removePaths(local, argv as string[])
    this.render({lines: describeRemoved(removed)})
    const result = await this.syncAndReport(local, {reason: 'remove-path'})
    return {removed, sync: result}
  }
}
