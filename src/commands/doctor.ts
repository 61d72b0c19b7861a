import {Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {renderTable} from '../lib/cli/table.ts'
import {CORE_CHECKS} from '../lib/doctor/checks/index.ts'
import {DoctorContext} from '../lib/doctor/context.ts'
import {describeDoctor} from '../lib/doctor/describe.ts'
import {type DoctorReport, runDoctor} from '../lib/doctor/doctor.ts'
import {pluginChecks} from '../lib/doctor/plugin-checks.ts'
import {ExitCode} from '../lib/errors/index.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {recordDoctorSummary} from '../lib/heartbeat/doctor-summary.ts'
import {installedPlugins} from '../lib/plugins/install.ts'
import {plural} from '../lib/platform/text.ts'
import {describeFleetView, fleetFindings, type FleetView, fleetView, fleetViewExitCode} from '../lib/status/fleet-view.ts'

export default class Doctor extends FleetCommand {
  static override summary = 'Check this machine: tools, source repo, forge, manifest, keys, managed paths, agents, the last sync.'
  static override description = `Every check runs at once, each within its own time limit, and says ok, warn, fail or skip, with the fix for what is not ok. --fix applies the safe fixes (a key's mode, the agents, a stale lock, an interrupted rotation, files whose recipients drifted) and checks again. Each run's summary (counts and failing ids) goes into this machine's next heartbeat.

--fleet looks at every machine instead, from the heartbeats at the forge (see \`fleet status --fleet\`), with each machine's last doctor run.

Exit codes: 0 no check failed (warnings do not fail); 1 a check failed, or with --fleet a machine is stale, its last sync failed, it has conflicts or its last doctor run had failing checks (an unreadable heartbeat is a warning); 2 usage (an unknown --check); 3 with --fleet, the forge did not answer (the heartbeats last fetched are shown, marked so, and not judged further).`

  static override examples = [
    {description: 'Check this machine', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Apply the safe fixes, then check again', command: '<%= config.bin %> <%= command.id %> --fix'},
    {description: 'One check', command: '<%= config.bin %> <%= command.id %> --check keys.mode'},
    {description: 'The whole report as JSON (printed even when checks fail)', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Every machine of the fleet: stale, failing syncs, failing checks', command: '<%= config.bin %> <%= command.id %> --fleet'},
  ]

  static override enableJsonFlag = true
  static override flags = {
    check: Flags.string({summary: 'Run only the check with this id.', helpValue: '<id>', exclusive: ['fleet']}),
    fix: Flags.boolean({summary: 'Apply the safe fixes, then check again.', exclusive: ['fleet']}),
    fleet: Flags.boolean({summary: 'Look at every machine of the fleet, from the heartbeats at the forge, with each one’s last doctor run.'}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    if (flags.fleet) return this.finishFleet(await fleetView(await openLocalFleet()))
    const {agents} = await this.contributedAgents({quiet: true})
    const context = new DoctorContext({agents, installedPlugins: installedPlugins(this.config)})
    const report = await runDoctor(context, {checks: CORE_CHECKS, only: flags.check, fix: flags.fix, plugins: pluginChecks(this.config)})
    // One check is not a doctor run: only a whole run's summary goes to the heartbeat. A machine not enrolled has none.
    if (!flags.check && report.machine) await recordDoctorSummary(context.paths, report).catch(() => undefined)
    return this.finish(report)
  }

  /** Print the report and end the process at once: whatever a stopped check left behind does not hold it open. */
  private async finish(report: DoctorReport): Promise<never> {
    if (this.jsonEnabled()) this.logJson(report)
    else for (const line of describeDoctor(report)) this.log(line)
    return this.exitNow(report.summary.fail > 0 ? ExitCode.error : ExitCode.ok)
  }

  /**
   * The fleet-wide view with each machine's doctor run, its problems and warnings, and the exit code: 3 when the forge
   * did not answer (what was last fetched is shown, marked so), else 1 for a problem, else 0.
   */
  private async finishFleet(view: FleetView): Promise<never> {
    const {problems, warnings} = fleetFindings(view)
    if (this.jsonEnabled()) this.logJson({...view, problems, warnings})
    else {
      const {header, rows, notes} = describeFleetView(view, {withDoctor: true})
      for (const line of [...renderTable(header, rows), ...notes, '']) this.log(line)
      for (const problem of problems) this.log(`✗ ${problem}`)
      for (const warning of warnings) this.log(`! ${warning}`)
      const asOf = view.fetched ? '' : ' (as of the heartbeats last fetched)'
      if (problems.length > 0) this.log(`Something is wrong on ${plural(problems.length, 'machine')}${asOf}.`)
      else if (warnings.length > 0) this.log(`No machine is failing, with ${plural(warnings.length, 'warning')}${asOf}.`)
      else this.log(`Every machine looks healthy${asOf}.`)
    }
    if (!view.fetched) return this.exitNow(fleetViewExitCode(view))
    return this.exitNow(problems.length > 0 ? ExitCode.error : ExitCode.ok)
  }
}
