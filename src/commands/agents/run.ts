import {Flags} from '@oclif/core'

import {renderContext} from '../../lib/agents/install.ts'
import {chooseAgents} from '../../lib/agents/machine-agents.ts'
import {claimRunner} from '../../lib/agents/runner-record.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {runAgentsInForeground} from '../../lib/runners/foreground.ts'

export default class AgentsRun extends FleetCommand {
  static override summary = "Run this machine's agents in the foreground (containers, machines without a service manager)."
  static override description =
    'Resident agents are restarted when they exit; interval agents run at start and then on their interval. Ctrl-C or SIGTERM stops them cleanly: a sync in progress finishes first.'
  static override examples = [
    {description: 'Run every agent', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Run only the watcher', command: '<%= config.bin %> <%= command.id %> --agent watcher'},
  ]
  static override flags = {
    agent: Flags.string({multiple: true, summary: 'Run only this agent (repeatable).', helpValue: '<id>'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentsRun)
    const local = await openLocalFleet() // fails clearly when this machine is not enrolled
    const {agents} = await this.contributedAgents()
    const chosen = chooseAgents(agents, flags.agent)
    const log = (line: string) => this.log(line)
    const claim = await claimRunner(local.paths, log) // one runner per machine; what a dead one left is stopped
    const handle = runAgentsInForeground(chosen, renderContext(local.paths), log, (running) => claim.agents(running))
    this.onStopSignal(() => {
      this.log('stopping the agents (a sync in progress finishes first)…')
      void handle.stop()
    })
    await handle.stopped
    await claim.release()
  }
}
