import {Flags} from '@oclif/core'

import {renderContext} from '../../lib/agents/install.ts'
import {chooseAgents} from '../../lib/agents/machine-agents.ts'
import {FleetCommand} from '../../lib/cli/base-command.ts'
import {openLocalFleet} from '../../lib/fleet/local.ts'
import {superviseInForeground} from '../../lib/runners/foreground.ts'
import {runnerPlan} from '../../lib/runners/runner-plan.ts'

// bin/run.js starts `fleet agents run [--agent <id>]…` through lib/runners/runner-main.ts, without oclif: that runner
// asks this command for its plan (--plan) in a process of its own, then runs the agents itself.
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
    plan: Flags.boolean({hidden: true, summary: 'Print what would run (the agents, their command lines and environment) as JSON, and run nothing.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AgentsRun)
    const local = await openLocalFleet() // fails clearly when this machine is not enrolled
    const {agents} = await this.contributedAgents()
    const plan = runnerPlan(chooseAgents(agents, flags.agent), renderContext(local.paths))
    if (flags.plan) {
      this.log(JSON.stringify(plan))
      return
    }
    await superviseInForeground(
      local.paths,
      plan,
      (line) => this.log(line),
      (stop) => this.onStopSignal(stop),
    )
  }
}
