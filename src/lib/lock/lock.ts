// The fleet lock: one per machine, shared by every agent and command that touches the source repo.
// mkdir is atomic on every filesystem fleet runs on (no flock: macOS lacks it). The holder records its pid and
// host; a lock whose holder is no longer alive is stale and is taken over, never one whose holder still runs.
import {mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {hostname, uptime} from 'node:os'
import {join} from 'node:path'

export interface LockOwner {
  pid: number
  host: string
  startedAt: string
  purpose: string
  /** This boot of the machine (Linux: its boot id; elsewhere: the boot time, in seconds). */
  boot?: string
  /** When the holder process started (Linux: clock ticks after boot), so that a reused pid is not taken for it. */
  pidStart?: string
}

/** Identifies this boot: a lock from an earlier boot is stale whatever its pid is now. */
export function currentBoot(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return String(Math.round(Date.now() / 1000 - uptime()))
  }
}

function sameBoot(a: string, b: string): boolean {
  // A boot time computed from the uptime wobbles by a second or so; boot ids compare exactly.
  return /^\d+$/.test(a) && /^\d+$/.test(b) ? Math.abs(Number(a) - Number(b)) < 60 : a === b
}

/** When a process started (Linux: field 22 of /proc/<pid>/stat), or undefined where that cannot be read. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** A lock that is held: `dir` is the lock's directory; release() removes it (a second call does nothing). */
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

/**
 * True when nobody alive holds the lock: it was taken in an earlier boot, its holder's process is gone (or its
 * pid now belongs to a process that started later), or it never recorded a holder.
 */
export function isStale(lockDir: string, owner: LockOwner | undefined = readOwner(lockDir)): boolean {
  if (owner === undefined) return ageMs(lockDir) > OWNERLESS_GRACE_MS
  if (owner.boot !== undefined) {
    if (!sameBoot(owner.boot, currentBoot())) return true
  } else if (owner.host !== hostname()) {
    return false // an old-style lock from another host: leave it
  }
  if (!processAlive(owner.pid)) return true
  return owner.pidStart !== undefined && processStart(owner.pid) !== owner.pidStart
}

/** A live holder that has held the lock this long is stuck: every wait in a sync is bounded, and one ends well within it. */
export const STUCK_AFTER_MS = 10 * 60_000

/** How long the holder has held the lock. */
export function heldForMs(owner: LockOwner): number {
  const since = Date.parse(owner.startedAt)
  return Number.isNaN(since) ? 0 : Math.max(0, Date.now() - since)
}

/** True when a live holder has held the lock past STUCK_AFTER_MS: nobody takes it over, so a person must act. */
export function isStuck(lockDir: string, owner: LockOwner | undefined = readOwner(lockDir)): boolean {
  return owner !== undefined && heldForMs(owner) > STUCK_AFTER_MS && !isStale(lockDir, owner)
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
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      purpose,
      boot: currentBoot(),
      pidStart: processStart(process.pid),
    }
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

/**
 * Take the lock `lockDir` (a directory made by mkdir, mode 0700; its parent must exist), retrying every 200 ms for up
 * to `timeoutMs` milliseconds. Resolves with the Lock, or undefined when a live process still holds it then. The
 * holder's pid, host and `purpose` (a few words: "record a duration") are kept in it; a lock whose holder is gone (a
 * crash, a reboot) is taken over. Release it in a `finally`. Commands a person runs wait; agents use tryLock and
 * leave a mark.
 */
export async function waitForLock(lockDir: string, purpose: string, timeoutMs: number): Promise<Lock | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const lock = tryLock(lockDir, purpose)
    if (lock || Date.now() >= deadline) return lock
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
