// Commands a person runs wait a while for the fleet lock (an agent's sync may hold it), then give up clearly.
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {readOwner, waitForLock} from './lock.ts'

export const LOCK_WAIT_MS = 60_000

export function lockDirFor(paths: FleetPaths): string {
  return join(paths.stateDir, 'lock')
}

export async function withFleetLock<T>(paths: FleetPaths, purpose: string, fn: () => Promise<T>, waitMs = LOCK_WAIT_MS): Promise<T> {
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  const dir = lockDirFor(paths)
  const lock = await waitForLock(dir, purpose, waitMs)
  if (!lock) {
    const owner = readOwner(dir)
    throw new FleetError(`Another fleet process${owner ? ` (pid ${owner.pid}: ${owner.purpose})` : ''} is working on this machine's source repo.`, {
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
