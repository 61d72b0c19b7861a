import {Flags} from '@oclif/core'

import {detectManager, type InstallReport, installAgents} from '../../lib/agents/install.ts'
import {MANAGER_KINDS} from '../../lib/agents/render.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {FleetError} from '../../lib/errors/index.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'

export default class AgentsInstall extends FleetCommand {
  static override summary = "Install this machine's agents into launchd (macOS) or systemd --user (Linux)."
  static override description = 'Idempotent: only agents whose definition changed are written and reloaded; running it again with nothing changed touches nothing. On a Linux machine without a login session, run `loginctl enable-linger $USER` once so the agents keep running.'
  static override examples = [
    {description: 'Install or update the agents', command: '<%= config.bin %> <%= command.id %>'},
  ]
  static override enableJsonFlag = true
  static override flags = {
    manager: Flags.option({options: MANAGER_KINDS, summary: 'The service manager to use (default: the one this machine has).'})(),
  }

  async run(): Promise<InstallReport> {
    const {flags} = await this.parse(AgentsInstall)
    const manager = flags.manager ?? (await detectManager())
    if (!manager) {
      throw new FleetError('There is no service manager here (no launchd, and no systemd user session).', {
        code: 'NO_SERVICE_MANAGER',
        fix: 'Run the agents in the foreground instead: fleet agents run (for example under your container\'s process manager).',
      })
    }
    const {agents} = await this.contributedAgents()
    const report = await installAgents(fleetPaths(), agents, manager)
    this.log(`${manager}: ${report.changed.length > 0 ? `installed or updated ${report.changed.join(', ')}` : 'every agent was already current'}${report.removed.length > 0 ? `; removed ${report.removed.join(', ')}` : ''} (${report.dir})`)
    if (manager === 'systemd' && report.changed.length > 0) this.log('On a machine without a login session (a server), run once: loginctl enable-linger $USER')
    return report
  }
}
