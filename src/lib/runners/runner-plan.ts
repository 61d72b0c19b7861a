// What `fleet agents run` runs, worked out where the agents are known (oclif's plugins contribute them): each
// agent's whole command line, as the service manager's definition would hold it, and their environment. The runner
// itself (foreground.ts) is handed this and loads none of it.
import {programArguments, type RenderContext} from '../agents/render.ts'
import type {ContributedAgent} from '../agents/spec.ts'
import type {ForegroundAgent, RunnerPlan} from './foreground.ts'

/** The plan for these agents, started the way `ctx` says (this fleet's node and entry, the agents' environment). */
export function runnerPlan(agents: ContributedAgent[], ctx: RenderContext): RunnerPlan {
  return {
    agents: agents.map((agent): ForegroundAgent =>
      agent.resident
        ? {id: agent.id, argv: programArguments(agent, ctx), resident: true}
        : {id: agent.id, argv: programArguments(agent, ctx), resident: false, intervalSeconds: agent.intervalSeconds},
    ),
    env: ctx.env,
  }
}
