import {Args, FleetCommand, Flags, renderTable} from '@dotfleet/fleet'

import type {DurationStats, Estimate} from '../../lib/estimate.ts'
import {durationsPaths} from '../../lib/paths.ts'

/** Seconds the way a person reads them: `42.5 s`, `—` when there are none. */
function seconds(value: number | null): string {
  return value === null ? '—' : `${Number(value.toFixed(2))} s`
}

function summary(stats: DurationStats): string {
  return `median ${seconds(stats.medianSeconds)}, p90 ${seconds(stats.p90Seconds)}`
}

export default class TaskDurationsEstimate extends FleetCommand {
  static override summary = 'How long a task takes: count, median and 90th percentile of its recorded durations.'
  static override description = `Without --fleet, from this machine's own records (local.parquet). With --fleet, from those and every peer's copy that \`fleet task-durations pull-fleet\` gathered (fleet/host=<peer>/local.parquet), with each host's share. A task nobody has recorded yet is an answer with count 0.`
  static override examples = [
    {description: "From this machine's records", command: '<%= config.bin %> <%= command.id %> "build the site"'},
    {description: "From the whole fleet's, with each host's count", command: '<%= config.bin %> <%= command.id %> "build the site" --fleet'},
    {
      description: 'The numbers as JSON (seconds as numbers; null when there is no record)',
      command: '<%= config.bin %> <%= command.id %> "build the site" --fleet --json',
    },
  ]
  static override args = {
    task: Args.string({description: 'The task, as it was recorded (one line of text).', required: true}),
  }
  static override flags = {
    fleet: Flags.boolean({description: "Use every peer's records too (as pull-fleet last gathered them), not only this machine's.", default: false}),
  }
  static override enableJsonFlag = true

  async run(): Promise<Estimate> {
    const {args, flags} = await this.parse(TaskDurationsEstimate)
    const {parseTask} = await import('../../lib/record.ts')
    const {estimateDuration} = await import('../../lib/estimate.ts')
    const estimate = await estimateDuration(durationsPaths(), parseTask(args.task, 'estimate'), {fleet: flags.fleet})
    const where = estimate.scope === 'fleet' ? 'across the fleet' : 'on this machine'
    if (estimate.count === 0) this.log(`No records of ${estimate.task} ${where} yet.`)
    else this.log(`${estimate.task}: ${estimate.count} ${estimate.count === 1 ? 'record' : 'records'} ${where}, ${summary(estimate)}.`)
    if (estimate.hosts && estimate.hosts.length > 0) {
      this.log('')
      const rows = estimate.hosts.map((host) => [host.host, String(host.count), seconds(host.medianSeconds), seconds(host.p90Seconds)])
      for (const line of renderTable(['HOST', 'COUNT', 'MEDIAN', 'P90'], rows)) this.log(line)
    }
    return estimate
  }
}
