// The one way fleet asks its plugins for contributions (hook events such as fleet:agents and fleet:doctor): each
// plugin's hooks run on their own, within a time limit fleet keeps; a plugin whose hook throws, returns something
// else or does not finish in time is reported as that plugin's failure, never fatal, and never hides what the other
// plugins answered.
import type {Config, Interfaces} from '@oclif/core'

import {errorMessage} from '../errors/index.ts'
import type {FleetEvent, FleetHookOptions} from './hooks.ts'

/** What the plugins answered: each valid value with the plugin it came from, and each plugin that failed, and why. */
export interface FanOutResult<T> {
  contributions: Array<{source: string; value: T}>
  /** `error` reads after the plugin's name: "its fleet:doctor hook threw: …". */
  failures: Array<{source: string; error: string}>
  /** How long each asked plugin took, in milliseconds, by plugin name. */
  durations: Map<string, number>
}

/** How long a plugin's hooks may take unless the caller says otherwise, in milliseconds. */
export const HOOK_TIMEOUT_MS = 10_000

export interface FanOutOptions {
  /** Milliseconds each plugin's hooks may take (default HOOK_TIMEOUT_MS). */
  timeoutMs?: number
  /** Stops every plugin's hooks (their own signals are aborted) when aborted. */
  signal?: AbortSignal
}

/** What one plugin's hooks for an event did: the values they returned, or why they did not. */
type PluginAnswer = {source: string; durationMs: number} & ({values: unknown[]; errors: string[]} | {timedOut: true})

/**
 * Run every plugin's hooks for `event` at once, each plugin within `timeoutMs`, and check each value a hook returned
 * with `validate` (given the plugin's name; it throws, saying what is wrong, for a value that is not a contribution). A hook returns a
 * list of values, one value, or nothing. Never throws: a plugin that fails is in `failures`.
 */
export async function fanOut<T>(
  config: Config,
  event: FleetEvent,
  validate: (value: unknown, source: string) => T,
  options: FanOutOptions = {},
): Promise<FanOutResult<T>> {
  const timeoutMs = options.timeoutMs ?? HOOK_TIMEOUT_MS
  const plugins = [...config.plugins.values()].filter((plugin) => (plugin.hooks[event] ?? []).length > 0)
  const answers = await Promise.all(plugins.map((plugin) => askPlugin(config, plugin, event, timeoutMs, options.signal)))
  const out: FanOutResult<T> = {contributions: [], failures: [], durations: new Map()}
  for (const answer of answers) {
    const {source} = answer
    out.durations.set(source, answer.durationMs)
    if ('timedOut' in answer) {
      out.failures.push({source, error: `its ${event} hook did not finish within ${seconds(timeoutMs)} and was told to stop`})
      continue
    }
    for (const error of answer.errors) out.failures.push({source, error: `its ${event} hook threw: ${error}`})
    for (const value of answer.values) {
      try {
        out.contributions.push({source, value: validate(value, source)})
      } catch (error) {
        out.failures.push({source, error: `its ${event} hook returned ${preview(value)}, which is not valid: ${errorMessage(error)}`})
      }
    }
  }
  return out
}

/**
 * One plugin's hooks for `event`, through oclif's runHook on a view of the config that holds that plugin alone (so
 * oclif loads and calls them the way it does every hook), raced against a timer of fleet's own. oclif's runHook
 * runs every plugin's hooks together and its timeout neither stops a hook nor keeps Node running (its timer is
 * unref'd: a hook that never settles, with nothing else pending, ends Node with exit 13 and no output); this timer
 * is ref'd, and ends the wait for this plugin alone.
 */
async function askPlugin(config: Config, plugin: Interfaces.Plugin, event: string, timeoutMs: number, outer?: AbortSignal): Promise<PluginAnswer> {
  const started = Date.now()
  const controller = new AbortController()
  const stop = () => controller.abort(outer?.reason)
  if (outer?.aborted) stop()
  else outer?.addEventListener('abort', stop, {once: true})
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const onePlugin = Object.create(config, {plugins: {value: new Map([[plugin.name, plugin]])}}) as Config
  const hookOptions: FleetHookOptions = {signal: controller.signal, timeoutMs}
  const source = plugin.name
  try {
    const answer = await Promise.race([
      // captureErrors: a hook's throw (even this.error()) is collected as a failure, not thrown.
      onePlugin.runHook(event as keyof Interfaces.Hooks, hookOptions as never, undefined, true),
      timedOut,
    ])
    const durationMs = Date.now() - started
    if (answer === 'timeout') {
      controller.abort(new DOMException(`${source}'s ${event} hook did not finish within ${timeoutMs} ms`, 'TimeoutError'))
      return {source, durationMs, timedOut: true}
    }
    const values = answer.successes.flatMap(({result}: {result: unknown}): unknown[] =>
      Array.isArray(result) ? (result as unknown[]) : result === undefined ? [] : [result],
    )
    return {source, durationMs, values, errors: answer.failures.map(({error}) => errorMessage(error))}
  } catch (error) {
    return {source, durationMs: Date.now() - started, values: [], errors: [errorMessage(error)]}
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', stop)
    controller.abort() // the answer is taken: whatever the hook left running stops now
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** A short picture of what a hook returned, for the message that says it is not valid. */
function preview(value: unknown): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}
