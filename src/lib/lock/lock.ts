// The fleet lock: one per machine, shared by every agent and command that touches the source repo.
// mkdir is atomic on every filesystem fleet runs on (no flock: macOS lacks it). The holder records its pid and
// host; a lock whose holder is no longer alive is stale and is taken over, never one whose holder still runs.
import {mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

export interface LockOwner {
  pid: number
  host: string
  startedAt: string
  purpose: string
}

export interface Lock {
  readonly dir: string
  release(): void
}

/** A lock directory without an owner file younger than this may be a holder between mkdir and its write. */
const OWNERLESS_GRACE_MS = 10_000

/** Whether a process with this pid exists on this machine (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function readOwner(lockDir: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(join(lockDir, 'owner.json'), 'utf8')) as LockOwner
  } catch {
    return undefined
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** True when nobody alive holds the lock: its holder's process is gone, or it never recorded one. */
export function isStale(lockDir: string, owner: LockOwner | undefined = readOwner(lockDir)): boolean {
  if (owner === undefined) return ageMs(lockDir) > OWNERLESS_GRACE_MS
  return owner.host === hostname() && !processAlive(owner.pid)
}

function sameOwner(a: LockOwner | undefined, b: LockOwner | undefined): boolean {
  return a?.pid === b?.pid && a?.startedAt === b?.startedAt
}

/**
 * Remove a stale lock. A second directory guards the removal, so that two processes clearing the same stale
 * lock cannot remove a lock that one of them has just taken.
 */
function breakStaleLock(lockDir: string, judged: LockOwner | undefined): void {
  const guard = `${lockDir}.breaking`
  if (ageMs(guard) > OWNERLESS_GRACE_MS) rmSync(guard, {recursive: true, force: true})
  try {
    mkdirSync(guard)
  } catch {
    return // someone else is clearing it
  }
  try {
    // Only the lock that was judged stale is removed, not one taken since.
    const owner = readOwner(lockDir)
    if (!sameOwner(judged, owner) || !isStale(lockDir, owner)) return
    const aside = `${lockDir}.stale-${process.pid}`
    renameSync(lockDir, aside)
    rmSync(aside, {recursive: true, force: true})
  } catch {
    // Already gone.
  } finally {
    rmSync(guard, {recursive: true, force: true})
  }
}

/**
 * Try to take the lock at `lockDir`. Returns the lock, or undefined when a live process holds it.
 * A stale lock (its holder is gone) is cleared and taken.
 */
export function tryLock(lockDir: string, purpose: string): Lock | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(lockDir, {mode: 0o700})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = readOwner(lockDir)
      if (!isStale(lockDir, owner)) return undefined
      breakStaleLock(lockDir, owner)
      continue
    }
    const owner: LockOwner = {pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose}
    writeFileSync(join(lockDir, 'owner.json'), JSON.stringify(owner))
    let released = false
    return {
      dir: lockDir,
      release() {
        if (released) return
        released = true
        rmSync(lockDir, {recursive: true, force: true})
      },
    }
  }
  return undefined
}

/** Wait for the lock, up to `timeoutMs`. Commands a person runs wait; agents use tryLock and leave a mark. */
export async function waitForLock(lockDir: string, purpose: string, timeoutMs: number): Promise<Lock | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const lock = tryLock(lockDir, purpose)
    if (lock || Date.now() >= deadline) return lock
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
