import {Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {CORE_CHECKS} from '../lib/doctor/checks/index.ts'
import {DoctorContext} from '../lib/doctor/context.ts'
import {describeDoctor} from '../lib/doctor/describe.ts'
import {type DoctorReport, runDoctor} from '../lib/doctor/doctor.ts'
import {pluginChecks} from '../lib/doctor/plugin-checks.ts'
import {ExitCode} from '../lib/errors/index.ts'

export default class Doctor extends FleetCommand {
  static override summary = 'Check this machine: tools, source repo, forge, manifest, keys, managed paths, agents, the last sync.'
  static override description = `Every check runs at once, each within its own time limit, and says ok, warn, fail or skip, with the fix for what is not ok. --fix applies the safe fixes (a key's mode, the agents, a stale lock, an interrupted rotation, files whose recipients drifted) and checks again.

Exit codes: 0 no check failed (warnings do not fail); 1 a check failed; 2 usage (an unknown --check).`

  static override examples = [
    {description: 'Check this machine', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Apply the safe fixes, then check again', command: '<%= config.bin %> <%= command.id %> --fix'},
    {description: 'One check', command: '<%= config.bin %> <%= command.id %> --check identity.mode'},
    {description: 'The whole report as JSON (printed even when checks fail)', command: '<%= config.bin %> <%= command.id %> --json'},
  ]

  static override enableJsonFlag = true
  static override flags = {
    check: Flags.string({summary: 'Run only the check with this id.', helpValue: '<id>'}),
    fix: Flags.boolean({summary: 'Apply the safe fixes, then check again.'}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const {agents} = await this.contributedAgents({quiet: true})
    const context = new DoctorContext({agents})
    const report = await runDoctor(context, {checks: CORE_CHECKS, only: flags.check, fix: flags.fix, plugins: pluginChecks(this.config)})
    return this.finish(report)
  }

  /** Print the report and end the process at once: whatever a stopped check left behind does not hold it open. */
  private async finish(report: DoctorReport): Promise<never> {
    if (this.jsonEnabled()) this.logJson(report)
    else for (const line of describeDoctor(report)) this.log(line)
    return this.exitNow(report.summary.fail > 0 ? ExitCode.error : ExitCode.ok)
  }
}
