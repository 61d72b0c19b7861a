// Managed paths: adding (with every check a person would want before a file leaves the machine), removing, and
// listing them with their state here.
import {existsSync, lstatSync, readdirSync, readlinkSync, realpathSync} from 'node:fs'
import {readFile, rm, writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {clearRemovals} from '../chezmoi/removals.ts'
import {FleetError, UsageError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {refuseFleetAuthorizedKeys} from '../fleet/authorized-keys.ts'
import {recordWhatChezmoiEncrypted} from '../keys/record.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import {isActive, managedPathNamed, managedPathOf} from '../manifest/lookup.ts'
import type {Fleet, ManagedPath} from '../manifest/schema.ts'
import {MANIFEST_RELATIVE_PATH, manifestPath, readManifest, writeManifest} from '../manifest/store.ts'
import {homeRelative, isWithin} from '../platform/paths.ts'
import {ProcessError} from '../process/run.ts'
import {absoluteLinksBelow, isLinkToDirectory, linkedDirectories, listableRoots} from '../chezmoi/linked.ts'
import {decodeSourcePath} from '../chezmoi/source-names.ts'
import {describeFindings} from '../secrets/detect.ts'
import {plainTextConfirmation, secretsInFile} from '../sync/secret-check.ts'
import {readSyncState} from '../sync/state.ts'
import {reportableStatus} from '../chezmoi/entry-types.ts'
import {upstreamRef} from '../git/git.ts'

/** Beyond these, a tree is large enough that adding it needs --force. */
export const LARGE_TREE = {files: 1000, bytes: 50 * 1024 * 1024}
/** macOS folders an agent can read only with Full Disk Access. */
export const PROTECTED_FOLDERS = ['Documents', 'Desktop', 'Downloads']

export interface PlannedPath {
  path: string
  absolute: string
  kind: 'file' | 'directory' | 'symlink'
  files: number
  bytes: number
  encrypt: boolean
  /** Files in it that look like secrets, confirmed plain by the person (--plain-text), relative to $HOME. */
  plainText: string[]
}

export interface AddPathPlan {
  add: PlannedPath[]
  /** Managed paths inside a new one: the new one replaces them in the manifest. */
  merged: Array<{inner: string; outer: string}>
  warnings: string[]
}

export interface AddPathOptions {
  paths: string[]
  encrypt: boolean
  /** Add a large tree. */
  force: boolean
  /** The person checked that what looks like a secret in these paths is not one: add them in plain text. */
  plainText?: boolean
  cwd?: string
}

function expandHome(path: string, home: string): string {
  if (path === '~') return home
  return path.startsWith('~/') ? join(home, path.slice(2)) : path
}

/** A path a person gave (absolute, `~/…`, or relative to `cwd`), relative to $HOME; undefined outside it. */
function givenRelative(local: LocalFleet, given: string, cwd: string): string | undefined {
  return homeRelative(local.paths, resolve(cwd, expandHome(given, local.paths.home)))
}

/**
 * Files, bytes, and the files whose content looks like a secret (a name alone is only a hint: the content decides),
 * relative to $HOME with what was found.
 */
async function measure(home: string, root: string): Promise<{files: number; bytes: number; secrets: Array<{path: string; found: string}>}> {
  const total = {files: 0, bytes: 0, secrets: [] as Array<{path: string; found: string}>}
  const walk = async (relative: string) => {
    const path = join(home, relative)
    const info = lstatSync(path)
    // A managed path that links to a directory is synced as the directory's contents: measured through the link.
    if (info.isDirectory() || (relative === root && isLinkToDirectory(path))) {
      for (const entry of readdirSync(path)) await walk(`${relative}/${entry}`)
      return
    }
    total.files++
    total.bytes += info.size
    const findings = await secretsInFile(path)
    if (findings.length > 0) total.secrets.push({path: relative, found: describeFindings(findings)})
  }
  await walk(root)
  return total
}

/** A link to a file (or to nothing): other machines would get a link to a path they may not have. */
function linkedFileError(given: string, absolute: string, home: string): UsageError {
  const target = readlinkSync(absolute)
  const resolved = resolve(dirname(absolute), target)
  if (!existsSync(absolute))
    return new UsageError(`${given} is a link to ${target}, which does not exist.`, 'Add the file or directory itself, not a broken link.', 'BROKEN_LINK')
  return new UsageError(
    `${given} is a link to the file ${resolved}: fleet syncs the contents of a linked directory, but a linked file would travel as a link to a path other machines may not have.`,
    isWithin(resolved, home)
      ? `Add the file it points to instead: fleet add-path ${resolved}`
      : `Copy the file into your home directory (or link a directory that holds it), and add that.`,
    'LINKED_FILE',
  )
}

/**
 * Check every path and work out what adding them means. Throws a UsageError (exit 2) naming the fix. The checks, in
 * the order they run (the first that fails is the one reported, so the cheap ones on the name come first):
 * 1. this machine may add encrypted paths at all;
 * 2. for each path: where it is (inside $HOME, present, not fleet's own) → not managed already → what it is (a linked
 *    file is refused; links are warned about) → its size and secrets, read once → the managed paths it takes in →
 *    not too large, not holding secrets in plain text → a warning for macOS's protected folders;
 * 3. no path given inside another one given.
 */
export async function planAddPaths(local: LocalFleet, fleet: Fleet, options: AddPathOptions): Promise<AddPathPlan> {
  const plan: AddPathPlan = {add: [], merged: [], warnings: []}
  if (options.encrypt && !isActive(fleet, local.machine)) {
    throw new UsageError(
      'This machine is pending: it cannot add encrypted paths until an active machine approves it.',
      `On an active machine: fleet machines approve ${local.machine}`,
      'NOT_ACTIVE',
    )
  }
  for (const given of options.paths) plan.add.push(await planOnePath(local, fleet, options, given, plan))
  for (const a of plan.add)
    for (const b of plan.add) {
      if (a !== b && isWithin(a.path, b.path))
        throw new UsageError(`~/${a.path} is inside ~/${b.path}, given in the same command.`, `Give only ~/${b.path}.`, 'OVERLAPPING_PATHS')
    }
  return plan
}

/** One path given to add-path, checked (see planAddPaths); its warnings and the managed paths it takes in go to plan. */
async function planOnePath(local: LocalFleet, fleet: Fleet, options: AddPathOptions, given: string, plan: AddPathPlan): Promise<PlannedPath> {
  const home = local.paths.home
  const {absolute, relative} = locateGiven(local, given, options.cwd ?? process.cwd())
  const existing = managedPathNamed(fleet, relative)
  if (existing) throw new UsageError(`~/${relative} is already managed.`, 'See `fleet paths`.', 'ALREADY_MANAGED')
  const outer = managedPathOf(fleet, relative)
  if (outer) throw new UsageError(`~/${relative} is already synced as part of ~/${outer.path}.`, 'Nothing to do; see `fleet paths`.', 'INSIDE_MANAGED')
  await refuseFleetAuthorizedKeys(local.chezmoi, home, relative)
  const kind = kindWithLinks(given, absolute, relative, home, plan.warnings)
  const size = await measure(home, relative)
  for (const inner of fleet.paths.filter((p) => isWithin(p.path, relative))) {
    if (inner.encrypt && !options.encrypt) {
      throw new UsageError(
        `~/${relative} holds the encrypted path ~/${inner.path}; adding it unencrypted would put that in plain text.`,
        'Add it with --encrypt, or add the other paths inside it one by one.',
        'WOULD_DECRYPT',
      )
    }
    plan.merged.push({inner: inner.path, outer: relative})
  }
  requireAddable(relative, size, options)
  if (PROTECTED_FOLDERS.some((folder) => isWithin(relative, folder))) {
    plan.warnings.push(
      `~/${relative} is under a folder macOS protects: on a Mac, fleet's agents need Full Disk Access (System Settings › Privacy & Security) to see changes there.`,
    )
  }
  return {
    path: relative,
    absolute,
    kind,
    files: size.files,
    bytes: size.bytes,
    encrypt: options.encrypt,
    plainText: options.plainText ? size.secrets.map((s) => s.path) : [],
  }
}

/** Where a given path is: absolute and relative to $HOME. Throws unless it exists inside $HOME and is not fleet's own. */
function locateGiven(local: LocalFleet, given: string, cwd: string): {absolute: string; relative: string} {
  const {paths} = local
  if (given.includes('\n')) throw new UsageError(`A path with a line break cannot be managed: ${JSON.stringify(given)}.`, 'Rename the file first.', 'BAD_PATH')
  const absolute = resolve(cwd, expandHome(given, paths.home))
  const relative = homeRelative(paths, absolute)
  if (relative === undefined || relative === '') {
    throw new UsageError(`${given} is not inside your home directory (${paths.home}).`, 'fleet manages files and directories under $HOME only.', 'OUTSIDE_HOME')
  }
  if (!existsSync(absolute) && !lstatSync(absolute, {throwIfNoEntry: false})) {
    throw new UsageError(`${given} does not exist.`, 'Create it first, or check the spelling (quote a path with spaces).', 'NO_SUCH_PATH')
  }
  const own = [
    {dir: paths.sourceDir, what: "the fleet's source repo"},
    {dir: paths.configDir, what: "fleet's own configuration (this machine's private key)"},
    {dir: paths.chezmoiConfigDir, what: "chezmoi's configuration and state"},
    {dir: paths.stateDir, what: "fleet's state"},
    {dir: paths.dataDir, what: "fleet's data (the embedded forge)"},
  ]
  for (const {dir, what} of own) {
    if (isWithin(absolute, dir) || isWithin(dir, absolute)) {
      throw new UsageError(
        `${given} ${isWithin(absolute, dir) ? 'is inside' : 'holds'} ${what} (${dir}); fleet does not sync it.`,
        'Add the files or directories beside it that you want to share instead.',
        'FLEET_OWN_PATH',
      )
    }
  }
  return {absolute, relative}
}

/**
 * What a path to add is (a linked directory counts as a directory; a linked file is refused), with a warning for the
 * link itself and for each link below it to an absolute path.
 */
function kindWithLinks(given: string, absolute: string, relative: string, home: string, warnings: string[]): PlannedPath['kind'] {
  const info = lstatSync(absolute)
  if (info.isSymbolicLink() && !isLinkToDirectory(absolute)) throw linkedFileError(given, absolute, home)
  const kind = info.isSymbolicLink() || info.isDirectory() ? 'directory' : 'file'
  if (info.isSymbolicLink())
    warnings.push(
      `~/${relative} is a link to the directory ${realpathSync(absolute)}: its contents are synced (other machines get a real directory), and the link stays here.`,
    )
  for (const link of absoluteLinksBelow(home, relative)) {
    warnings.push(
      `~/${link.path} is a link to ${link.target}, a path fixed on this machine: it travels as a link, to a path another machine ${isWithin(link.target, home) ? 'has under another home directory, or not at all' : 'may not have'}. Make it relative, or add what it points to instead.`,
    )
  }
  return kind
}

/** Throws unless a path's size is within LARGE_TREE (or --force) and what looks like a secret is encrypted or confirmed plain. */
function requireAddable(relative: string, size: Awaited<ReturnType<typeof measure>>, options: AddPathOptions): void {
  if (!options.force && (size.files > LARGE_TREE.files || size.bytes > LARGE_TREE.bytes)) {
    throw new UsageError(
      `~/${relative} is large (${size.files} files, ${(size.bytes / 1024 / 1024).toFixed(1)} MiB): every machine would store and sync all of it.`,
      'Add the parts you need, or pass --force to add it anyway.',
      'LARGE_TREE',
    )
  }
  if (!options.encrypt && !options.plainText && size.secrets.length > 0) {
    const shown = size.secrets.slice(0, 5).map((s) => `~/${s.path}: ${s.found}`)
    throw new UsageError(
      `~/${relative} looks like it holds secrets (${shown.join('; ')}${size.secrets.length > 5 ? '; …' : ''}); it would be stored in plain text in the forge.`,
      'Add it with --encrypt (the forge then holds only ciphertext), or with --plain-text if you checked that it holds no secret.',
      'LOOKS_SECRET',
    )
  }
}

/** Add the planned paths: manifest, one chezmoi add for all of them, one commit. The caller then syncs. */
export async function addPaths(local: LocalFleet, options: AddPathOptions): Promise<AddPathPlan> {
  return withFleetLock(local.paths, 'add-path', async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    const plan = await planAddPaths(local, fleet, options)
    // What the source repo holds uncommitted before (a `chezmoi edit` in progress, say): never touched on failure.
    const before = new Set((await local.repo.status()).map((e) => e.path))
    const manifestBefore = await readFile(manifestPath(local.paths.sourceDir))
    const now = new Date().toISOString()
    const mergedInner = new Set(plan.merged.map((m) => m.inner))
    const entries: ManagedPath[] = plan.add.map((p) => ({
      path: p.path,
      encrypt: p.encrypt,
      addedAt: now,
      addedBy: local.machine,
      ...(p.plainText.length > 0 ? {plainText: p.plainText.map((path) => plainTextConfirmation(local.paths.home, path))} : {}),
    }))
    const updated: Fleet = {...fleet, paths: [...fleet.paths.filter((p) => !mergedInner.has(p.path)), ...entries]}
    await writeManifest(local.paths.sourceDir, updated)
    try {
      await clearRemovals(
        local.chezmoi,
        local.paths.home,
        local.paths.sourceDir,
        plan.add.map((p) => p.path),
      )
      // A linked directory (or one above a path) becomes a real directory in the source first; its contents are
      // then added through the link, as chezmoi adds a link itself as a link.
      const linked = [
        ...linkedDirectories(
          local.paths.home,
          plan.add.map((p) => p.path),
        ),
      ].sort()
      for (const dir of linked) await local.chezmoi.add([join(local.paths.home, dir)], {directoryOnly: true})
      await local.chezmoi.add(
        plan.add.flatMap((p) => listableRoots(local.paths.home, p.path)),
        {encrypt: options.encrypt, secrets: options.plainText ? 'ignore' : 'error'},
      )
    } catch (error) {
      // Leave nothing half-added: undo what this command changed in the source repo, and only that.
      await writeFile(manifestPath(local.paths.sourceDir), manifestBefore)
      for (const entry of await local.repo.status()) {
        if (before.has(entry.path) || entry.path === MANIFEST_RELATIVE_PATH) continue
        if (entry.code === '??') await rm(join(local.paths.sourceDir, entry.path), {recursive: true, force: true})
        else await local.repo.git(['checkout', '--', entry.path], {allowFailure: true})
      }
      if (error instanceof ProcessError && /secret/i.test(error.result.stderr)) {
        throw new UsageError(
          `chezmoi found what looks like a secret in the files to add:\n${error.result.stderr.trim()}`,
          'Add it with --encrypt, or with --plain-text if you checked that it is not a secret.',
          'LOOKS_SECRET',
        )
      }
      throw error
    }
    // chezmoi encrypts what it adds to the recipients file: the ciphertexts it wrote are recorded for that set.
    if (options.encrypt) await recordWhatChezmoiEncrypted(local.repo, local.paths.sourceDir, local.paths.recipientsFile)
    await local.repo.commitAll(`fleet: ${local.machine}: add-path ${plan.add.map((p) => `~/${p.path}${p.encrypt ? ' (encrypted)' : ''}`).join(', ')}`)
    return plan
  })
}

/** Stop tracking paths fleet-wide: the manifest forgets them and chezmoi stops managing them; files stay. */
export async function removePaths(local: LocalFleet, given: string[], cwd = process.cwd()): Promise<string[]> {
  return withFleetLock(local.paths, 'remove-path', async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    const removed: string[] = []
    for (const path of given) {
      const relative = givenRelative(local, path, cwd)
      const entry = relative === undefined ? undefined : managedPathNamed(fleet, relative)
      if (!entry) {
        const outer = relative === undefined ? undefined : managedPathOf(fleet, relative)
        throw new UsageError(
          `${path} is not a managed path${outer ? ` (it is part of ~/${outer.path})` : ''}.`,
          outer ? `Remove ~/${outer.path} instead, or leave it.` : 'See `fleet paths` for the managed paths.',
          'NOT_MANAGED',
        )
      }
      removed.push(entry.path)
    }
    const managed = new Set(await local.chezmoi.managed())
    await writeManifest(local.paths.sourceDir, {...fleet, paths: fleet.paths.filter((p) => !removed.includes(p.path))})
    await local.chezmoi.forget(removed.filter((p) => managed.has(p)).map((p) => join(local.paths.home, p)))
    await local.repo.commitAll(`fleet: ${local.machine}: remove-path ${removed.map((p) => `~/${p}`).join(', ')} (files stay on every machine)`)
    return removed
  })
}

export type PathState =
  'in sync' | 'in conflict' | 'held back (looks like a secret)' | 'edited here' | 'changed upstream' | 'missing here' | 'waiting for approval'

export interface PathReport {
  path: string
  encrypted: boolean
  template: boolean
  state: PathState
  /** Targets under the path that differ, with what differs. */
  details: string[]
  addedBy?: string
  addedAt?: string
}

/** Each managed path with its state here. Fetches first (quietly: the forge may be down) to see upstream changes. */
export async function listPaths(local: LocalFleet): Promise<{paths: PathReport[]; forgeChecked: boolean}> {
  const fleet = await readManifest(local.paths.sourceDir)
  let forgeChecked = true
  try {
    await local.repo.fetch()
  } catch (error) {
    if (!(error instanceof FleetError)) throw error
    forgeChecked = false
  }
  const upstream = upstreamRef(fleet.settings.branch)
  const incoming = (await local.repo.revParse(upstream)) ? (await local.repo.changedFiles('HEAD', upstream)).map((c) => decodeSourcePath(c.path)) : []
  // A managed directory that is a link here is not "edited": its files are synced through it.
  const linked = linkedDirectories(
    local.paths.home,
    fleet.paths.map((p) => p.path),
  )
  const status = (await reportableStatus(local.chezmoi, local.paths.home, linked)).filter((e) => !linked.has(e.path))
  const sources = await local.repo.listFiles()
  const active = isActive(fleet, local.machine)
  const {conflicts, heldBack = []} = await readSyncState(local.paths)
  return {
    forgeChecked,
    paths: fleet.paths.map((entry) => {
      const mine = status.filter((e) => isWithin(e.path, entry.path))
      const edited = mine.filter((e) => e.sinceLastWrite !== ' ')
      const unapplied = mine.filter((e) => e.sinceLastWrite === ' ')
      const upstreamChanges = incoming.filter((p) => isWithin(p, entry.path) || isWithin(p, `${entry.path}.tmpl`))
      const template = sources.some((s) => s.endsWith('.tmpl') && isWithin(decodeSourcePath(s), entry.path))
      const exists = lstatSync(join(local.paths.home, entry.path), {throwIfNoEntry: false}) !== undefined
      const conflicted = conflicts.filter((c) => isWithin(c.path, entry.path))
      const held = heldBack.filter((h) => isWithin(h.path, entry.path))
      let state: PathState = 'in sync'
      if (entry.encrypt && !active) state = 'waiting for approval'
      else if (conflicted.length > 0) state = 'in conflict'
      else if (held.length > 0) state = 'held back (looks like a secret)'
      else if (edited.length > 0) state = 'edited here'
      else if (upstreamChanges.length > 0 || unapplied.length > 0) state = 'changed upstream'
      else if (!exists) state = 'missing here'
      return {
        path: entry.path,
        encrypted: entry.encrypt,
        template,
        state,
        details: [
          ...conflicted.map((c) => `${c.path}: in conflict (fleet resolve)`),
          ...held.map((h) => `${h.path}: held back, ${describeFindings(h.findings)}`),
          ...edited.filter((e) => !conflicted.some((c) => c.path === e.path) && !held.some((h) => h.path === e.path)).map((e) => `${e.path}: edited here`),
          ...unapplied.map((e) => `${e.path}: not applied yet`),
          ...upstreamChanges.map((p) => `${p}: changed on the forge`),
        ],
        addedBy: entry.addedBy,
        addedAt: entry.addedAt,
      }
    }),
  }
}

/** Whether every given path lies inside a managed path (--plain-text then confirms files the sync held back). */
export async function insideManagedPaths(local: LocalFleet, given: string[], cwd = process.cwd()): Promise<boolean> {
  const fleet = await readManifest(local.paths.sourceDir)
  return given.every((path) => {
    const relative = givenRelative(local, path, cwd)
    return relative !== undefined && managedPathOf(fleet, relative) !== undefined
  })
}

/**
 * The person confirms that files inside managed paths hold no secret although they look like it: they are synced
 * in plain text while their contents are the ones confirmed (recorded in the manifest: `plainText` of their managed
 * path, with the SHA-256 of the contents).
 */
export async function confirmPlainText(local: LocalFleet, given: string[], cwd = process.cwd()): Promise<string[]> {
  return withFleetLock(local.paths, 'add-path --plain-text', async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    const confirmed: string[] = []
    for (const path of given) {
      const relative = givenRelative(local, path, cwd)
      const managed = relative === undefined ? undefined : managedPathOf(fleet, relative)
      if (relative === undefined || !managed || !lstatSync(join(local.paths.home, relative), {throwIfNoEntry: false})?.isFile()) {
        throw new UsageError(
          `${path} is not a file inside a managed path.`,
          'Give a file that `fleet sync` held back (see `fleet status`); to add a new path, use fleet add-path without --plain-text.',
          'NOT_MANAGED',
        )
      }
      if (managed.encrypt) throw new UsageError(`~/${relative} is encrypted already.`, 'Nothing to do.', 'ENCRYPTED')
      managed.plainText = [...(managed.plainText ?? []).filter((c) => c.path !== relative), plainTextConfirmation(local.paths.home, relative)]
      confirmed.push(relative)
    }
    await writeManifest(local.paths.sourceDir, fleet)
    await local.repo.commitAll(`fleet: ${local.machine}: sync ${confirmed.map((p) => `~/${p}`).join(', ')} in plain text (confirmed: no secret)`)
    return confirmed
  })
}
