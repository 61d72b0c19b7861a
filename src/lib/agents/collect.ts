// This machine's agents: the core's and every plugin's, gathered through the fleet:agents hook event.
import type {Config} from '@oclif/core'

import {fanOut} from '../plugins/fan-out.ts'
import {type ContributedAgent, validateSpec} from './spec.ts'

export interface CollectedAgents {
  agents: ContributedAgent[]
  failures: Array<{source: string; error: string}>
}

export async function collectAgents(config: Config): Promise<CollectedAgents> {
  const {contributions, failures} = await fanOut(config, 'fleet:agents', validateSpec)
  const agents: ContributedAgent[] = []
  for (const {source, value} of contributions) {
    if (agents.some((a) => a.id === value.id || a.label === value.label)) {
      failures.push({
        source,
        error: `agent "${value.id}" (${value.label}) is already contributed by ${agents.find((a) => a.id === value.id || a.label === value.label)!.source}`,
      })
      continue
    }
    agents.push({...value, source})
  }
  return {agents, failures}
}
