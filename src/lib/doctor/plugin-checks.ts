// Plugins' checks, through the fleet:doctor hook event: each plugin's hook returns CheckResult-shaped findings.
// A hook that throws, returns something else, or does not settle in time becomes that plugin's failed check.
import type {Config} from '@oclif/core'

import {fanOut} from '../plugins/fan-out.ts'
import {CHECK_TIMEOUT_MS, type CheckResult} from './check.ts'
import type {PluginChecks} from './doctor.ts'

function validateFinding(value: unknown): Omit<CheckResult, 'group'> {
  const v = value as Partial<CheckResult> | undefined
  if (!v || typeof v.id !== 'string' || !['ok', 'warn', 'fail', 'skip'].includes(v.status as string) || typeof v.message !== 'string') {
    throw new Error('a check needs an id, a status (ok, warn, fail, skip) and a message')
  }
  return {id: v.id, status: v.status!, message: v.message, fix: typeof v.fix === 'string' ? v.fix : undefined}
}

/** The plugins' checks for runDoctor: every plugin's fleet:doctor hook, each result under the plugin's name. */
export function pluginChecks(config: Config): PluginChecks {
  return async () => {
    const {contributions, failures} = await fanOut(config, 'fleet:doctor', validateFinding)
    return [
      ...contributions.map(({source, value}) => ({...value, group: source})),
      ...failures.map(({source, error}) => ({id: `${source}.hook`, group: source, status: 'fail' as const, message: `The plugin's checks failed: ${error}`})),
    ]
  }
}

export const PLUGIN_CHECK_TIMEOUT_MS = CHECK_TIMEOUT_MS
