// The plugin's background agent: pull-fleet every 5 minutes, so that `estimate --fleet` has the peers' records.
// Light on purpose: fleet asks for agents on many commands, and this module loads nothing but fleet's types.
import type {AgentsHook} from '@dotfleet/fleet'

/** How often the agent gathers the peers' records. */
export const PULL_EVERY_SECONDS = 300

const hook: AgentsHook = async function () {
  return [
    {
      id: 'task-durations-pull-fleet',
      label: 'dev.dotfleet.task-durations-pull-fleet',
      description: "Gathers every peer's task durations into this machine's fleet tree (fleet task-durations pull-fleet).",
      argv: ['task-durations', 'pull-fleet'],
      intervalSeconds: PULL_EVERY_SECONDS,
    },
  ]
}

export default hook
