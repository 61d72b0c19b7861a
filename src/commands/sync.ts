import {Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {runSteps} from '../lib/cli/progress.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeRotation} from '../lib/rotation/describe.ts'
import {rotateIfRequested, type RotationReport} from '../lib/rotation/rotate.ts'
import type {SyncResult} from '../lib/sync/engine.ts'

export default class Sync extends FleetCommand {
  static override summary = 'Capture local edits, exchange them with the forge, and apply what other machines changed.'
  static override description = `The one sync behind every agent and command: capture edits, new files and deletions under the managed paths (one chezmoi invocation each), commit, push (bringing in what other machines pushed first, when the forge has moved), and apply — never overwriting an edit it has not captured. When nothing changed here and the forge has not moved, it stops after one round trip.

Exit codes: 0 synced (or another sync was running and will run again for this one); 1 an error, or the lock is held by a process stuck for over 10 minutes (named, with how to stop it); 3 the forge did not answer within the bound (local commits are kept and pushed next time); 4 a conflict needs you (see \`fleet status\`, then \`fleet resolve\`).`

  static override examples = [
    {description: 'Sync now', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Sync and report as JSON (for scripts)', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Look at everything, skipping the quick path', command: '<%= config.bin %> <%= command.id %> --full'},
  ]

  static override enableJsonFlag = true
  static override flags = {
    reason: Flags.string({summary: 'What started this sync, recorded in the log (agents pass watcher or timer).', default: 'manual', helpValue: '<reason>'}),
    full: Flags.boolean({summary: 'Skip the quick path: look at every managed file and fetch, even when nothing seems to have changed.'}),
  }

  async run(): Promise<SyncResult & {keyRotation?: RotationReport}> {
    const {flags} = await this.parse(Sync)
    // A service manager or `fleet agents run` may ask this process to stop: the sync finishes its work first
    // (never stopping mid-commit), then the process exits.
    this.onStopSignal(() => this.toStderr('fleet sync: finishing the sync in progress before stopping\n'))
    const local = await openLocalFleet()
    const result = await this.syncAndReport(local, {reason: flags.reason, full: flags.full})
    if (result.outcome !== 'ok' && result.outcome !== 'quick') return result
    // The fleet asked every machine to rotate its key (`fleet rotate-keys --all`): this one does it now, after the sync.
    const keyRotation = await rotateIfRequested(local, (steps) => runSteps(steps, {}, {json: this.jsonEnabled()}))
    if (keyRotation) this.render(describeRotation(keyRotation))
    return {...result, keyRotation}
  }
}
