// Plugins' checks, through the fleet:doctor hook event: each plugin's hook returns CheckResult-shaped findings, shown
// under the plugin's name. A hook that throws, returns something else, or does not finish in time becomes that
// plugin's failed check; the other plugins' checks are shown all the same.
import type {Config} from '@oclif/core'

import {durationFromEnv} from '../platform/env.ts'
import {fanOut} from '../plugins/fan-out.ts'
import {pluginShortName} from '../plugins/fleet-view.ts'
import type {CheckStatus, PluginCheckResult} from '../plugins/hooks.ts'
import {CHECK_TIMEOUT_MS, type CheckResult} from './check.ts'
import type {PluginChecks} from './doctor.ts'

/** How long a plugin's fleet:doctor hook may take, in milliseconds, unless FLEET_DOCTOR_PLUGIN_TIMEOUT_MS says otherwise. */
export const PLUGIN_CHECK_TIMEOUT_MS = CHECK_TIMEOUT_MS

const STATUSES: CheckStatus[] = ['ok', 'warn', 'fail', 'skip']

/** A value a hook returned, as a plugin's check; throws, saying what is wrong, for anything else. */
export function validatePluginCheck(value: unknown): PluginCheckResult {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('a check is {id, status, message, fix?}')
  const v = value as Record<string, unknown>
  const problems: string[] = []
  if (typeof v.id !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(v.id)) problems.push('id must be lower-case words joined by . or -')
  if (!STATUSES.includes(v.status as CheckStatus)) problems.push(`status must be one of ${STATUSES.join(', ')}`)
  if (typeof v.message !== 'string' || v.message.trim() === '') problems.push('message must be a line of text')
  if (v.fix !== undefined && typeof v.fix !== 'string') problems.push('fix must be text')
  if (problems.length > 0) throw new Error(problems.join('; '))
  return {id: v.id as string, status: v.status as CheckStatus, message: v.message as string, fix: v.fix as string | undefined}
}

/** The plugin check timeout from FLEET_DOCTOR_PLUGIN_TIMEOUT_MS (milliseconds), else PLUGIN_CHECK_TIMEOUT_MS. */
export function pluginCheckTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return durationFromEnv(env, {
    name: 'FLEET_DOCTOR_PLUGIN_TIMEOUT_MS',
    unit: 'milliseconds',
    fallback: PLUGIN_CHECK_TIMEOUT_MS,
    purpose: "each plugin's doctor checks may take",
  })
}

/**
 * The plugins' checks for runDoctor: every plugin's fleet:doctor hook, at once, each within the plugin timeout
 * (read from `env` now: a bad FLEET_DOCTOR_PLUGIN_TIMEOUT_MS throws UsageError). Each finding is shown under its
 * plugin's short name; a plugin whose hook failed is one failed check `<short name>.hook` saying how. With `only`, just the
 * check with that id — or, when no plugin reported it, the plugins that failed (the check may have been theirs); and
 * the ids of every check they reported.
 */
export function pluginChecks(config: Config, env: NodeJS.ProcessEnv = process.env): PluginChecks {
  const timeoutMs = pluginCheckTimeoutMs(env)
  return async (signal, only) => {
    const {contributions, failures, durations} = await fanOut(config, 'fleet:doctor', validatePluginCheck, {timeoutMs, signal})
    const found: CheckResult[] = contributions.map(({source, value}) => ({...value, group: pluginShortName(source), durationMs: durations.get(source)}))
    const failed = new Map<string, string[]>()
    for (const {source, error} of failures) failed.set(source, [...(failed.get(source) ?? []), error])
    const failedChecks: CheckResult[] = [...failed].map(([source, errors]) => ({
      id: `${pluginShortName(source)}.hook`,
      group: pluginShortName(source),
      status: 'fail',
      message: `The plugin's checks could not run: ${errors.join('; ')}.`,
      fix: `Update the plugin (\`fleet plugins update\`) or remove it (\`fleet plugins uninstall ${source}\`), and tell its author.`,
      durationMs: durations.get(source),
    }))
    const all = [...found, ...failedChecks]
    const seen = all.map((result) => result.id)
    if (only === undefined) return {results: all, seen}
    const chosen = all.filter((result) => result.id === only)
    return {results: chosen.length > 0 ? chosen : failedChecks, seen}
  }
}
