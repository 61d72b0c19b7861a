// Settings given by environment variables, read the one way: a bad value is a usage error naming the variable.
import {UsageError} from '../errors/index.ts'

/** How a duration setting reads: its variable, its unit, its default (in that unit) and what it sets, for the fix. */
export interface DurationVariable {
  name: string
  unit: 'seconds' | 'milliseconds'
  /** The default, in `unit`. */
  fallback: number
  /** What the value sets, completing "Set it to how many <unit> …" (e.g. "fleet waits for the forge"). */
  purpose: string
  /** An example value, in `unit`, for the fix (the default unless given). */
  example?: number
}

/**
 * The duration `variable` sets in `env`, in milliseconds; its default when unset or empty. Anything but a positive
 * number (a whole one, in milliseconds) is a UsageError (exit 2, code BAD_<NAME>) naming the variable and the fix.
 */
export function durationFromEnv(env: NodeJS.ProcessEnv, variable: DurationVariable): number {
  const {name, unit, fallback, purpose} = variable
  const perUnit = unit === 'seconds' ? 1000 : 1
  const given = env[name]
  if (given === undefined || given === '') return fallback * perUnit
  const value = Number(given)
  if (!Number.isFinite(value) || value <= 0 || (unit === 'milliseconds' && !Number.isInteger(value))) {
    throw new UsageError(
      `${name} must be a number of ${unit}, not "${given}".`,
      `Set it to how many ${unit} ${purpose} (e.g. ${name}=${variable.example ?? fallback}), or unset it for the default of ${fallback}.`,
      `BAD_${name.replace(/^FLEET_/, '')}`,
    )
  }
  return Math.round(value * perUnit)
}
