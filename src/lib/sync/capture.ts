// Capture: turn what was edited, created or deleted here under the managed paths into source-state changes,
// with as few chezmoi invocations as possible (each one scans for secrets): one re-add for every edited file,
// one add for new plain files, one for new encrypted files. Templates are never re-added from their output.
import {existsSync, lstatSync} from 'node:fs'
import {rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {Chezmoi} from '../chezmoi/chezmoi.ts'
import {
  changedHere,
  describeType,
  diskType,
  managedEntries,
  type ManagedEntry,
  type Retyped,
  retypedTargets,
  statusTargetsOutside,
} from '../chezmoi/entry-types.ts'
import type {GitRepo} from '../git/git.ts'
import {linkedDirectories, listableRoots} from '../chezmoi/linked.ts'
import {unsyncableName} from '../chezmoi/name-limits.ts'
import {removeEntryName} from '../chezmoi/source-names.ts'
import {ProcessError} from '../process/run.ts'
import {confirmedPlain, filesBelow, type HeldBack, parseChezmoiFinding, secretsInAddedLines, secretsInFile} from './secret-check.ts'
import {isEncryptedPath, managedPathOf} from '../manifest/lookup.ts'
import type {Fleet} from '../manifest/schema.ts'
import {mergeMovedSource, type MovedSourceOutcome, parkConflicts, rememberContents, type SourceContents} from './moved-source.ts'
import {homeShellPath} from '../errors/shell-command.ts'
import {isInside, isWithin, relativeWithin} from '../platform/paths.ts'
import {addRemovals, clearRemovals} from '../chezmoi/removals.ts'

export interface CaptureOptions {
  chezmoi: Chezmoi
  repo: GitRepo
  machine: string
  /** Reads and writes source contents as chezmoi does (decrypting and encrypting), for merges. */
  contents: SourceContents
  home: string
  sourceDir: string
  fleet: Fleet
  /** This machine can encrypt and read the fleet's encrypted paths. */
  active: boolean
  /** Targets to leave alone (unresolved conflicts). */
  exclude: (path: string) => boolean
  /** Targets the last sync held back as secrets: held back again while they still look like one. */
  heldBefore?: string[]
}

/** A target changed here whose source changed too in a way that does not merge: a conflict for a person. */
export interface CaptureConflict {
  /** Target, relative to $HOME. */
  path: string
  /** Source file, relative to the source repo. */
  sourcePath: string
  parkedBranch: string
  mine: string
  theirs: string
}

export interface CaptureResult {
  reAdded: string[]
  /** Edited here while their source moved too: merged with it (three-way) before they were re-added. */
  merged: string[]
  conflicts: CaptureConflict[]
  added: string[]
  deleted: string[]
  /** Targets whose type changed here (a file that became a directory, …): their old source entry is gone, the new one added. */
  retyped: string[]
  /** Templates edited here: reported, never re-added from their rendered output. */
  templates: string[]
  /** Looks like it holds a secret: not captured (nothing of it is committed), reported by path and kind. */
  heldBack: HeldBack[]
  skipped: Array<{path: string; reason: string}>
  warnings: string[]
  /** Every managed entry of the source as capture found it (before its own changes): read by chezmoi, so readable. */
  entries?: Map<string, ManagedEntry>
}

export function captured(result: CaptureResult): string[] {
  return [...new Set([...result.reAdded, ...result.retyped, ...result.added, ...result.deleted])]
}

const MIB = 1024 * 1024

/** Why a file is too large to capture (the fleet's `maxFileMiB`), or undefined when it is not. */
function tooLarge(file: string, fleet: Fleet): string | undefined {
  const bytes = lstatSync(file, {throwIfNoEntry: false})?.size ?? 0
  if (bytes <= fleet.settings.maxFileMiB * MIB) return undefined
  return `${(bytes / MIB).toFixed(1)} MiB, over the fleet's limit of ${fleet.settings.maxFileMiB} MiB: move it out of the managed path, or raise settings.maxFileMiB in the manifest`
}

export async function capture(options: CaptureOptions): Promise<CaptureResult> {
  const {chezmoi, home, sourceDir, fleet} = options
  const result: CaptureResult = {
    reAdded: [],
    merged: [],
    conflicts: [],
    added: [],
    deleted: [],
    retyped: [],
    templates: [],
    heldBack: [],
    skipped: [],
    warnings: [],
  }
  const abs = (path: string) => join(home, path)

  // M: edited here; D: deleted here; A: created here where the fleet had deleted it.
  // chezmoi's read-only commands can run side by side: what changed, and what is new in the managed directories.
  // The managed paths as they are here: new files in the directories, and a managed file the source no longer has
  // (its source entry removed by hand) — still managed by the manifest, so captured again rather than never again.
  const roots = fleet.paths.filter((p) => (options.active || !p.encrypt) && lstatSync(abs(p.path), {throwIfNoEntry: false}) !== undefined)
  // A target whose type changed goes first: chezmoi's status cannot look past a directory that became a file.
  // What is new in the managed directories is asked beside it, and again only when a type change removed an entry.
  // The status of everything is asked beside them too: it is the answer whenever no type changed (nearly always).
  const listUnmanaged = () => chezmoi.unmanaged(roots.flatMap((p) => listableRoots(home, p.path)))
  const statusOfAll = chezmoi.status().then(
    (entries) => ({entries}),
    (error: unknown) => ({error}),
  )
  // Every managed entry is read (the source as capture found it: see CaptureResult.entries); capture looks at those
  // under the managed paths it may touch here.
  const [allEntries, unmanagedBefore] = await Promise.all([managedEntries(chezmoi), listUnmanaged()])
  result.entries = allEntries
  const entries = new Map([...allEntries].filter(([path]) => roots.some((p) => isWithin(path, p.path))))
  const leftOut = await captureTypeChanges(
    options,
    entries,
    linkedDirectories(
      home,
      fleet.paths.map((p) => p.path),
    ),
    result,
  )
  const statusTargets = statusTargetsOutside(home, entries, leftOut)
  const asked = await statusOfAll // finished before anything writes
  const [status, unmanaged] = await Promise.all([
    statusTargets === undefined
      ? 'entries' in asked
        ? asked.entries
        : Promise.reject(asked.error)
      : statusTargets.length > 0
        ? chezmoi.status(statusTargets)
        : [],
    result.retyped.length > 0 ? listUnmanaged() : unmanagedBefore,
  ])
  const changed = status.filter((e) => 'MDA'.includes(e.sinceLastWrite) && e.sinceLastWrite !== ' ' && !options.exclude(e.path))
  // What chezmoi last wrote is read beside the source paths: a merge needs it for every edited file.
  const [sources, written] = await Promise.all([
    chezmoi.sourcePaths(changed.map((e) => abs(e.path))),
    changed.length > 0 ? chezmoi.writtenTargets() : new Map<string, string | undefined>(),
  ])
  const moved = await mergeMovedSources(
    options,
    written,
    changed.map((entry, i) => ({path: entry.path, source: sources[i]})),
  )
  result.merged = moved.merged
  result.conflicts = moved.conflicts
  result.heldBack.push(...moved.heldBack)
  const deletedDirs: string[] = []
  const reAdd: string[] = []
  const sourceOf = new Map<string, string>()
  const revived: string[] = []
  for (const [i, entry] of changed.entries()) {
    const source = sources[i]
    if (moved.held.has(entry.path)) continue
    const sourceIsDir = source !== undefined && existsSync(source) && lstatSync(source).isDirectory()
    if (entry.sinceLastWrite === 'D') {
      if (deletedDirs.some((dir) => isInside(entry.path, dir))) continue
      if (sourceIsDir) deletedDirs.push(entry.path)
      else if (source) {
        // A `remove_` entry tells every other machine to delete the file at its next sync.
        await writeFile(join(dirname(source), removeEntryName(basename(source))), '')
        await rm(source)
        result.deleted.push(entry.path)
      }
      continue
    }
    if (sourceIsDir) continue // a directory's mode changed: nothing to carry
    if (source && basename(source).startsWith('remove_'))
      revived.push(entry.path) // deleted elsewhere, present here
    else if (source?.endsWith('.tmpl')) result.templates.push(entry.path)
    else if (source && basename(source).startsWith('modify_')) result.skipped.push({path: entry.path, reason: 'managed by a modify_ script'})
    else {
      reAdd.push(entry.path)
      if (source) sourceOf.set(entry.path, source)
    }
  }
  if (deletedDirs.length > 0) {
    // chezmoi has no remove_ for directories: forget them here and list them in .chezmoiremove for the others.
    await chezmoi.forget(deletedDirs.map(abs))
    await addRemovals(sourceDir, deletedDirs)
    result.deleted.push(...deletedDirs)
  }
  if (result.deleted.length > 0) {
    // Let chezmoi record the removal as what it last wrote, or it would see the file as deleted here again later.
    // Without --force: a file created again meanwhile is a conflict for chezmoi, and stays.
    await chezmoi.apply({targets: result.deleted.map(abs)}).catch(() => undefined)
  }
  // An edit that adds what looks like a secret to a plain file is held back, the whole file, until it is dealt with.
  for (const path of [...reAdd]) {
    const large = tooLarge(abs(path), fleet)
    if (large) {
      reAdd.splice(reAdd.indexOf(path), 1)
      result.skipped.push({path, reason: large})
      continue
    }
    const source = sourceOf.get(path)
    if (isEncryptedPath(fleet, path) || source === undefined) continue
    const findings = await secretsInAddedLines(abs(path), source)
    if (findings.length === 0 || isConfirmedPlain(fleet, home, path)) continue
    reAdd.splice(reAdd.indexOf(path), 1)
    result.heldBack.push({path, findings})
  }
  result.merged = result.merged.filter((path) => !result.heldBack.some((h) => h.path === path))
  await rememberContents(
    options.repo,
    home,
    reAdd.filter((path) => !isEncryptedPath(fleet, path)),
  )
  await chezmoi.reAdd(reAdd.map(abs))
  result.reAdded.push(...reAdd)

  // New files in managed directories, each one (at any depth) checked by content before it may leave.
  // What lies in a target whose type change is skipped or waits for the apply is not new: it stays out.
  const untouched = leftOut.filter((path) => !result.retyped.includes(path))
  const fresh = [...new Set([...revived, ...unmanaged])].filter((path) => !options.exclude(path) && !untouched.some((u) => isWithin(path, u)))
  const plain: string[] = []
  const encrypted: string[] = []
  for (const path of fresh) {
    const managed = managedPathOf(fleet, path)
    if (!managed) continue
    const badName = unsyncableName(path.slice(managed.path.length), managed.encrypt === true)
    if (badName) {
      result.skipped.push({path, reason: badName})
      continue
    }
    if (managed.encrypt) {
      const files = filesBelow(home, [path])
      const named = files.filter((file) => !skipBadName(file, managed.path, true, result) && !skipOddType(abs(file), file, result))
      encrypted.push(...(named.length === files.length ? [path] : named))
      continue
    }
    for (const file of filesBelow(home, [path])) {
      if (skipBadName(file, managed.path, false, result) || skipOddType(abs(file), file, result)) continue
      const large = tooLarge(abs(file), fleet)
      if (large) {
        result.skipped.push({path: file, reason: large})
        continue
      }
      const findings = await secretsInFile(abs(file))
      if (findings.length > 0 && !isConfirmedPlain(fleet, home, file)) result.heldBack.push({path: file, findings})
      else plain.push(file)
    }
  }
  // Held back before and not looked at above (another machine has since sent a file of the same name, say): still
  // held back — and so not replaced by the apply — while it looks like a secret.
  const looked = new Set([...result.heldBack.map((h) => h.path), ...result.reAdded, ...plain, ...encrypted])
  for (const path of options.heldBefore ?? []) {
    if (looked.has(path) || isEncryptedPath(fleet, path)) continue
    const findings = await secretsInFile(abs(path))
    if (findings.length > 0 && !isConfirmedPlain(fleet, home, path)) result.heldBack.push({path, findings})
  }
  if (plain.length + encrypted.length > 0) {
    await clearRemovals(chezmoi, home, sourceDir, [...plain, ...encrypted])
    result.added.push(...(await addPlain(chezmoi, home, plain, result.heldBack)))
    await chezmoi.add(encrypted.map(abs), {encrypt: true})
    result.added.push(...encrypted)
  }
  return result
}

/** Skips a file whose name the fleet cannot carry, with the reason; whether it did. */
function skipBadName(file: string, managedPath: string, encrypted: boolean, result: CaptureResult): boolean {
  const reason = unsyncableName(file.slice(managedPath.length), encrypted)
  if (reason) result.skipped.push({path: file, reason})
  return reason !== undefined
}

/** Skips a named pipe, a socket or a device (chezmoi takes only files, directories and symlinks); whether it did. */
function skipOddType(absolute: string, file: string, result: CaptureResult): boolean {
  if (diskType(absolute) !== 'other') return false
  result.skipped.push({
    path: file,
    reason: `it is ${describeType('other')}, which fleet cannot sync (only files, directories and symlinks): move it out of the managed path`,
  })
  return true
}

/**
 * Targets whose type changed here (file, directory, symlink, in any direction) lose their old source entry, and
 * what they are now is added with the new files (so checked like them). A change that cannot be expressed is
 * skipped with its reason. Returns the targets `chezmoi status` must not be asked about: the source no longer has
 * them, they are skipped, or they wait for the apply (a type change that came from the source).
 */
async function captureTypeChanges(options: CaptureOptions, entries: Map<string, ManagedEntry>, linked: Set<string>, result: CaptureResult): Promise<string[]> {
  const leftOut: string[] = []
  for (const change of await retypedTargets(options.chezmoi, options.home, entries, linked)) {
    leftOut.push(change.path)
    if (options.exclude(change.path) || !changedHere(change)) continue
    const reason = inexpressible(change)
    if (reason) {
      result.skipped.push({path: change.path, reason})
      continue
    }
    await rm(change.source, {recursive: true, force: true})
    result.retyped.push(change.path)
  }
  return leftOut
}

/** Why a type change cannot be synced, with the fix; undefined when it can. */
function inexpressible(change: Retyped): string | undefined {
  const was = describeType(change.from)
  const target = homeShellPath(change.path)
  const fleets = `the fleet's ${change.from === 'dir' ? 'directory' : change.from}`
  if (change.to === 'other') {
    return `it was ${was} and is now ${describeType('other')}, which fleet cannot sync (only files, directories and symlinks): to get ${fleets} back, run \`rm ${target} && chezmoi apply --force ${target}\``
  }
  const name = basename(change.source)
  if (name.endsWith('.tmpl') || name.startsWith('modify_')) {
    const aside = homeShellPath(`${basename(change.path)}.aside`)
    return `it was ${was} made by ${name.endsWith('.tmpl') ? 'a template' : 'a modify_ script'} in the source (${name}), which fleet does not replace with ${describeType(change.to)}: to keep yours aside and get ${fleets} back, run \`mv ${target} ${aside} && chezmoi apply --force ${target}\``
  }
  return undefined
}

/** A file the person said is not a secret (`fleet add-path --plain-text`), though it looks like one, as it is now. */
function isConfirmedPlain(fleet: Fleet, home: string, path: string): boolean {
  return confirmedPlain(managedPathOf(fleet, path)?.plainText, home, path)
}

/**
 * Add new plain files with chezmoi's own secret scan as a refusal: a file it flags is held back and the rest are
 * added again (chezmoi stops at the first finding and adds nothing). Returns the files added.
 */
async function addPlain(chezmoi: Chezmoi, home: string, files: string[], heldBack: HeldBack[]): Promise<string[]> {
  let remaining = [...files]
  while (remaining.length > 0) {
    try {
      await chezmoi.add(
        remaining.map((f) => join(home, f)),
        {secrets: 'error'},
      )
      return remaining
    } catch (error) {
      const flagged = error instanceof ProcessError ? parseChezmoiFinding(error.result.stderr) : undefined
      const path = relativeWithin(home, flagged?.file)
      if (!flagged || path === undefined || !remaining.includes(path)) throw error
      heldBack.push({path, findings: [flagged.finding]})
      remaining = remaining.filter((f) => f !== path)
    }
  }
  return remaining
}

/** A source entry whose contents are a target's, byte for byte (after decryption): the ones a merge applies to. */
function holdsContents(source: string | undefined): source is string {
  if (source === undefined || !lstatSync(source, {throwIfNoEntry: false})?.isFile()) return false
  const name = basename(source)
  return !name.endsWith('.tmpl') && !/^(remove_|modify_|symlink_|run_)/.test(name)
}

/**
 * Edited or deleted targets whose source moved since chezmoi last wrote them: merged into the target, or held
 * back as conflicts (parked together on one branch).
 */
async function mergeMovedSources(
  options: CaptureOptions,
  written: Map<string, string | undefined>,
  changed: Array<{path: string; source: string | undefined}>,
): Promise<{merged: string[]; conflicts: CaptureConflict[]; heldBack: HeldBack[]; held: Set<string>}> {
  const candidates = changed.filter((c) => holdsContents(c.source))
  const none = {merged: [], conflicts: [], heldBack: [], held: new Set<string>()}
  if (candidates.length === 0) return none
  const merged: string[] = []
  const heldBack: HeldBack[] = []
  const conflicted: Array<Extract<MovedSourceOutcome, {kind: 'conflict'}>> = []
  for (const {path, source} of candidates) {
    const target = join(options.home, path)
    const outcome = await mergeMovedSource({
      repo: options.repo,
      target,
      targetPath: path,
      sourceFile: source!,
      writtenSha: written.get(target),
      contents: options.contents,
    })
    if (outcome.kind === 'merged') merged.push(path)
    if (outcome.kind !== 'conflict') continue
    // This machine's version is kept on a parked branch: not one that looks like it holds a secret.
    const plain = !isEncryptedPath(options.fleet, path)
    const findings = plain && outcome.mine !== undefined ? await secretsInAddedLines(target, source!) : []
    if (findings.length > 0 && !isConfirmedPlain(options.fleet, options.home, path)) heldBack.push({path, findings})
    else conflicted.push(outcome)
  }
  const held = new Set(heldBack.map((h) => h.path))
  if (conflicted.length === 0) return {...none, merged, heldBack, held}
  const parked = await parkConflicts(options.repo, options.machine, conflicted, options.contents)
  const conflicts = conflicted.map((c) => ({path: c.targetPath, sourcePath: c.sourceRelative, ...parked}))
  for (const c of conflicts) held.add(c.path)
  return {merged, conflicts, heldBack, held}
}
