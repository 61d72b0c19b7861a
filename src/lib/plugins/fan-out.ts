// The one way fleet asks its plugins for contributions (hook events such as fleet:agents): every plugin's hook runs
// with a timeout; a plugin that fails or times out is reported, never fatal.
import type {Config} from '@oclif/core'

import {errorMessage} from '../errors/index.ts'

export interface FanOutResult<T> {
  contributions: Array<{source: string; value: T}>
  failures: Array<{source: string; error: string}>
}

export const HOOK_TIMEOUT_MS = 10_000

export interface FleetHooks {
  'fleet:agents': {options: Record<string, never>; return: unknown[]}
  'fleet:doctor': {options: Record<string, never>; return: unknown[]}
}

export async function fanOut<T>(config: Config, event: keyof FleetHooks, validate: (value: unknown) => T): Promise<FanOutResult<T>> {
  // oclif runs each plugin's hook and, with captureErrors, collects a failure instead of throwing.
  const result = await (
    config.runHook as (
      e: string,
      o: object,
      t: number,
      c: boolean,
    ) => Promise<{successes: Array<{plugin: {name: string}; result: unknown}>; failures: Array<{plugin: {name: string}; error: unknown}>}>
  )(event, {}, HOOK_TIMEOUT_MS, true)
  const out: FanOutResult<T> = {contributions: [], failures: result.failures.map((f) => ({source: f.plugin.name, error: errorMessage(f.error)}))}
  for (const success of result.successes) {
    const values = Array.isArray(success.result) ? success.result : success.result === undefined ? [] : [success.result]
    for (const value of values) {
      try {
        out.contributions.push({source: success.plugin.name, value: validate(value)})
      } catch (error) {
        out.failures.push({source: success.plugin.name, error: `returned an invalid contribution: ${errorMessage(error)}`})
      }
    }
  }
  return out
}
