// Applying the source state without losing anything on disk:
// - a target edited here since chezmoi last wrote it is never overwritten (it is left for the next sync to
//   capture, and chezmoi's --error-on-conflict guards the race);
// - a file chezmoi has never written (it existed before the fleet managed it), a directory about to be removed or
//   replaced by a file, and a symlink, are copied to a backup first (files of encrypted paths encrypted to this
//   machine).
import {existsSync, lstatSync} from 'node:fs'
import {lstat, readFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import {backUp, newBackupDir} from '../backups/backups.ts'
import {sha256} from './moved-source.ts'
import {ProcessError} from '../process/run.ts'
import {type Chezmoi, type ChezmoiStatusEntry, parseTargetFailures, type TargetFailure} from '../chezmoi/chezmoi.ts'
import {changedHere, describeType, type ManagedEntry, managedEntries, type Retyped, retypedTargets, statusTargetsOutside} from '../chezmoi/entry-types.ts'
import {isInside, isWithin} from '../platform/paths.ts'
import {coverTargets, statusOfCover} from '../chezmoi/target-cover.ts'
import {entrySignature, type Snapshot} from './snapshot.ts'

export interface ApplyResult {
  /** Targets brought up to the source state, relative to $HOME (checked: chezmoi did write them). */
  applied: string[]
  /** Targets the apply was meant to write and did not (chezmoi refused or failed): they wait for the next sync. */
  waiting: string[]
  /** Targets edited here and not captured yet: left as they are. */
  leftAlone: string[]
  /** Targets copied aside before they were replaced, relative to $HOME. */
  backedUp: string[]
  backupDir?: string
  /** chezmoi's complaint when some targets were not applied. */
  incomplete?: string
  /** Targets chezmoi could not read or write (not edits made here meanwhile), with its reason: never applied. */
  failed: TargetFailure[]
  /** Every managed entry, as the apply read them (absent when nothing was looked at). */
  entries?: Map<string, ManagedEntry>
}

export interface ApplyOptions {
  home: string
  backupsDir: string
  /** Whether a target is one of the fleet's encrypted paths (its backup is encrypted too). */
  isEncrypted: (path: string) => boolean
  /** This machine's recipient, for encrypted backups (asked for only when one is made). */
  recipient: () => Promise<string>
  /** Targets (relative) to leave alone whatever their state: unresolved conflicts. */
  exclude?: (path: string) => boolean
  /** Links to directories that stand for the source's directory (stow-style managed paths): written through, kept. */
  linked?: ReadonlySet<string>
  /** Every managed entry (managedEntries), when the caller has just read them from this same source. */
  entries?: Map<string, ManagedEntry>
  /**
   * What can differ from the source state when the last apply left everything in step: the targets changed here
   * since (snapshotChanges) and the source files changed since (relative to `sourceDir`). Only those are looked at.
   * `snapshot` is that sync's snapshot of the managed paths.
   * Undefined: everything is.
   */
  scope?: {changedHere: ReadonlySet<string>; changedSources: string[]; sourceDir: string; snapshot: Snapshot}
}

/**
 * Bring the targets to the source state without losing anything (see the header): returns what was applied, what
 * waits for the next sync, what was left alone, and what was copied to the backup folder first.
 */
export async function applyWithBackup(chezmoi: Chezmoi, options: ApplyOptions): Promise<ApplyResult> {
  const entries = options.entries ?? (await managedEntries(chezmoi))
  const retyped = await retypedTargets(chezmoi, options.home, entries, options.linked)
  // One apply, one backup folder (created only when something is copied into it), whichever phase backs up.
  const backupDir = newBackupDir(options.backupsDir)
  const replaced = await applyNewDirectories(chezmoi, options, entries, retyped, backupDir)
  // What chezmoi's status cannot look at (a directory that is a file here, a pipe): left as it is, and out of it.
  const leftOut = retyped.filter((c) => !replaced.paths.includes(c.path) && (c.from === 'dir' || c.to === 'other')).map((c) => c.path)
  // A modify_ entry makes its target from what is on disk when it is applied: an edit here is kept by the entry itself.
  const madeFromDisk = new Set([...entries].filter(([, entry]) => basename(entry.source).startsWith('modify_')).map(([path]) => path))
  const scope = leftOut.length === 0 ? targetsInScope(entries, options.scope) : undefined
  const result = {...(await applyPending(chezmoi, options, entries, leftOut, backupDir, madeFromDisk, scope)), entries}
  if (replaced.applied.length === 0) return result
  return {
    ...result,
    applied: [...replaced.applied, ...result.applied],
    backedUp: [...replaced.backedUp, ...result.backedUp],
    backupDir: result.backupDir ?? replaced.backupDir,
  }
}

/**
 * A directory in the source whose target is a file or a symlink here (another machine turned a file into a
 * directory): chezmoi's status cannot look below it, so it is applied first, on its own — what is here backed up
 * first unless it is exactly what chezmoi last wrote.
 */
async function applyNewDirectories(
  chezmoi: Chezmoi,
  options: ApplyOptions,
  entries: Map<string, ManagedEntry>,
  found: Retyped[],
  backupDir: string,
): Promise<{paths: string[]; applied: string[]; backedUp: string[]; backupDir?: string}> {
  const retyped = found.filter((c) => c.from === 'dir' && c.to !== 'other' && !changedHere(c) && !(options.exclude?.(c.path) ?? false))
  if (retyped.length === 0) return {paths: [], applied: [], backedUp: []}
  const written = await chezmoi.writtenTargets()
  const backedUp: string[] = []
  for (const change of retyped) {
    const target = join(options.home, change.path)
    const sha = written.get(target)
    const asWritten = change.written === change.to && (change.to !== 'file' || (sha !== undefined && sha256(await readFile(target)) === sha))
    if (!asWritten) {
      await backUp(target, join(backupDir, change.path), options.isEncrypted(change.path), options.recipient)
      backedUp.push(change.path)
    }
    try {
      await chezmoi.apply({force: true, targets: [target]})
    } catch (error) {
      if (!(error instanceof ProcessError)) throw error
      throw new FleetError(
        `~/${change.path} is ${describeType(change.to)} here, and the fleet made it a directory; chezmoi could not replace it: ${error.result.stderr.trim().split('\n').slice(-1)[0]}`,
        {
          code: 'APPLY_FAILED',
          fix: `${backedUp.includes(change.path) ? `What was there is backed up in ${backupDir}. ` : ''}Run \`chezmoi apply --force ~/${change.path}\`, then \`fleet sync\`.`,
        },
      )
    }
  }
  const paths = retyped.map((c) => c.path)
  const applied = [...entries.keys()].filter((path) => paths.some((p) => isWithin(path, p)))
  return {paths, applied, backedUp, backupDir: backedUp.length > 0 ? backupDir : undefined}
}

/**
 * Apply what the status (of everything, or of the given absolute targets) says is pending, in order: ask the status
 * → leave alone what was edited here → back up what the apply would lose → one apply of the rest → when chezmoi
 * complains, ask the status again: only what it really wrote counts as applied.
 */
async function applyPending(
  chezmoi: Chezmoi,
  options: ApplyOptions,
  entries: Map<string, ManagedEntry>,
  leftOut: string[],
  backupDir: string,
  madeFromDisk: ReadonlySet<string>,
  scope: ReadonlySet<string> | undefined,
): Promise<ApplyResult> {
  const status = scope ? await statusInScope(chezmoi, options.home, entries, scope) : await statusOutside(chezmoi, options.home, entries, leftOut)
  const failed = status.failed.filter((f) => !(options.exclude?.(f.path) ?? false))
  const pending = status.entries.filter((e) => e.onApply !== ' ' && !(options.exclude?.(e.path) ?? false))
  const leftAlone = pending.filter((e) => e.sinceLastWrite !== ' ' && !madeFromDisk.has(e.path)).map((e) => e.path)
  const toApply = pending.filter((e) => e.sinceLastWrite === ' ' || madeFromDisk.has(e.path))
  if (toApply.length === 0) return {applied: [], waiting: [], leftAlone, backedUp: [], failed}
  const backedUp = await backUpWhatWouldBeLost(chezmoi, options, toApply, backupDir)
  const result: ApplyResult = {
    applied: toApply.map((e) => e.path),
    waiting: [],
    leftAlone,
    backedUp,
    backupDir: backedUp.length > 0 ? backupDir : undefined,
    failed,
  }
  // chezmoi asks before it writes over (or removes) a target edited since it last wrote it; a modify_ entry's new
  // contents come from that edit, so nothing is lost when it is told to go ahead.
  const editedHere = toApply.filter((e) => e.sinceLastWrite !== ' ').map((e) => e.path)
  // The rest through the fewest targets (whole directories), none of which may reach what is left as it is.
  const keep = [
    ...leftAlone,
    ...leftOut,
    ...editedHere,
    ...failed.map((f) => f.path),
    ...[...entries.keys()].filter((path) => options.exclude?.(path) ?? false),
  ]
  const editedSet = new Set(editedHere)
  const rest = coverTargets(
    options.home,
    entries,
    toApply.filter((e) => !editedSet.has(e.path)).map((e) => e.path),
    keep,
  )
  try {
    if (editedHere.length > 0) await chezmoi.apply({force: true, recursive: false, targets: editedHere.map((path) => join(options.home, path))})
    if (rest.recursive.length > 0) await chezmoi.apply({targets: rest.recursive})
    if (rest.named.length + rest.alone.length > 0) await chezmoi.apply({targets: [...rest.named, ...rest.alone], recursive: false})
  } catch (error) {
    if (!(error instanceof ProcessError)) throw error
    await keepOnlyWritten(chezmoi, options, entries, result, error)
  }
  return result
}

async function statusOutside(chezmoi: Chezmoi, home: string, entries: Map<string, ManagedEntry>, leftOut: string[]) {
  const targets = statusTargetsOutside(home, entries, leftOut)
  return targets === undefined || targets.length > 0 ? chezmoi.statusWithFailures(targets) : {entries: [], failed: []}
}

async function statusInScope(chezmoi: Chezmoi, home: string, entries: Map<string, ManagedEntry>, scope: ReadonlySet<string>) {
  const asked = [...scope].filter((path) => entries.has(path))
  if (asked.length === 0) return {entries: [], failed: []}
  const answer = await statusOfCover(chezmoi, entries, home, coverTargets(home, entries, asked))
  return {entries: answer.entries.filter((e) => scope.has(e.path)), failed: answer.failed.filter((f) => scope.has(f.path))}
}

/**
 * The targets an apply has to look at (see ApplyOptions.scope), with the managed directories that hold them (a new
 * file may come with its directory); undefined when a changed source file can touch any target — chezmoi's own
 * files (ignore rules, removals, data for templates), or a source file that is no target's entry (a script).
 */
function targetsInScope(entries: Map<string, ManagedEntry>, scope: ApplyOptions['scope']): Set<string> | undefined {
  if (!scope) return undefined
  const targetOf = new Map([...entries].map(([path, entry]) => [entry.source, path]))
  const targets = new Set(scope.changedHere)
  for (const file of scope.changedSources) {
    const parts = file.split('/')
    if (parts.some((part) => part.startsWith('.chezmoi'))) return undefined
    // chezmoi reads no other name that starts with a dot (.git, the fleet's own records).
    if (parts.some((part) => part.startsWith('.'))) continue
    const target = targetOf.get(join(scope.sourceDir, file))
    if (target === undefined) {
      if (existsSync(join(scope.sourceDir, file))) return undefined
      continue // a source entry gone (renamed with new attributes, or a remove_ in its place): its target's new entry is here
    }
    for (let path = target; path !== '.' && path !== ''; path = dirname(path)) if (entries.has(path)) targets.add(path)
  }
  return targets
}

/**
 * What would be lost, copied to the backup folder: anything chezmoi never wrote (it was there before the fleet managed
 * it), and every directory about to be removed (it may hold files this machine never synced). Returns the targets
 * backed up.
 */
async function backUpWhatWouldBeLost(chezmoi: Chezmoi, options: ApplyOptions, toApply: ChezmoiStatusEntry[], backupDir: string): Promise<string[]> {
  const existing: Array<{path: string; isDirectory: boolean; removal: boolean; inStep: boolean}> = []
  // After a sync that left everything in step, a target exactly as it was then (size, time, mode) holds what chezmoi
  // wrote (applied, or captured into the source): only the others are looked up in chezmoi's state.
  const then = options.scope?.snapshot
  for (const entry of toApply) {
    const info = await lstat(join(options.home, entry.path)).catch(() => undefined)
    if (!info) continue
    const inStep = then !== undefined && then[entry.path] === entrySignature(info)
    existing.push({path: entry.path, isDirectory: info.isDirectory(), removal: entry.onApply === 'D', inStep})
  }
  const written = existing.some((e) => !e.inStep) ? await chezmoi.writtenTargets() : new Map<string, string | undefined>()
  const inStep = new Set(existing.filter((e) => e.inStep).map((e) => e.path))
  const wasWritten = (path: string) => inStep.has(path) || written.has(join(options.home, path))
  // A directory about to change: lost only if the source makes it something else (a file, a symlink), and then
  // even when chezmoi wrote it (it may hold files that never synced).
  const changedDirs = existing.filter((e) => e.isDirectory && !e.removal)
  const sources = await chezmoi.sourcePaths(changedDirs.map((e) => join(options.home, e.path))).catch(() => [] as string[])
  const becomesFile = new Set(
    changedDirs.filter((_, i) => sources[i] !== undefined && !lstatSync(sources[i], {throwIfNoEntry: false})?.isDirectory()).map((e) => e.path),
  )
  const backedUp: string[] = []
  for (const {path, isDirectory, removal} of existing) {
    const target = join(options.home, path)
    if (wasWritten(path) && !(isDirectory && (removal || becomesFile.has(path)))) continue
    if (isDirectory && !removal && !becomesFile.has(path)) continue // created or re-moded: nothing is lost
    if (backedUp.some((done) => isInside(path, done))) continue
    await backUp(target, join(backupDir, path), options.isEncrypted(path), options.recipient)
    backedUp.push(path)
  }
  return backedUp
}

/**
 * After an apply chezmoi did not finish: only what it really wrote counts as applied (a target edited during the apply
 * is refused, say); the rest waits, and what was not edited here meanwhile is reported as failed, with chezmoi's reason.
 */
async function keepOnlyWritten(
  chezmoi: Chezmoi,
  options: ApplyOptions,
  entries: Map<string, ManagedEntry>,
  result: ApplyResult,
  error: ProcessError,
): Promise<void> {
  const {failed} = result
  const incomplete = error.result.stderr.trim() || error.message
  result.incomplete = incomplete
  const toApply = result.applied
  // Asked about whole directories (see target-cover.ts); only what the apply was meant to write is kept of the answer.
  const meant = new Set(toApply)
  const answer = await statusOfCover(chezmoi, entries, options.home, coverTargets(options.home, entries, toApply))
  const after = {entries: answer.entries.filter((e) => meant.has(e.path)), failed: answer.failed.filter((f) => meant.has(f.path))}
  const notWritten = new Set([...after.entries.filter((e) => e.onApply !== ' ').map((e) => e.path), ...after.failed.map((f) => f.path)])
  result.applied = toApply.filter((path) => !notWritten.has(path))
  result.waiting = toApply.filter((path) => notWritten.has(path))
  // A target chezmoi did not write, and not edited here meanwhile (that one the next sync captures): it failed.
  const editedHere = new Set(after.entries.filter((e) => e.sinceLastWrite !== ' ').map((e) => e.path))
  const reasons = parseTargetFailures(incomplete, options.home)
  for (const path of result.waiting.filter((p) => !editedHere.has(p) && !failed.some((f) => f.path === p))) {
    failed.push({
      path,
      reason: reasons.find((r) => r.path === path)?.reason ?? after.failed.find((f) => f.path === path)?.reason ?? 'chezmoi did not write it',
    })
  }
}
