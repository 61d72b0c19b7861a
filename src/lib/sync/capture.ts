// Capture: turn what was edited, created or deleted here under the managed paths into source-state changes,
// with as few chezmoi invocations as possible (each one scans for secrets): one re-add for every edited file,
// one add for new plain files, one for new encrypted files. Templates are never re-added from their output.
import {existsSync, lstatSync, readFileSync} from 'node:fs'
import {rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {Chezmoi, ChezmoiStatusEntry} from '../chezmoi/chezmoi.ts'
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
import {FleetError} from '../errors/index.ts'
import {SECRETS_PATH} from '../fleet/templates.ts'
import {parseDotenv} from '../secrets/dotenv.ts'
import {confirmedPlain, filesBelow, type HeldBack, parseChezmoiFinding, secretsInAddedLines, secretsInFile} from './secret-check.ts'
import {isEncryptedPath, managedPathOf} from '../manifest/lookup.ts'
import type {Fleet} from '../manifest/schema.ts'
import {mergeMovedSource, type MovedSourceOutcome, parkConflicts, rememberContents, type SourceContents} from './moved-source.ts'
import {homeShellPath} from '../errors/shell-command.ts'
import {isInside, isWithin, relativeWithin} from '../platform/paths.ts'
import {addRemovals, clearRemovals} from '../chezmoi/removals.ts'
import {coverTargets, statusOfCover} from '../chezmoi/target-cover.ts'
import type {SnapshotChanges} from './snapshot.ts'

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
  /**
   * What changed on disk since the last sync that left everything in step (snapshotChanges): only that is looked at.
   * Undefined: anything may have changed, and everything is looked at.
   */
  scope?: SnapshotChanges
  /**
   * The source is the one the last sync applied, and that sync left every target as it wrote it: no source moved
   * since chezmoi last wrote its target, so there is nothing to merge an edit with.
   */
  sourceInStep?: boolean
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
/** Past this many new paths, chezmoi lists what is new under the managed paths whole rather than path by path. */
const MANY_NEW_PATHS = 64

/** Why a file is too large to capture (the fleet's `maxFileMiB`), or undefined when it is not. */
function tooLarge(file: string, fleet: Fleet): string | undefined {
  const bytes = lstatSync(file, {throwIfNoEntry: false})?.size ?? 0
  if (bytes <= fleet.settings.maxFileMiB * MIB) return undefined
  return `${(bytes / MIB).toFixed(1)} MiB, over the fleet's limit of ${fleet.settings.maxFileMiB} MiB: move it out of the managed path, or raise settings.maxFileMiB in the manifest`
}

/**
 * Why the fleet's secrets file, edited here, is not captured: a line that does not read as dotenv would reach every
 * machine and stop `fleet secrets` there. Undefined for any other file, or a secrets file that reads.
 */
function malformedSecrets(file: string, path: string): string | undefined {
  if (path !== SECRETS_PATH) return undefined
  try {
    parseDotenv(readFileSync(file, 'utf8'), `~/${SECRETS_PATH}`)
    return undefined
  } catch (error) {
    if (!(error instanceof FleetError)) return undefined
    return `${error.message}; it stays here, not sent to the other machines: fix that line (or run \`fleet secrets edit\`), and the next sync sends it`
  }
}

/**
 * Capture what changed here under the managed paths. The phases, in the order they run:
 * 1. read the managed entries; what is new in the managed directories and the status of everything are asked beside
 *    them (chezmoi's read-only commands can run side by side, and the status is nearly always the answer);
 * 2. type changes (a file that became a directory, …) first, as chezmoi's status cannot look past a directory that
 *    became a file; then what changed: edited (M), deleted (D), created where the fleet had deleted it (A);
 * 3. edits whose source moved since chezmoi last wrote them are merged with it, or held (parked conflicts, secrets):
 *    what is held is left out of every phase after;
 * 4. classify the rest: deleted, edited, revived, templates and modify_ scripts (reported only);
 * 5. deletions: a remove_ entry per file, .chezmoiremove for directories, then one apply that records them;
 * 6. re-add the edited files in one re-add, less what is too large or now looks like a secret;
 * 7. sort the new files into plain (each checked by content) and encrypted, skipping what cannot be carried;
 * 8. re-check what the last sync held back and 6 and 7 did not look at;
 * 9. add the new plain files in one add and the new encrypted ones in another.
 */
export async function capture(options: CaptureOptions): Promise<CaptureResult> {
  const run = new CaptureRun(options)
  const {entries, unmanagedBefore, statusOfAll} = await run.readEntries()
  const leftOut = await captureTypeChanges(options, entries, run.linked(), run.result)
  const {status, unmanaged} = await run.whatChanged(entries, leftOut, statusOfAll, unmanagedBefore)
  const changed = await run.mergeMoved(status)
  const sorted = run.classify(changed)
  await run.captureDeletions(sorted)
  await run.reAddEdited(sorted.reAdd, sorted.sourceOf)
  const {plain, encrypted} = await run.sortNewFiles(run.newFiles(sorted.revived, unmanaged, leftOut))
  await run.recheckHeldBefore(plain, encrypted)
  await run.addNew(plain, encrypted)
  return run.result
}

/** chezmoi's status of everything, or why it failed: asked early, beside other reads, and awaited only if needed. */
type StatusOfAll = Promise<{entries: ChezmoiStatusEntry[]} | {error: unknown}>

/** A target changed here (not held by a merge), with its source entry. */
interface ChangedTarget {
  path: string
  deleted: boolean
  source: string | undefined
}

/** The changed targets, by what capture does with them. */
interface ClassifiedChanges {
  /** Deleted files, with the source entry each one had. */
  deletedFiles: Array<{path: string; source: string}>
  deletedDirs: string[]
  reAdd: string[]
  sourceOf: Map<string, string>
  /** Deleted elsewhere (a `remove_` entry), present here: added again like a new file. */
  revived: string[]
}

/** One capture's phases (see capture), with what they share: its options, result and the managed paths present here. */
class CaptureRun {
  readonly options: CaptureOptions
  readonly result: CaptureResult = {
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
  /**
   * The managed paths as they are here: new files in the directories, and a managed file the source no longer has
   * (its source entry removed by hand) — still managed by the manifest, so captured again rather than never again.
   */
  readonly roots: Fleet['paths']

  constructor(options: CaptureOptions) {
    this.options = options
    this.roots = options.fleet.paths.filter((p) => (options.active || !p.encrypt) && lstatSync(this.abs(p.path), {throwIfNoEntry: false}) !== undefined)
  }

  abs(path: string): string {
    return join(this.options.home, path)
  }

  linked(): Set<string> {
    return linkedDirectories(
      this.options.home,
      this.options.fleet.paths.map((p) => p.path),
    )
  }

  listUnmanaged(): Promise<string[]> {
    return this.options.chezmoi.unmanaged(this.roots.flatMap((p) => listableRoots(this.options.home, p.path)))
  }

  /**
   * Every managed entry (the source as capture found it: see CaptureResult.entries), and those under the managed
   * paths capture may touch here. chezmoi's read-only commands can run side by side: what is new in the managed
   * directories is asked beside them, and the status of everything too — it is the answer whenever no type changed
   * (nearly always).
   */
  async readEntries(): Promise<{entries: Map<string, ManagedEntry>; unmanagedBefore: string[]; statusOfAll: StatusOfAll}> {
    const {chezmoi, scope} = this.options
    const statusOfAll: StatusOfAll | undefined = scope
      ? undefined
      : chezmoi.status().then(
          (entries) => ({entries}),
          (error: unknown) => ({error}),
        )
    const [allEntries, unmanagedBefore] = await Promise.all([managedEntries(chezmoi), scope ? this.listUnmanagedAmong(scope.appeared) : this.listUnmanaged()])
    this.result.entries = allEntries
    const entries = new Map([...allEntries].filter(([path]) => this.roots.some((p) => isWithin(path, p.path))))
    return {entries, unmanagedBefore, statusOfAll: statusOfAll ?? this.statusOfChanged(allEntries, scope!.changed)}
  }

  /** What is new among the paths that appeared since the last sync: chezmoi asked about those alone, or not at all. */
  private listUnmanagedAmong(appeared: string[]): Promise<string[]> {
    const fresh = appeared.filter((path) => lstatSync(this.abs(path), {throwIfNoEntry: false}) !== undefined && this.roots.some((p) => isWithin(path, p.path)))
    if (fresh.length === 0) return Promise.resolve([])
    // A managed path that appeared whole (or a great many new ones) is listed the usual way.
    if (fresh.length > MANY_NEW_PATHS || fresh.some((path) => this.roots.some((p) => p.path === path))) return this.listUnmanaged()
    return this.options.chezmoi.unmanaged(fresh.map((path) => this.abs(path)))
  }

  /** The status of the managed targets that changed here (a managed path deleted whole too), asked through the fewest targets (target-cover.ts). */
  private statusOfChanged(entries: Map<string, ManagedEntry>, changed: ReadonlySet<string>): StatusOfAll {
    const asked = [...changed].filter((path) => entries.has(path))
    if (asked.length === 0) return Promise.resolve({entries: []})
    const {chezmoi, home} = this.options
    return statusOfCover(chezmoi, entries, home, coverTargets(home, entries, asked)).then(
      (answer) => ({entries: answer.entries.filter((entry) => changed.has(entry.path))}),
      (error: unknown) => ({error}),
    )
  }

  /**
   * The status of the targets chezmoi may be asked about, and what is new in the managed directories: asked again
   * only when a type change removed an entry.
   */
  async whatChanged(
    entries: Map<string, ManagedEntry>,
    leftOut: string[],
    statusOfAll: StatusOfAll,
    unmanagedBefore: string[],
  ): Promise<{status: ChezmoiStatusEntry[]; unmanaged: string[]}> {
    const statusTargets = statusTargetsOutside(this.options.home, entries, leftOut)
    const asked = await statusOfAll // finished before anything writes
    const [status, unmanaged] = await Promise.all([
      statusTargets === undefined
        ? 'entries' in asked
          ? asked.entries
          : Promise.reject(asked.error)
        : statusTargets.length > 0
          ? this.options.chezmoi.status(statusTargets)
          : [],
      this.result.retyped.length > 0 ? this.listUnmanaged() : unmanagedBefore,
    ])
    return {status, unmanaged}
  }

  /**
   * M: edited here; D: deleted here; A: created here where the fleet had deleted it. Those whose source moved are
   * merged with it (see mergeMovedSources); returns the changed targets a merge does not hold.
   */
  async mergeMoved(status: ChezmoiStatusEntry[]): Promise<ChangedTarget[]> {
    const {chezmoi, exclude, sourceInStep} = this.options
    const changed = status.filter((e) => 'MDA'.includes(e.sinceLastWrite) && e.sinceLastWrite !== ' ' && !exclude(e.path))
    // The source entries as chezmoi listed them (readEntries), asked again only for one it did not list.
    const listed = changed.map((e) => this.result.entries?.get(e.path)?.source)
    // What chezmoi last wrote is read beside them: a merge needs it for every edited file — unless no source moved.
    const [sources, written] = await Promise.all([
      listed.every((source) => source !== undefined) ? listed : chezmoi.sourcePaths(changed.map((e) => this.abs(e.path))),
      changed.length > 0 && !sourceInStep ? chezmoi.writtenTargets() : new Map<string, string | undefined>(),
    ])
    if (sourceInStep) return changed.map((entry, i) => ({path: entry.path, deleted: entry.sinceLastWrite === 'D', source: sources[i]}))
    const moved = await mergeMovedSources(
      this.options,
      written,
      changed.map((entry, i) => ({path: entry.path, source: sources[i]})),
    )
    this.result.merged = moved.merged
    this.result.conflicts = moved.conflicts
    this.result.heldBack.push(...moved.heldBack)
    return changed.map((entry, i) => ({path: entry.path, deleted: entry.sinceLastWrite === 'D', source: sources[i]})).filter((c) => !moved.held.has(c.path))
  }

  /** Sorts the changed targets by what capture does with them; templates and modify_ scripts are reported here. */
  classify(changed: ChangedTarget[]): ClassifiedChanges {
    const sorted: ClassifiedChanges = {deletedFiles: [], deletedDirs: [], reAdd: [], sourceOf: new Map(), revived: []}
    for (const {path, deleted, source} of changed) {
      const sourceIsDir = source !== undefined && existsSync(source) && lstatSync(source).isDirectory()
      if (deleted) {
        if (sorted.deletedDirs.some((dir) => isInside(path, dir))) continue
        if (sourceIsDir) sorted.deletedDirs.push(path)
        else if (source) sorted.deletedFiles.push({path, source})
        continue
      }
      if (sourceIsDir) continue // a directory's mode changed: nothing to carry
      if (source && basename(source).startsWith('remove_'))
        sorted.revived.push(path) // deleted elsewhere, present here
      else if (source?.endsWith('.tmpl')) this.result.templates.push(path)
      else if (source && basename(source).startsWith('modify_')) this.result.skipped.push({path, reason: 'managed by a modify_ script'})
      else {
        sorted.reAdd.push(path)
        if (source) sorted.sourceOf.set(path, source)
      }
    }
    return sorted
  }

  /** Deletions here become deletions for every other machine. */
  async captureDeletions({deletedFiles, deletedDirs}: ClassifiedChanges): Promise<void> {
    const {chezmoi, sourceDir} = this.options
    const {result} = this
    for (const {path, source} of deletedFiles) {
      // A `remove_` entry tells every other machine to delete the file at its next sync.
      await writeFile(join(dirname(source), removeEntryName(basename(source))), '')
      await rm(source)
      result.deleted.push(path)
    }
    if (deletedDirs.length > 0) {
      // chezmoi has no remove_ for directories: forget them here and list them in .chezmoiremove for the others.
      await chezmoi.forget(deletedDirs.map((path) => this.abs(path)))
      await addRemovals(sourceDir, deletedDirs)
      result.deleted.push(...deletedDirs)
    }
    if (result.deleted.length > 0) {
      // Let chezmoi record the removal as what it last wrote, or it would see the file as deleted here again later.
      // Without --force: a file created again meanwhile is a conflict for chezmoi, and stays.
      await chezmoi.apply({targets: result.deleted.map((path) => this.abs(path))}).catch(() => undefined)
    }
  }

  /** Re-adds the edited files (one chezmoi start), less those too large or held back as secrets. */
  async reAddEdited(edited: string[], sourceOf: Map<string, string>): Promise<void> {
    const {fleet} = this.options
    const reAdd = await this.withoutHeldEdits(edited, sourceOf)
    this.result.merged = this.result.merged.filter((path) => !this.result.heldBack.some((h) => h.path === path))
    await rememberContents(
      this.options.repo,
      this.options.home,
      reAdd.filter((path) => !isEncryptedPath(fleet, path)),
    )
    await this.options.chezmoi.reAdd(reAdd.map((path) => this.abs(path)))
    this.result.reAdded.push(...reAdd)
  }

  /**
   * The edited files that may be re-added: not too large, and not a plain file an edit added what looks like a secret
   * to — held back, the whole file, until it is dealt with.
   */
  async withoutHeldEdits(edited: string[], sourceOf: Map<string, string>): Promise<string[]> {
    const {fleet, home} = this.options
    const reAdd: string[] = []
    for (const path of edited) {
      const large = tooLarge(this.abs(path), fleet) ?? malformedSecrets(this.abs(path), path)
      if (large) {
        this.result.skipped.push({path, reason: large})
        continue
      }
      const source = sourceOf.get(path)
      const findings = isEncryptedPath(fleet, path) || source === undefined ? [] : await secretsInAddedLines(this.abs(path), source)
      if (findings.length > 0 && !isConfirmedPlain(fleet, home, path)) this.result.heldBack.push({path, findings})
      else reAdd.push(path)
    }
    return reAdd
  }

  /**
   * New files in managed directories, and those deleted elsewhere but present here. What lies in a target whose type
   * change is skipped or waits for the apply is not new: it stays out.
   */
  newFiles(revived: string[], unmanaged: string[], leftOut: string[]): string[] {
    const untouched = leftOut.filter((path) => !this.result.retyped.includes(path))
    return [...new Set([...revived, ...unmanaged])].filter((path) => !this.options.exclude(path) && !untouched.some((u) => isWithin(path, u)))
  }

  /** The new files to add, plain or encrypted, each one (at any depth) checked before it may leave. */
  async sortNewFiles(fresh: string[]): Promise<{plain: string[]; encrypted: string[]}> {
    const {fleet, home} = this.options
    const {result} = this
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
        const named = files.filter((file) => !skipBadName(file, managed.path, true, result) && !skipOddType(this.abs(file), file, result))
        encrypted.push(...(named.length === files.length ? [path] : named))
        continue
      }
      plain.push(...(await this.plainFilesBelow(path, managed.path)))
    }
    return {plain, encrypted}
  }

  /** The files below a new plain path that may be added: carried by name and type, not too large, no secret in sight. */
  async plainFilesBelow(path: string, managedPath: string): Promise<string[]> {
    const {fleet, home} = this.options
    const {result} = this
    const plain: string[] = []
    for (const file of filesBelow(home, [path])) {
      if (skipBadName(file, managedPath, false, result) || skipOddType(this.abs(file), file, result)) continue
      const large = tooLarge(this.abs(file), fleet)
      if (large) {
        result.skipped.push({path: file, reason: large})
        continue
      }
      const findings = await secretsInFile(this.abs(file))
      if (findings.length > 0 && !isConfirmedPlain(fleet, home, file)) result.heldBack.push({path: file, findings})
      else plain.push(file)
    }
    return plain
  }

  /**
   * Held back before and not looked at above (another machine has since sent a file of the same name, say): still
   * held back — and so not replaced by the apply — while it looks like a secret.
   */
  async recheckHeldBefore(plain: string[], encrypted: string[]): Promise<void> {
    const {fleet, home} = this.options
    const looked = new Set([...this.result.heldBack.map((h) => h.path), ...this.result.reAdded, ...plain, ...encrypted])
    for (const path of this.options.heldBefore ?? []) {
      if (looked.has(path) || isEncryptedPath(fleet, path)) continue
      const findings = await secretsInFile(this.abs(path))
      if (findings.length > 0 && !isConfirmedPlain(fleet, home, path)) this.result.heldBack.push({path, findings})
    }
  }

  /** Adds the new files: the plain ones in one add (less what chezmoi's own scan flags), the encrypted in another. */
  async addNew(plain: string[], encrypted: string[]): Promise<void> {
    if (plain.length + encrypted.length === 0) return
    const {chezmoi, home, sourceDir} = this.options
    await clearRemovals(chezmoi, home, sourceDir, [...plain, ...encrypted])
    this.result.added.push(...(await addPlain(chezmoi, home, plain, this.result.heldBack)))
    await chezmoi.add(
      encrypted.map((path) => this.abs(path)),
      {encrypt: true},
    )
    this.result.added.push(...encrypted)
  }
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
