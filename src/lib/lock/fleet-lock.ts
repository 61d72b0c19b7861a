// Commands a person runs wait a while for the fleet lock (an agent's sync may hold it), then give up clearly.
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {heldForMs, isStuck, type LockOwner, readOwner, STUCK_AFTER_MS, waitForLock} from './lock.ts'

export const LOCK_WAIT_MS = 60_000

export function lockDirFor(paths: FleetPaths): string {
  return join(paths.stateDir, 'lock')
}

/** How long, in a person's words: "40 s", "12 min", "3 h". */
export function duration(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `${seconds} s`
  const minutes = Math.round(seconds / 60)
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`
}

/** The lock's holder, named: its pid, what it is doing, and since when. */
export function describeHolder(owner: LockOwner): string {
  return `pid ${owner.pid}: ${owner.purpose}, since ${owner.startedAt} (${duration(heldForMs(owner))} ago)`
}

/** A live process has held the lock past the bound: it is stuck, and only a person can end it. */
export function stuckLockError(owner: LockOwner): FleetError {
  return new FleetError(
    `Another fleet process (${describeHolder(owner)}) has held this machine's lock longer than a fleet process takes (${duration(STUCK_AFTER_MS)}): it looks stuck, and nothing can sync here until it ends.`,
    {
      code: 'LOCK_STUCK',
      fix: `Stop it: kill ${owner.pid} (then kill -9 ${owner.pid} if it is still running 10 seconds later), and run \`fleet sync\` again: the next sync takes the lock and recovers what the stopped process left half done. Nothing is lost.`,
    },
  )
}

export async function withFleetLock<T>(paths: FleetPaths, purpose: string, fn: () => Promise<T>, waitMs = LOCK_WAIT_MS): Promise<T> {
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  const dir = lockDirFor(paths)
  // A stuck holder will not let go: say so at once rather than wait.
  const stuck = readOwner(dir)
  if (stuck && isStuck(dir, stuck)) throw stuckLockError(stuck)
  const lock = await waitForLock(dir, purpose, waitMs)
  if (!lock) {
    const owner = readOwner(dir)
    if (owner && isStuck(dir, owner)) throw stuckLockError(owner)
    throw new FleetError(`Another fleet process${owner ? ` (${describeHolder(owner)})` : ''} is working on this machine's source repo.`, {
      code: 'LOCKED',
      fix: 'Wait for it to finish and run the command again.',
    })
  }
  try {
    return await fn()
  } finally {
    lock.release()
  }
}
