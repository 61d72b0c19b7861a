import {Flags} from '@oclif/core'

import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {type StepReport, watcherStep} from '../../lib/runners/watcher-step.ts'

export default class AgentsWatcherStep extends FleetCommand {
  static override hidden = true
  static override summary = 'One step of the watcher, in a process of its own: a sync and what to watch next, or (--plan) what to watch.'
  static override description =
    '`fleet agents watch` starts this for each sync, so that the resident watcher stays small; its --json output is what the watcher reads (bin/run.js runs it without oclif when the watcher asks). Ctrl-C or SIGTERM lets a running sync finish first.'
  static override examples = [
    {description: 'What the watcher would watch', command: '<%= config.bin %> <%= command.id %> --plan --json'},
    {description: 'One sync, as the watcher runs it', command: '<%= config.bin %> <%= command.id %> --reason watcher --json'},
  ]
  static override enableJsonFlag = true
  static override flags = {
    reason: Flags.string({
      summary: 'What started the sync, recorded in the log (watcher, watcher-start, watcher-forge).',
      helpValue: '<reason>',
      exclusive: ['plan'],
    }),
    plan: Flags.boolean({summary: 'Only say what to watch; no sync.'}),
  }

  async run(): Promise<StepReport> {
    const {flags} = await this.parse(AgentsWatcherStep)
    // The watcher is told to stop with this process (a service manager signals them all): the step finishes first.
    this.onStopSignal(() => {})
    // The watcher may be gone (killed) before the step ends: its output then has no reader, and the step still finishes.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
    const local = await openLocalFleet()
    const report = await watcherStep(local, flags.plan ? {plan: true} : {reason: flags.reason ?? 'watcher'})
    this.render({lines: report.lines})
    return report
  }
}
