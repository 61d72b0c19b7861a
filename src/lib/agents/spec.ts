// An agent is described once and rendered for launchd, systemd, or run in the foreground.
import type {AgentSettings} from '../manifest/schema.ts'
import type {AgentSpec} from '../plugins/hooks.ts'

export type {AgentSpec}

/** An agent together with where it came from (the core, or a plugin's name). */
export interface ContributedAgent extends AgentSpec {
  source: string
}

export const LABEL_PREFIX = 'dev.dotfleet'

export function coreAgents(settings: AgentSettings): AgentSpec[] {
  return [
    {
      id: 'watcher',
      label: `${LABEL_PREFIX}.watcher`,
      description: 'fleet watcher: syncs seconds after a managed file is saved, or after the forge moved',
      argv: ['agents', 'watch'],
      resident: true,
    },
    {
      id: 'puller',
      label: `${LABEL_PREFIX}.puller`,
      description: `fleet puller: a full sync every ${settings.pullIntervalSeconds} s, the safety net for a missed event`,
      argv: ['sync', '--reason', 'timer'],
      intervalSeconds: settings.pullIntervalSeconds,
    },
  ]
}

/** A spec a plugin returned: checked, so a bad one is reported rather than installed. */
export function validateSpec(value: unknown): AgentSpec {
  const spec = value as AgentSpec
  const problems: string[] = []
  if (!spec || typeof spec !== 'object') throw new Error('not an object')
  if (typeof spec.id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(spec.id)) problems.push('id must be lowercase letters, digits and dashes')
  if (typeof spec.label !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(spec.label)) problems.push('label must be letters, digits, dots and dashes')
  if (!Array.isArray(spec.argv) || spec.argv.some((a) => typeof a !== 'string')) problems.push('argv must be a list of strings')
  if (Boolean(spec.resident) === (spec.intervalSeconds !== undefined)) problems.push('exactly one of resident or intervalSeconds')
  if (spec.intervalSeconds !== undefined && !(Number.isInteger(spec.intervalSeconds) && spec.intervalSeconds >= 10))
    problems.push('intervalSeconds must be a whole number ≥ 10')
  if (problems.length > 0) throw new Error(problems.join('; '))
  return spec
}
