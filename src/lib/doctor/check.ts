// What a doctor check is and what it reports: the shapes the core's checks, the runner, `--fix` and plugins' checks
// (through the fleet:doctor hook) share.
import type {CheckStatus} from '../plugins/hooks.ts'
import type {DoctorContext} from './context.ts'

export type {CheckStatus}

/**
 * What one check found, as `fleet doctor --json` prints it (a plugin's fleet:doctor hook returns the `id`, `status`,
 * `message` and `fix` of its checks: PluginCheckResult; fleet fills in the rest).
 * - `id`: stable, lower-case words joined by `.` or `-` (`keys.mode`); a plugin's ids start with its short name.
 * - `message`: one line for a person, a sentence (the renderer adds a missing full stop, except after a command in backticks), paths shown
 *   with `~` for the home directory.
 * - `fix`: where not ok, what to do: a command to run, or that `fleet doctor --fix` does it (`fixable`); shown as
 *   written (no full stop added: it often ends in a command a person copies).
 */
export interface CheckResult {
  id: string
  /** The heading it is shown under (`Tools`, `Source repo`, `Keys`, …; a plugin's name for a plugin's checks). */
  group: string
  status: CheckStatus
  message: string
  fix?: string
  /** `fleet doctor --fix` repairs it (see DoctorCheck.repair). */
  fixable?: boolean
  /** How long the check took, in milliseconds (set by the runner). */
  durationMs?: number
}

/** What a check's `run` returns: its result without the fields the runner fills in. */
export type CheckFinding = Omit<CheckResult, 'id' | 'group' | 'durationMs'>

/**
 * One of the core's checks. `run` looks and never changes anything; it must stop its work when `signal` is aborted
 * (pass it to every process it starts: run(…, {signal})). `repair`, when there is one, is the safe fix `--fix`
 * applies to a check that came out `warn` or `fail` with `fixable`: it returns what it changed, in a line, and
 * throws (a FleetError with its fix) when it could not.
 *
 * `--fix` repairs what touches only this machine first (a key's mode, a stale lock, the agents), then what needs the
 * forge (`repairNeedsForge`: a sync, which runs once however many checks ask for it, a re-encryption, a key
 * rotation), so that the sync meets a machine already repaired; when forge.reachable failed, the repairs that need
 * the forge are not tried.
 */
export interface DoctorCheck {
  id: string
  group: string
  /**
   * Milliseconds before the check is stopped and reported failed (default CHECK_TIMEOUT_MS); a getter when the limit
   * depends on the environment (forge.reachable's follows FLEET_FORGE_TIMEOUT).
   */
  readonly timeoutMs?: number
  run(context: DoctorContext, signal: AbortSignal): Promise<CheckFinding>
  repair?(context: DoctorContext, signal: AbortSignal): Promise<string>
  /** `repair` talks to the forge (fetches, pushes): it runs after the repairs of this machine alone, and not when the forge did not answer. */
  repairNeedsForge?: boolean
}

/** How long a check may take unless it says otherwise, in milliseconds. */
export const CHECK_TIMEOUT_MS = 5_000

/** A finding that says the check could not look, and why (it does not apply here; what it needs is missing). */
export const skipped = (why: string): CheckFinding => ({status: 'skip', message: why})
export const ok = (message: string): CheckFinding => ({status: 'ok', message})
export const warn = (message: string, fix?: string, fixable?: boolean): CheckFinding => ({status: 'warn', message, fix, fixable})
export const fail = (message: string, fix?: string, fixable?: boolean): CheckFinding => ({status: 'fail', message, fix, fixable})
