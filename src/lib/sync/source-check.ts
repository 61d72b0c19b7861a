// Never push a source chezmoi cannot read: every machine that receives it would stop syncing. Before each push the
// source is looked at as a receiving machine will see it: one entry per target (a `remove_` marker beside the entry
// it names, or two entries made at once on two machines, make chezmoi refuse the whole source), then read by chezmoi.
// Two entries for one target are resolved the same way on every machine, so machines that repair at the same time
// make the same change and converge.
import {lstatSync} from 'node:fs'
import {mkdir, readdir, rmdir} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {Chezmoi} from '../chezmoi/chezmoi.ts'
import {errorMessage, FleetError} from '../errors/index.ts'
import type {GitRepo} from '../git/git.ts'
import {isEncryptedSourceFile} from '../keys/crypto.ts'
import {parseSourceDirName, parseSourceFileName} from '../chezmoi/source-names.ts'
import {managedPathNamed} from '../manifest/lookup.ts'
import {readManifest, writeManifest} from '../manifest/store.ts'
import {shellCommand} from '../errors/shell-command.ts'
import {type ManagedEntry, managedEntries} from '../chezmoi/entry-types.ts'

export interface SourceCheckContext {
  repo: GitRepo
  chezmoi: Chezmoi
  machine: string
  /** The forge's branch as last fetched (origin/<branch>): its side wins where the names alone cannot decide. */
  upstream?: string
}

interface TargetEntries {
  target: string
  /** Source paths (relative to the source repo) that name the target: files, or the directories above files. */
  entries: string[]
}

/** Whether a source path is one chezmoi reads as a target (not .chezmoiignore, .chezmoidata/…, .git…). */
function isTargetEntry(file: string): boolean {
  return !file.split('/').some((component) => component.startsWith('.'))
}

/** Targets named by more than one source entry, with those entries (sorted). */
export function sharedTargets(files: string[]): TargetEntries[] {
  const byTarget = new Map<string, Set<string>>()
  const add = (target: string, entry: string) => byTarget.set(target, (byTarget.get(target) ?? new Set()).add(entry))
  for (const file of files.filter(isTargetEntry)) {
    const components = file.split('/')
    const targets: string[] = []
    for (const [i, component] of components.entries()) {
      const last = i === components.length - 1
      targets.push(last ? parseSourceFileName(component).targetName : parseSourceDirName(component).targetName)
      add(targets.join('/'), components.slice(0, i + 1).join('/') + (last ? '' : '/'))
    }
  }
  return [...byTarget].filter(([, entries]) => entries.size > 1).map(([target, entries]) => ({target, entries: [...entries].sort()}))
}

interface Resolution {
  target: string
  kept?: string
  dropped: string[]
}

const isDir = (entry: string) => entry.endsWith('/')
const isMarker = (entry: string) => !isDir(entry) && parseSourceFileName(basename(entry)).type === 'remove'
const isPlainFile = (entry: string) => !isDir(entry) && parseSourceFileName(basename(entry)).type === 'file'
const isPrivateDir = (entry: string) => /^(external_)?(exact_)?private_/.test(basename(entry))
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Which entry a target keeps, decided from the names alone: what exists wins over a `remove_` marker (as for a
 * .chezmoiremove line, see dropContradictedRemovals); of two files, the encrypted one (the safe choice), else the
 * first by name; of two directories, the private one, else the first by name (the other's files move into it).
 * Undefined when it cannot be decided safely (a file and a directory, scripts, symlinks): a person decides.
 */
function resolve({target, entries}: TargetEntries): Resolution | undefined {
  const markers = entries.filter(isMarker)
  const rest = entries.filter((e) => !isMarker(e))
  if (rest.length === 0) return {target, kept: markers[0], dropped: markers.slice(1)}
  if (rest.length === 1) return {target, kept: rest[0], dropped: markers}
  if (rest.every(isDir)) {
    const [kept, ...others] = [...rest].sort((a, b) => Number(isPrivateDir(b)) - Number(isPrivateDir(a)) || byName(a, b))
    return {target, kept, dropped: [...markers, ...others]}
  }
  if (!rest.every(isPlainFile)) return undefined
  const [kept, ...others] = [...rest].sort((a, b) => Number(isEncryptedSourceFile(b)) - Number(isEncryptedSourceFile(a)) || byName(a, b))
  return {target, kept, dropped: [...markers, ...others]}
}

/** Remove a directory and the directories below it, if no file is left in them. */
async function removeEmptyDirs(dir: string): Promise<void> {
  const entries = await readdir(dir, {withFileTypes: true}).catch(() => [])
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyDirs(join(dir, entry.name))
  await rmdir(dir).catch(() => undefined)
}

/**
 * Make the source hold one entry per target, committing the repair; returns what was done, for the sync's notes.
 * Throws SOURCE_UNREADABLE when a target's entries cannot be told apart safely.
 */
export async function repairSharedTargets(ctx: SourceCheckContext): Promise<string[]> {
  const notes: string[] = []
  // Files moved out of a dropped directory may meet their twins in the kept one: look again, a bounded number of times.
  for (let round = 0; round < 5; round++) {
    const done = await repairOnce(ctx)
    if (done.length === 0) break
    notes.push(...done)
  }
  return notes
}

/**
 * One round of repair, in order: decide each shared target's entry from the names (or the forge) — all of them before
 * anything changes, so an undecidable one leaves the source untouched → mark the managed paths that become encrypted
 * → drop the other entries → commit, manifest included → describe each repair.
 */
async function repairOnce(ctx: SourceCheckContext): Promise<string[]> {
  const files = await ctx.repo.listFiles()
  const shared = sharedTargets(files)
  if (shared.length === 0) return []
  const resolutions = await decideAll(ctx, shared)
  const fleet = await readManifest(ctx.repo.dir)
  let manifestChanged = false
  for (const {target, kept} of resolutions) {
    // A managed path whose kept entry is encrypted is an encrypted path from now on.
    const managed = managedPathNamed(fleet, target)
    if (managed && kept !== undefined && isEncryptedSourceFile(kept) && !managed.encrypt) {
      managed.encrypt = true
      manifestChanged = true
    }
  }
  const before = await ctx.repo.revParse('HEAD')
  for (const resolution of resolutions) await dropEntries(ctx.repo, files, resolution)
  if (manifestChanged) await writeManifest(ctx.repo.dir, fleet)
  await ctx.repo.commitAll(`fleet: ${ctx.machine}: one source entry for each target: ${resolutions.map((r) => r.target).join(', ')}`)
  return resolutions.map((resolution) => repairNote(ctx.repo.dir, before, resolution))
}

/**
 * Which entry each shared target keeps: by the names (see resolve), else the forge's when it has exactly one. Throws
 * SOURCE_UNREADABLE when some target cannot be decided either way.
 */
async function decideAll(ctx: SourceCheckContext, shared: TargetEntries[]): Promise<Resolution[]> {
  // Where the names cannot decide (a file and a directory, scripts, symlinks), the forge's entry is kept when the
  // forge has exactly one: this machine's is dropped (it stays in git history, see the note).
  const forgeFiles = ctx.upstream && shared.some((s) => resolve(s) === undefined) ? await ctx.repo.filesAt(ctx.upstream).catch(() => [] as string[]) : []
  const onForge = (entry: string) => (isDir(entry) ? forgeFiles.some((f) => f.startsWith(entry)) : forgeFiles.includes(entry))
  const forgeSide = ({target, entries}: TargetEntries): Resolution | undefined => {
    const kept = entries.filter(onForge)
    return kept.length === 1 ? {target, kept: kept[0], dropped: entries.filter((e) => e !== kept[0])} : undefined
  }
  const undecided = shared.filter((s) => (resolve(s) ?? forgeSide(s)) === undefined)
  if (undecided.length > 0) throw undecidedError(ctx, undecided)
  return shared.map((s) => (resolve(s) ?? forgeSide(s))!)
}

/** SOURCE_UNREADABLE for targets whose entries cannot be told apart safely, with an entry to remove as the example. */
function undecidedError(ctx: SourceCheckContext, undecided: TargetEntries[]): FleetError {
  // The example drops an entry of another type than the target has here, so that this machine's files stay as they are.
  const here = lstatSync(join(ctx.chezmoi.home, undecided[0].target), {throwIfNoEntry: false})
  const example = undecided[0].entries.find((e) => here !== undefined && isDir(e) !== here.isDirectory()) ?? undecided[0].entries[0]
  return new FleetError(
    `The source repo has more than one entry for ${undecided.map((u) => `~/${u.target} (${u.entries.join(', ')})`).join('; ')}: chezmoi cannot read such a source.`,
    {
      code: 'SOURCE_UNREADABLE',
      fix: `Nothing was pushed. Keep one entry for each target and remove the others, e.g. ${shellCommand('git', '-C', ctx.repo.dir, 'rm', '-r', '--quiet', '--', example.replace(/\/$/, ''))}, then fleet sync.`,
    },
  )
}

/** Removes a target's dropped entries from the source (staged); a dropped directory's files move into a kept one. */
async function dropEntries(repo: GitRepo, files: string[], {kept, dropped}: Resolution): Promise<void> {
  for (const entry of dropped) {
    if (isDir(entry) && kept !== undefined && isDir(kept)) {
      // A directory's files move into the directory kept; one the kept directory has already stays as it is there.
      for (const file of files.filter((f) => f.startsWith(entry))) {
        const destination = kept + file.slice(entry.length)
        if (files.includes(destination)) await repo.git(['rm', '--quiet', '--', file])
        else {
          await mkdir(dirname(join(repo.dir, destination)), {recursive: true})
          await repo.git(['mv', '--', file, destination])
        }
      }
      await removeEmptyDirs(join(repo.dir, entry)) // chezmoi would read an empty one as an entry still
    } else {
      await repo.git(['rm', '-r', '--quiet', '--', entry.replace(/\/$/, '')])
    }
  }
}

/** The sync's note on one repair: what was kept and dropped, and how to see a dropped file's content (`before`: HEAD before it). */
function repairNote(sourceDir: string, before: string | undefined, {target, kept, dropped}: Resolution): string {
  const what = dropped.every(isMarker) && kept !== undefined && !isMarker(kept) ? 'its deletion elsewhere, undone by the file that exists' : dropped.join(', ')
  const encrypted = kept !== undefined && isEncryptedSourceFile(kept) && dropped.some((d) => !isMarker(d)) ? ' (the encrypted one, the safe choice)' : ''
  const droppedFile = dropped.find((d) => !isMarker(d) && !isDir(d))
  const moved = dropped.some(isDir) ? ` (its files moved into ${kept})` : ''
  const recover = droppedFile && before ? `; the other's content: ${shellCommand('git', '-C', sourceDir, 'show', `${before.slice(0, 12)}:${droppedFile}`)}` : ''
  return `~/${target} had more than one source entry: kept ${kept}${encrypted}, dropped ${what}${moved}${recover}`
}

/**
 * The source as a receiving machine will see it: one entry per target (repaired, see repairSharedTargets), then read
 * by chezmoi without error. Throws SOURCE_UNREADABLE, before anything is pushed, when chezmoi cannot read it.
 */
export async function checkSourceForPush(
  ctx: SourceCheckContext,
  unchangedSince?: Map<string, ManagedEntry>,
): Promise<{notes: string[]; entries: Map<string, ManagedEntry>}> {
  const notes = await repairSharedTargets(ctx)
  // `unchangedSince`: the entries chezmoi read from this very source structure (only file contents changed since):
  // it could read it then, so it can now.
  if (unchangedSince && notes.length === 0) return {notes, entries: unchangedSince}
  try {
    // Every managed entry, read as the apply reads them: proof that chezmoi can read the source, and what the apply
    // needs when nothing changes the source after the push.
    return {notes, entries: await managedEntries(ctx.chezmoi)}
  } catch (error) {
    throw new FleetError(`chezmoi cannot read the source repo as it would be pushed: ${errorMessage(error).trim().split('\n').slice(-1)[0]}`, {
      code: 'SOURCE_UNREADABLE',
      fix: `Nothing was pushed. In ${ctx.repo.dir}, correct or remove the entry chezmoi names (${shellCommand('git', '-C', ctx.repo.dir, 'rm', '--')} <entry>), then fleet sync. Conflicts, if any, are shown by \`fleet status\`.`,
    })
  }
}
