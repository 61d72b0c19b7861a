import {Args, FleetCommand, readFleet} from '@dotfleet/fleet'

import {durationsPaths} from '../../lib/paths.ts'
import type {RecordedDuration} from '../../lib/record.ts'

export default class TaskDurationsRecord extends FleetCommand {
  static override summary = 'Record how long a task took on this machine.'
  static override description = `Appends a row (task, seconds, this machine's fleet name, the time now) to this machine's local.parquet in the plugin's data directory (~/.local/share/fleet/task-durations, or under FLEET_DATA_DIR). The file is replaced atomically, so a peer copying it never gets half of it; records made at the same moment wait for each other, and none is lost. Needs an enrolled machine (fleet enroll).`
  static override examples = [
    {description: 'The site build took 42.5 seconds', command: '<%= config.bin %> <%= command.id %> "build the site" 42.5'},
    {
      description: 'Time a command and record it',
      command: 'start=$(date +%s); make test; <%= config.bin %> <%= command.id %> "make test" $(( $(date +%s) - start ))',
    },
  ]
  static override args = {
    task: Args.string({
      description: 'The task, one line of text (no newline or other control character): the same words each time, so that its records add up.',
      required: true,
    }),
    seconds: Args.string({
      description: 'How long it took, in seconds: a plain decimal number from 0 up to ten years (12, 12.5, .5 or 1e3; no sign, no 0x).',
      required: true,
    }),
  }
  static override enableJsonFlag = true

  async run(): Promise<RecordedDuration> {
    const {args} = await this.parse(TaskDurationsRecord)
    const {parseSeconds, parseTask, plainSeconds, recordDuration} = await import('../../lib/record.ts')
    const task = parseTask(args.task)
    const seconds = parseSeconds(args.seconds)
    const {machine} = await readFleet()
    const recorded = await recordDuration(durationsPaths(), {task, seconds, host: machine})
    this.log(
      `Recorded ${recorded.task}: ${plainSeconds(recorded.seconds)} s on ${recorded.host} (${recorded.rows} ${recorded.rows === 1 ? 'record' : 'records'} here).`,
    )
    return recorded
  }
}
