// An agent is described once and rendered for launchd, systemd, or run in the foreground.
import type {AgentSettings} from '../manifest/schema.ts'
import {pluginShortName} from '../plugins/fleet-view.ts'
import type {AgentSpec} from '../plugins/hooks.ts'

export type {AgentSpec}

/** An agent together with where it came from (the core, or a plugin's name). */
export type ContributedAgent = AgentSpec & {source: string}

/** The name the core's agents carry as their source (the package's own name). */
export const CORE_SOURCE = '@dotfleet/fleet'

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

/**
 * A spec a hook returned, from `source` (the plugin's package name): checked, so a bad one is reported rather than
 * installed. A plugin's agent keeps to its own names: its id starts with the plugin's short name (two plugins' agents
 * never collide), and its label is `dev.dotfleet.<id>` (its launchd or systemd files never take the name of another
 * program's, nor of another agent's). The core's watcher and puller are the core's own names.
 */
export function validateSpec(value: unknown, source: string): AgentSpec {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('an agent is {id, label, description, argv, resident or intervalSeconds}')
  const spec = value as Partial<Record<keyof AgentSpec, unknown>>
  const problems: string[] = []
  const id = typeof spec.id === 'string' && /^[a-z0-9][a-z0-9-]*$/.test(spec.id) ? spec.id : undefined
  if (id === undefined) problems.push('id must be lowercase letters, digits and dashes')
  if (typeof spec.label !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(spec.label)) problems.push('label must be letters, digits, dots and dashes')
  if (source !== CORE_SOURCE && id !== undefined) {
    const short = pluginShortName(source)
    if (id !== short && !id.startsWith(`${short}-`)) problems.push(`id must start with the plugin's short name: "${short}-…"`)
    else if (spec.label !== `${LABEL_PREFIX}.${id}`) problems.push(`label must be "${LABEL_PREFIX}.${id}"`)
  }
  if (typeof spec.description !== 'string') problems.push('description must be a line of text')
  if (!Array.isArray(spec.argv) || spec.argv.some((a) => typeof a !== 'string')) problems.push('argv must be a list of strings')
  if ((spec.resident === true) === (spec.intervalSeconds !== undefined)) problems.push('exactly one of resident: true or intervalSeconds')
  if (spec.resident !== undefined && typeof spec.resident !== 'boolean') problems.push('resident must be true or left out')
  if (spec.intervalSeconds !== undefined && !(Number.isInteger(spec.intervalSeconds) && (spec.intervalSeconds as number) >= 10))
    problems.push('intervalSeconds must be a whole number ≥ 10')
  if (problems.length > 0) throw new Error(problems.join('; '))
  return value as AgentSpec
}
