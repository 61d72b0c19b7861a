// Targets whose type on disk is not the type their source entry gives them (a managed file that became a
// directory, a directory that became a symlink, …). chezmoi has no word for such a change: `re-add` keeps the old
// type, and a source directory whose target is no longer a directory makes `chezmoi status` fail as a whole (it
// cannot stat the children). So the callers find them first, from the source and an lstat of each target.
import {lstatSync} from 'node:fs'
import {basename, join} from 'node:path'

import type {Chezmoi, ChezmoiStatusEntry} from './chezmoi.ts'
import {isInside, isWithin} from '../platform/paths.ts'
import {coverTargets} from './target-cover.ts'

export type EntryType = 'file' | 'dir' | 'symlink'
/** What a target is on disk: `other` is a named pipe, a socket or a device. */
export type DiskType = EntryType | 'other'

export interface ManagedEntry {
  type: EntryType | 'remove'
  /** The source entry, absolute. */
  source: string
}

export interface Retyped {
  /** Target, relative to $HOME. */
  path: string
  /** What the source makes it. */
  from: EntryType
  /** What it is on disk. */
  to: DiskType
  /** The source entry, absolute. */
  source: string
  /** What chezmoi last wrote there, if anything: when it is what is on disk now, the change came from the source. */
  written?: string
}

/** Every managed target at or under the given absolute paths (all when none are given), relative to $HOME, with its type and source entry. */
export async function managedEntries(chezmoi: Chezmoi, absolutePaths?: string[]): Promise<Map<string, ManagedEntry>> {
  const entries = new Map<string, ManagedEntry>()
  for (const [path, source] of await chezmoi.managedSources(absolutePaths)) {
    const name = basename(source)
    if (name.startsWith('run_')) continue // a script: no target
    if (name.startsWith('remove_')) entries.set(path, {type: 'remove', source})
    else if (name.startsWith('symlink_')) entries.set(path, {type: 'symlink', source})
    else entries.set(path, {type: lstatSync(source, {throwIfNoEntry: false})?.isDirectory() ? 'dir' : 'file', source})
  }
  return entries
}

/** What a path is on disk, or undefined when there is nothing (a parent that is not a directory included). */
export function diskType(file: string): DiskType | undefined {
  let info
  try {
    info = lstatSync(file, {throwIfNoEntry: false})
  } catch {
    return undefined // ENOTDIR: a parent is a file now
  }
  if (!info) return undefined
  if (info.isSymbolicLink()) return 'symlink'
  if (info.isDirectory()) return 'dir'
  return info.isFile() ? 'file' : 'other'
}

/**
 * Managed targets whose type on disk differs from their source's, outermost only (what lies below goes with them).
 * `linked`: targets (relative to $HOME) that are links to directories standing for the source's directory (a
 * stow-style managed directory, synced as its contents through the link): not a change of type.
 */
export async function retypedTargets(
  chezmoi: Chezmoi,
  home: string,
  entries: Map<string, ManagedEntry>,
  linked: ReadonlySet<string> = new Set(),
): Promise<Retyped[]> {
  const found: Retyped[] = []
  for (const path of [...entries.keys()].sort()) {
    const entry = entries.get(path)!
    if (entry.type === 'remove' || found.some((f) => isInside(path, f.path))) continue
    const now = diskType(join(home, path))
    if (now === undefined || now === entry.type || (entry.type === 'dir' && linked.has(path))) continue
    found.push({path, from: entry.type, to: now, source: entry.source})
  }
  if (found.length === 0) return found
  const written = await chezmoi.writtenTypes()
  for (const change of found) change.written = written.get(join(home, change.path))
  return found
}

/** Whether the change was made here: what is on disk is not what chezmoi last wrote. */
export function changedHere(change: Retyped): boolean {
  return change.written !== undefined && change.written !== change.to
}

/**
 * The targets to ask `chezmoi status` about, every managed entry except the given paths and what lies below them;
 * undefined when nothing is left out (then status looks at everything).
 */
export function statusTargetsOutside(home: string, entries: Map<string, ManagedEntry>, left: string[]): string[] | undefined {
  if (left.length === 0) return undefined
  // A directory that holds something left out is not asked about (it would be given `alone`); what else is in it is.
  const asked = [...entries.keys()].filter((path) => !left.some((l) => isWithin(path, l)))
  const {recursive, named} = coverTargets(home, entries, asked, left)
  return [...recursive, ...named]
}

export function describeType(type: DiskType): string {
  return {file: 'a file', dir: 'a directory', symlink: 'a symlink', other: 'a named pipe, socket or device'}[type]
}

/**
 * chezmoi's status, for a report: a target it cannot look at (a directory that is something else here, a pipe in
 * place of a file) would make it fail as a whole, so such a target is left out of the question and reported as
 * changed (here, or by the fleet when what is here is what chezmoi last wrote).
 */
export async function reportableStatus(chezmoi: Chezmoi, home: string, linked?: ReadonlySet<string>): Promise<ChezmoiStatusEntry[]> {
  const entries = await managedEntries(chezmoi)
  const blocking = (await retypedTargets(chezmoi, home, entries, linked)).filter((c) => c.from === 'dir' || c.to === 'other')
  const targets = statusTargetsOutside(
    home,
    entries,
    blocking.map((c) => c.path),
  )
  const status = targets === undefined ? await chezmoi.status() : targets.length > 0 ? await chezmoi.status(targets) : []
  return [...status, ...blocking.map((c) => ({sinceLastWrite: changedHere(c) ? 'M' : ' ', onApply: 'M', path: c.path}))]
}
