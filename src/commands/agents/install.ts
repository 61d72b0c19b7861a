import {Flags} from '@oclif/core'

import {type InstallReport} from '../../lib/agents/install.ts'
import {installMachineAgents} from '../../lib/agents/machine-agents.ts'
import {MANAGER_KINDS} from '../../lib/agents/render.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {fleetPaths} from '../../lib/platform/paths.ts'

export default class AgentsInstall extends FleetCommand {
  static override summary = "Install this machine's agents into launchd (macOS) or systemd --user (Linux)."
  static override description =
    'Idempotent: only agents whose definition changed are written and reloaded; running it again with nothing changed touches nothing. On a Linux machine without a login session, run `loginctl enable-linger $USER` once so the agents keep running.'
  static override examples = [{description: 'Install or update the agents', command: '<%= config.bin %> <%= command.id %>'}]
  static override enableJsonFlag = true
  static override flags = {
    manager: Flags.option({options: MANAGER_KINDS, summary: 'The service manager to use (default: the one this machine has).'})(),
  }

  async run(): Promise<InstallReport> {
    const {flags} = await this.parse(AgentsInstall)
    const collect = async () => (await this.contributedAgents()).agents
    const installation = await installMachineAgents(fleetPaths(), collect, {manager: flags.manager, required: true})
    this.log(installation.message)
    return installation.report!
  }
}
