// The core's contribution to fleet:agents: the watcher and the puller, with the fleet's settings.
import {coreAgents} from '../lib/agents/spec.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {agentSettingsSchema} from '../lib/manifest/schema.ts'
import {readManifest} from '../lib/manifest/store.ts'
import type {AgentsHook} from '../lib/plugins/hooks.ts'

const hook: AgentsHook = async function () {
  let settings = agentSettingsSchema.parse({})
  try {
    const local = await openLocalFleet()
    settings = (await readManifest(local.paths.sourceDir)).settings.agents
  } catch {
    // Not enrolled yet (or the manifest cannot be read): the defaults.
  }
  return coreAgents(settings)
}

export default hook
