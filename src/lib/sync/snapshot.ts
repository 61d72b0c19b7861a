// What the managed paths look like on disk (size, mtime, mode of every file), compared with the last sync's to
// tell, without running chezmoi, that nothing changed here.
import {lstatSync, readdirSync, type Stats, statSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {isLinkToDirectory} from '../chezmoi/linked.ts'

/** Target path (relative to $HOME) → its entry signature (see entrySignature), or 'absent'. */
export type Snapshot = Record<string, string>

/** What a snapshot records of one entry: `dir:<mode>` for a directory, else `<size>:<mtime ms>:<mode>`. */
export function entrySignature(info: Stats): string {
  return info.isDirectory() ? `dir:${info.mode}` : `${info.size}:${info.mtimeMs}:${info.mode}`
}

export function takeSnapshot(home: string, managedPaths: string[]): Snapshot {
  const snapshot: Snapshot = {}
  const visit = (relative: string) => {
    let info
    try {
      info = lstatSync(join(home, relative))
      // A managed path that links to a directory is synced as the directory: looked at through the link.
      if (info.isSymbolicLink() && managedPaths.includes(relative) && isLinkToDirectory(join(home, relative))) info = statSync(join(home, relative))
    } catch {
      snapshot[relative] = 'absent'
      return
    }
    snapshot[relative] = entrySignature(info)
    if (info.isDirectory()) {
      for (const entry of readdirSync(join(home, relative))) visit(`${relative}/${entry}`)
    }
  }
  for (const path of managedPaths) visit(path)
  return snapshot
}

export function sameSnapshot(a: Snapshot | undefined, b: Snapshot): boolean {
  if (a === undefined) return false
  const keys = Object.keys(b)
  return keys.length === Object.keys(a).length && keys.every((key) => a[key] === b[key])
}

/**
 * Bring a snapshot up to date for the given paths only (each entry itself, not what lies below it): used after
 * an apply, for the targets the apply wrote, so that edits a person made meanwhile elsewhere still show.
 */
export function refreshEntries(snapshot: Snapshot, home: string, paths: string[], managedPaths: string[]): void {
  for (const relative of paths) {
    let info
    try {
      info = lstatSync(join(home, relative))
    } catch {
      if (managedPaths.includes(relative)) snapshot[relative] = 'absent'
      else delete snapshot[relative]
      continue
    }
    snapshot[relative] = entrySignature(info)
  }
}

/** What differs between two snapshots of the same managed paths (see snapshotChanges). */
export interface SnapshotChanges {
  /** Every path that appeared, vanished or whose entry changed, relative to $HOME. */
  changed: Set<string>
  /** The paths that appeared, outermost only (a new directory stands for what is in it). */
  appeared: string[]
}

/** The paths that changed from `before` to `now`: what a sync has to look at when `before` was in step with the source. */
export function snapshotChanges(before: Snapshot, now: Snapshot): SnapshotChanges {
  const changed = new Set<string>()
  const appeared = new Set<string>()
  for (const [path, signature] of Object.entries(now)) {
    if (before[path] === signature) continue
    changed.add(path)
    if ((before[path] ?? 'absent') === 'absent' && signature !== 'absent') appeared.add(path)
  }
  for (const path of Object.keys(before)) if (!(path in now)) changed.add(path)
  const outermost = [...appeared].filter((path) => !appeared.has(dirname(path)))
  return {changed, appeared: outermost}
}
