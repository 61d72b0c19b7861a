// The puller's first step, taken by bin/run.js before the CLI loads (loading it is most of what a puller run costs):
// when a sync ended well since the puller's last turn, there is nothing for this turn to do. The watcher syncs at
// least once per puller period (its sweep, see ForgePoller), so while it lives the puller only looks; once it is
// gone, the puller's next turn but one syncs. Reads two small files; never stops a turn it is unsure of.
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {fleetPaths} from '../platform/paths.ts'
import {type SyncState, statePaths} from '../sync/state.ts'

/** The puller's arguments (see coreAgents): the only run the gate ever looks at. */
export const PULLER_ARGUMENTS = ['sync', '--reason', 'timer']
/** The reason the puller's syncs are recorded with (`timer`, or `timer (again)` for a second round). */
const PULLER_REASON = PULLER_ARGUMENTS[2]

/** One turn of the puller, recorded in fleet's state directory (`puller.json`). */
export interface PullerTurn {
  at: string
  /** A sync had ended well since the turn before: this one did nothing. */
  skipped: boolean
}

/** What the gate decided for this turn, and why. */
export interface PullerDecision {
  skip: boolean
  /** The sync that made the turn unneeded. */
  since?: {at: string; reason: string}
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

/**
 * Whether this puller turn has nothing to do: the turn before it was recorded, and since then a sync other than the
 * puller's own ended well (ok or quick, none running or due again, no conflict waiting). Records this turn either
 * way. Any doubt (no record, a file that cannot be read) means the turn syncs.
 */
export function pullerTurn(env: NodeJS.ProcessEnv = process.env, now = new Date()): PullerDecision {
  const paths = fleetPaths(env)
  const files = statePaths(paths)
  const turnFile = join(paths.stateDir, 'puller.json')
  const previous = readJson<PullerTurn>(turnFile)
  const state = readJson<SyncState>(files.state)
  const last = state?.lastSync
  const settled =
    last !== undefined &&
    (last.outcome === 'ok' || last.outcome === 'quick') &&
    // The puller's own sync (started after its record was written) says nothing about whether anything else syncs.
    last.reason !== PULLER_REASON &&
    !last.reason.startsWith(`${PULLER_REASON} `) &&
    state?.running === undefined &&
    (state?.conflicts ?? []).length === 0 &&
    !existsSync(files.again)
  const skip = settled && previous !== undefined && Date.parse(last.at) >= Date.parse(previous.at)
  try {
    // A machine that never synced has no state directory: nothing to record, and the turn runs (and says why).
    writeFileSync(turnFile, JSON.stringify({at: now.toISOString(), skipped: skip} satisfies PullerTurn) + '\n', {mode: 0o600})
  } catch {
    return {skip: false} // without a record the next turn could not tell: this one syncs
  }
  return skip ? {skip, since: {at: last.at, reason: last.reason}} : {skip}
}

/** The line a skipped turn prints. */
export function describeSkippedTurn(decision: PullerDecision, now = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(decision.since!.at)) / 1000))
  const ago = seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`
  return `Nothing to do: a sync (${decision.since!.reason}) ran ${ago} ago, since the puller's last turn.`
}

/**
 * bin/run.js's hook: for the puller's own arguments, decide before the CLI loads; true when the turn is over (its
 * line printed). Anything unexpected lets the turn run.
 */
export function pullerTurnSkipped(argv: string[]): boolean {
  if (argv.join('\0') !== PULLER_ARGUMENTS.join('\0')) return false
  try {
    const decision = pullerTurn()
    if (decision.skip) process.stdout.write(`${describeSkippedTurn(decision)}\n`)
    return decision.skip
  } catch {
    return false
  }
}
