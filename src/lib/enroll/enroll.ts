// `fleet enroll`: start a fleet, or join this machine to one. Each step is idempotent, so running enroll again
// after an interruption (or on a machine already enrolled) completes or repairs what is there.
import {randomUUID} from 'node:crypto'
import {existsSync, readdirSync} from 'node:fs'
import {chmod, mkdir, readFile, rename, rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {ContributedAgent} from '../agents/spec.ts'
import {type ApplyResult, applyWithBackup} from '../sync/apply.ts'
import {checkChezmoi, type Chezmoi} from '../chezmoi/chezmoi.ts'
import {configuredMachine, foreignConfigFiles, writeChezmoiConfig} from '../chezmoi/config.ts'
import {FleetError, UsageError} from '../errors/index.ts'
import {chezmoiFor, openLocalFleet} from '../fleet/local.ts'
import {pushToForge} from '../sync/push.ts'
import {checkSourceForPush} from '../sync/source-check.ts'
import {syncBeforeChange} from '../sync/engine.ts'
import {checkEnrollable, ensureMachine} from '../fleet/roster.ts'
import {layAuthorizedKeys} from '../fleet/authorized-keys.ts'
import {activeMachines, findMachine, isEncryptedPath} from '../manifest/lookup.ts'
import {SECRETS_PATH, template} from '../fleet/templates.ts'
import {redactUrl} from '../errors/redact.ts'
import {ensureEmbeddedForge, isEmbeddedForge, normalizeForge, probeForge, sameForge} from '../forge/forge.ts'
import {clone, GitRepo, upstreamRef} from '../git/git.ts'
import {type AgeIdentity, ensureIdentity, KEY_TYPE_LABELS, readIdentity} from '../keys/identity.ts'
import {writeRecipientsFile} from '../keys/recipients.ts'
import {recordWhatChezmoiEncrypted} from '../keys/record.ts'
import {processAlive} from '../lock/lock.ts'
import {describeCommit, lastManifestCommit} from '../manifest/history.ts'
import {MANIFEST_RELATIVE_PATH, ManifestError, parseManifest, readManifest, writeManifest} from '../manifest/store.ts'
import {DEFAULT_BRANCH, DEFAULT_KEY_TYPE, type Fleet, type KeyType, MANIFEST_VERSION, type MachineState, settingsSchema} from '../manifest/schema.ts'
import {fileNameStamp, type FleetPaths, fleetPaths} from '../platform/paths.ts'
import {pathList, SHOWN, someOf} from '../platform/text.ts'
import {run} from '../process/run.ts'

export interface EnrollOptions {
  /** The forge; undefined: the one this machine already uses, else the embedded default. */
  forge?: string
  name: string
  /** Key type for a new fleet; a fleet being joined decides its own. */
  keyType?: KeyType
  agents: boolean
  /** Take over an existing chezmoi setup that is not this fleet's (never deleting it). */
  adopt: boolean
  /** This machine's SSH public key line for the roster (read from `--ssh-key FILE`); undefined: keep what is there. */
  sshPublicKey?: string
  /** How this machine's peers reach it over SSH, `[user@]host[:port]` (from `--ssh-address`); undefined: keep what is there. */
  sshAddress?: string
  /** This machine's agents, the core's and the plugins' (given by the command: it needs oclif's plugins). */
  contributedAgents?: () => Promise<ContributedAgent[]>
  env?: NodeJS.ProcessEnv
}

export type EnrollMode = 'start' | 'join' | 'resume'

/** What is in chezmoi's source directory before enroll touches it. */
export type SourceState = {kind: 'absent'} | {kind: 'fleet'; origin?: string} | {kind: 'foreign'; isGit: boolean}

export interface EnrollResult {
  machine: string
  state: MachineState
  mode: EnrollMode
  forge: string
  embeddedForge: boolean
  sourceDir: string
  identityFile: string
  keyType: KeyType
  keyCreated: boolean
  /** This machine's SSH public key as the roster has it, if any. */
  sshPublicKey?: string
  /** This machine's SSH address as the roster has it, if any. */
  sshAddress?: string
  rosterChanged: boolean
  pushed: number
  backedUp: string[]
  backupDir?: string
  agents: {requested: boolean; installed: string[]; message: string}
  notes: string[]
  next: string[]
}

/** Look at chezmoi's source directory without changing it. */
export async function inspectSource(paths: FleetPaths): Promise<SourceState> {
  if (!existsSync(paths.sourceDir)) return {kind: 'absent'}
  const entries = readdirSync(paths.sourceDir)
  const repo = new GitRepo(paths.sourceDir)
  if (entries.length === 0) return {kind: 'absent'}
  // A repository with no commits and no files (an enroll interrupted right after `git init`) holds nothing.
  if (entries.length === 1 && entries[0] === '.git' && !(await repo.hasCommits())) return {kind: 'absent'}
  if (existsSync(join(paths.sourceDir, MANIFEST_RELATIVE_PATH)) && repo.isRepo()) return {kind: 'fleet', origin: await repo.remoteUrl()}
  return {kind: 'foreign', isGit: repo.isRepo()}
}

/** Everything enroll learns and decides on its way; the steps fill it in order. */
export class EnrollContext {
  readonly options: EnrollOptions
  readonly env: NodeJS.ProcessEnv
  readonly paths: FleetPaths
  readonly chezmoi: Chezmoi
  readonly notes: string[] = []
  mode!: EnrollMode
  forge!: string
  source!: SourceState
  forgeBranches: string[] = []
  identity?: AgeIdentity
  keyCreated = false
  fleet?: Fleet
  state?: MachineState
  rosterChanged = false
  pushed = 0
  applied?: ApplyResult
  agents: EnrollResult['agents']

  constructor(options: EnrollOptions) {
    this.options = options
    this.env = options.env ?? process.env
    this.paths = fleetPaths(this.env)
    this.chezmoi = chezmoiFor(this.paths, this.env)
    this.agents = {requested: options.agents, installed: [], message: ''}
  }

  get repo(): GitRepo {
    return new GitRepo(this.paths.sourceDir)
  }

  get branch(): string {
    return this.fleet?.settings.branch ?? DEFAULT_BRANCH
  }
}

export interface EnrollStep {
  title: string
  /** Runs the step; the returned line says what it did. */
  run(ctx: EnrollContext): Promise<string>
}

const ADOPT_FIX =
  'Run again with --adopt to take it over (fleet keeps every file: a source repo it cannot use is moved aside, never deleted), or move it away yourself.'

/**
 * A machine enrolled as `configured` may enroll under another name only when it can no longer be that machine: the
 * roster revoked that name (a revoked name is never taken again), or the key that name was enrolled with is gone
 * from this machine (moved aside, lost).
 */
async function mayJoinUnderNewName(paths: FleetPaths, configured: string): Promise<boolean> {
  const fleet = existsSync(join(paths.sourceDir, MANIFEST_RELATIVE_PATH)) ? await readManifest(paths.sourceDir).catch(() => undefined) : undefined
  const entry = fleet && findMachine(fleet, configured)
  if (!entry || entry.state === 'revoked') return true
  const identity = await readIdentity(paths.identityFile).catch(() => undefined)
  return identity?.recipient !== entry.recipient
}

async function preflight(ctx: EnrollContext): Promise<string> {
  const {paths, options} = ctx
  const gitVersion = (await run('git', ['--version'], {timeout: 15_000})).stdout.trim().replace(/^git version /, '')
  const chezmoiVersion = await checkChezmoi(ctx.chezmoi.binary)
  const age = await run('age', ['--version'], {timeout: 15_000, allowFailure: true}).catch(() => undefined)
  if (!age || age.exitCode !== 0)
    ctx.notes.push('The age command is not installed: fleet and chezmoi encrypt in-process, but you will want `age` to read an encrypted file by hand.')

  ctx.source = await inspectSource(paths)
  const configured = await configuredMachine(paths)
  if (configured !== undefined && configured !== options.name && !(await mayJoinUnderNewName(paths, configured))) {
    throw new UsageError(
      `This machine is already enrolled as "${configured}"; enroll does not rename a machine.`,
      `Run \`fleet enroll --name ${configured}\` (or without --name) to check and repair the enrollment.`,
      'ALREADY_ENROLLED',
    )
  }

  const origin = ctx.source.kind === 'fleet' ? ctx.source.origin : undefined
  ctx.forge = options.forge ? normalizeForge(options.forge) : (origin ?? paths.defaultForge)
  if (ctx.source.kind === 'fleet' && origin !== undefined && !sameForge(origin, ctx.forge)) {
    throw new UsageError(
      `This machine already belongs to the fleet at ${redactUrl(origin)}, not ${redactUrl(ctx.forge)}.`,
      `Run \`fleet enroll\` without --forge to repair this machine's enrollment. To move it to another fleet, move ${paths.sourceDir} aside first.`,
      'OTHER_FLEET',
    )
  }
  if (ctx.source.kind === 'foreign' && !options.adopt) {
    throw new UsageError(`${paths.sourceDir} already holds a chezmoi source directory that is not this fleet's.`, ADOPT_FIX, 'FOREIGN_SOURCE')
  }
  const foreignConfigs = foreignConfigFiles(paths)
  if (foreignConfigs.length > 0 && !options.adopt) {
    throw new UsageError(`chezmoi is already configured here (${foreignConfigs.join(', ')}), not by fleet.`, ADOPT_FIX, 'FOREIGN_CONFIG')
  }

  if (isEmbeddedForge(paths, ctx.forge) && (await ensureEmbeddedForge(paths, ctx.branch))) {
    ctx.notes.push(`Created the fleet's forge: a bare git repository at ${paths.defaultForge}.`)
  }
  const probe = await probeForge(ctx.forge)
  ctx.forgeBranches = probe.branches
  ctx.mode = ctx.source.kind === 'fleet' ? 'resume' : probe.empty ? 'start' : 'join'
  if (ctx.mode === 'join' && options.keyType === undefined && existsSync(paths.identityFile)) {
    // Reusing a key: read it now so that a name held by another key is refused before anything changes.
    ctx.identity = await readIdentity(paths.identityFile)
  }
  const what = {start: 'start a new fleet', join: 'join the fleet', resume: 'check and repair this enrollment'}[ctx.mode]
  return `git ${gitVersion}, chezmoi ${chezmoiVersion}${age?.exitCode === 0 ? `, age ${age.stdout.trim()}` : ''}; forge reachable: will ${what}`
}

/** Move an existing path aside with a timestamp; never delete it. */
async function moveAside(path: string): Promise<string> {
  const aside = `${path}.before-fleet-${fileNameStamp()}`
  await rename(path, aside)
  return aside
}

async function sourceRepo(ctx: EnrollContext): Promise<string> {
  const {paths} = ctx
  if (ctx.mode === 'resume') {
    ctx.fleet = await readManifest(paths.sourceDir)
    return `${paths.sourceDir} is this fleet's (fleet ${ctx.fleet.id.slice(0, 8)})`
  }
  for (const file of foreignConfigFiles(paths)) {
    const aside = await moveAside(file)
    ctx.notes.push(`Your chezmoi config ${file} was moved to ${aside}; fleet wrote ${paths.chezmoiConfigFile}. Copy over any setting you still want.`)
  }
  if (ctx.mode === 'join') {
    if (ctx.source.kind === 'foreign') {
      const aside = await moveAside(paths.sourceDir)
      ctx.notes.push(`Your previous chezmoi source directory was moved to ${aside} (nothing was deleted; the files it applied are where they were).`)
    }
    // Clone beside the final place and move it in only once it has proved to be a fleet this machine can join.
    const staging = `${paths.sourceDir}.enrolling-${process.pid}`
    await removeAbandonedStaging(paths.sourceDir)
    // inspectSource found nothing there worth keeping (absent, empty, or a repository with no commits).
    if (ctx.source.kind === 'absent') await rm(paths.sourceDir, {recursive: true, force: true})
    await mkdir(join(paths.sourceDir, '..'), {recursive: true})
    await clone(ctx.forge, staging, fleetBranchOf(ctx))
    try {
      const text = await readFile(join(staging, MANIFEST_RELATIVE_PATH), 'utf8').catch(() => undefined)
      if (text === undefined) {
        throw new UsageError(
          `The forge ${redactUrl(ctx.forge)} holds a git repository that is not a fleet (no ${MANIFEST_RELATIVE_PATH}).`,
          'Give --forge the address of a fleet, or an empty repository to start a new fleet there.',
          'NOT_A_FLEET',
        )
      }
      const fleet = await joinableManifest(ctx, staging, text)
      checkKeyType(ctx, fleet)
      checkEnrollable(fleet, ctx.options.name, ctx.identity?.recipient, paths.identityFile)
      await rename(staging, paths.sourceDir)
      ctx.fleet = fleet
    } finally {
      await rm(staging, {recursive: true, force: true})
    }
    const active = activeMachines(ctx.fleet).map((m) => m.name)
    return `cloned the fleet (${ctx.fleet.machines.length} machine${ctx.fleet.machines.length === 1 ? '' : 's'}; active: ${active.join(', ') || 'none'})`
  }
  // start
  const repo = ctx.repo
  if (ctx.source.kind === 'foreign') {
    if (!repo.isRepo()) await repo.init(ctx.branch)
    const origin = await repo.remoteUrl()
    if (origin !== undefined && !sameForge(origin, ctx.forge)) {
      await repo.renameRemote('origin', 'before-fleet')
      ctx.notes.push(`The adopted source repo's remote "origin" (${origin}) is now called "before-fleet".`)
    }
    const branch = await repo.currentBranch()
    if (branch !== undefined && branch !== ctx.branch) await repo.git(['branch', '--move', branch, ctx.branch])
  } else {
    await mkdir(paths.sourceDir, {recursive: true})
    await repo.init(ctx.branch)
  }
  await repo.setRemote(ctx.forge)
  return ctx.source.kind === 'foreign' ? `adopted ${paths.sourceDir} as the new fleet's source repo` : `created the source repo at ${paths.sourceDir}`
}

/**
 * The forge's branch that holds the fleet: \`main\` (fleet's default), else the forge's only branch. Never the forge's
 * HEAD, which a plain \`git init --bare\` points at a branch that does not exist.
 */
/**
 * The forge's manifest, read before this machine joins. One no machine can read is named with the commit that
 * brought it, and the fix is taken where it works: a machine already in the fleet undoes that commit on the forge.
 */
async function joinableManifest(ctx: EnrollContext, staging: string, text: string): Promise<Fleet> {
  try {
    return parseManifest(text, `${redactUrl(ctx.forge)}: ${MANIFEST_RELATIVE_PATH}`)
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error
    const commit = await lastManifestCommit(new GitRepo(staging), 'HEAD')
    throw new ManifestError(
      `${error.message}\nIt came with ${describeCommit(commit)}; this machine cannot join the fleet until the forge's manifest reads again.`,
      `On a machine already in the fleet, run \`fleet sync\`: it names that commit and prints the command that undoes it on the forge (or correct the file where that commit was made, commit and push it). Then run this \`fleet enroll\` again.`,
    )
  }
}

function fleetBranchOf(ctx: EnrollContext): string {
  const branches = ctx.forgeBranches
  if (branches.includes(DEFAULT_BRANCH)) return DEFAULT_BRANCH
  if (branches.length === 1) return branches[0]
  throw new UsageError(
    `The forge ${redactUrl(ctx.forge)} has several branches (${branches.join(', ')}) and none is called ${DEFAULT_BRANCH}: fleet cannot tell which one holds the fleet.`,
    `Give --forge the address of a repository whose fleet is on ${DEFAULT_BRANCH}, or of an empty repository to start a new fleet there.`,
    'NOT_A_FLEET',
  )
}

/** Staging clones left by an enroll that was killed (its pid is gone) hold nothing but a copy of the forge. */
async function removeAbandonedStaging(sourceDir: string): Promise<void> {
  const parent = dirname(sourceDir)
  const prefix = `${basename(sourceDir)}.enrolling-`
  for (const entry of existsSync(parent) ? readdirSync(parent) : []) {
    if (!entry.startsWith(prefix)) continue
    const pid = Number(entry.slice(prefix.length))
    if (pid === process.pid || !processAlive(pid)) await rm(join(parent, entry), {recursive: true, force: true})
  }
}

function checkKeyType(ctx: EnrollContext, fleet: Fleet): void {
  const wanted = fleet.settings.keyType
  if (ctx.options.keyType !== undefined && ctx.options.keyType !== wanted) {
    throw new UsageError(
      `This fleet uses ${KEY_TYPE_LABELS[wanted]} keys; --key-type ${ctx.options.keyType} cannot join it (age cannot encrypt one file to both kinds).`,
      `Run again with --key-type ${wanted}, or without --key-type.`,
      'KEY_TYPE_MISMATCH',
    )
  }
}

async function key(ctx: EnrollContext): Promise<string> {
  const keyType = ctx.fleet?.settings.keyType ?? ctx.options.keyType ?? DEFAULT_KEY_TYPE
  const {identity, created, modeFixed} = await ensureIdentity(ctx.paths.identityFile, keyType)
  if (identity.keyType !== keyType) {
    throw new FleetError(
      `This machine's age identity ${identity.file} is ${KEY_TYPE_LABELS[identity.keyType]}, but the fleet uses ${KEY_TYPE_LABELS[keyType]} keys.`,
      {
        code: 'KEY_TYPE_MISMATCH',
        fix: `Move ${identity.file} aside (keep it if other data is encrypted to it) and run \`fleet enroll\` again to create a ${keyType} key.`,
      },
    )
  }
  if (modeFixed) ctx.notes.push(`${identity.file} was readable by others; its mode is now 0600.`)
  ctx.identity = identity
  ctx.keyCreated = created
  return `${created ? 'created' : 'reusing'} ${KEY_TYPE_LABELS[identity.keyType]} key ${identity.file}`
}

/** chezmoi's config for this machine, and the recipients file it encrypts to. */
async function chezmoiConfig(ctx: EnrollContext): Promise<string> {
  await writeChezmoiConfig(ctx.paths, ctx.options.name)
  return `wrote ${ctx.paths.chezmoiConfigFile} (age encryption with this machine's key)`
}

function newFleet(keyType: KeyType, name: string, now: string): Fleet {
  return {
    version: MANIFEST_VERSION,
    id: randomUUID(),
    createdAt: now,
    settings: settingsSchema.parse({keyType}),
    paths: [{path: SECRETS_PATH, encrypt: true, addedAt: now, addedBy: name}],
    machines: [],
    plugins: [],
  }
}

/** Put this machine on the roster (re-derived from the manifest as it is now, so it can run again after a rebase). */
async function applyRosterEntry(ctx: EnrollContext): Promise<boolean> {
  const {paths, options} = ctx
  const identity = ctx.identity!
  const fleet = existsSync(join(paths.sourceDir, MANIFEST_RELATIVE_PATH))
    ? await readManifest(paths.sourceDir)
    : newFleet(identity.keyType, options.name, new Date().toISOString())
  const {machine, added, changed} = ensureMachine(fleet, options.name, identity.recipient, identity.file, {
    sshPublicKey: options.sshPublicKey,
    sshAddress: options.sshAddress,
  })
  if (changed) await writeManifest(paths.sourceDir, fleet)
  ctx.fleet = fleet
  ctx.state = machine.state
  await writeRecipientsFile(paths.recipientsFile, fleet)
  await layTemplates(ctx)
  await ctx.repo.ensureIdentity(options.name)
  const message = added
    ? `fleet: enroll ${options.name} (${machine.state})`
    : changed
      ? `fleet: ${options.name}: record its SSH ${[options.sshPublicKey && 'public key', options.sshAddress && 'address'].filter(Boolean).join(' and ')}`
      : `fleet: set up ${options.name}`
  const committed = await ctx.repo.commitAll(message)
  return changed || committed
}

/**
 * The files every fleet has: .chezmoiignore (holding encrypted paths back from pending machines), the modify template
 * that keeps the fleet's SSH keys in ~/.ssh/authorized_keys (laid in a fleet that lacks it at the next enroll of any of
 * its machines) and, once an active machine is there to encrypt it, the secrets file. Each is laid only where it is
 * missing.
 */
async function layTemplates(ctx: EnrollContext): Promise<void> {
  const {paths} = ctx
  const ignore = join(paths.sourceDir, '.chezmoiignore')
  const rules = await template('chezmoiignore')
  if (!existsSync(ignore)) await writeFile(ignore, rules)
  else if (!(await readFile(ignore, 'utf8')).includes('.fleetMachine')) await writeFile(ignore, `${await readFile(ignore, 'utf8')}\n${rules}`)
  const skipped = await layAuthorizedKeys(ctx.chezmoi, paths.sourceDir, paths.home, ctx.fleet!)
  // Laid again when another machine's push came first: said once.
  if (skipped !== undefined && !ctx.notes.includes(skipped)) ctx.notes.push(skipped)
  if (ctx.state !== 'active' || !ctx.fleet!.paths.some((p) => p.path === SECRETS_PATH && p.encrypt)) return
  const secrets = join(paths.home, SECRETS_PATH)
  const managed = await ctx.chezmoi.managed()
  if (managed.includes(SECRETS_PATH)) return
  if (!existsSync(secrets)) {
    // Only fleet's own directory is private; its parents keep the usual mode.
    await mkdir(join(secrets, '..', '..'), {recursive: true})
    await mkdir(join(secrets, '..'), {recursive: true, mode: 0o700})
    await writeFile(secrets, await template('secrets.env'), {mode: 0o600, flag: 'wx'})
  }
  await chmod(secrets, 0o600)
  await ctx.chezmoi.add([secrets], {encrypt: true})
  // chezmoi encrypted it for the recipients file: on record, so that a check of every file's recipients knows it.
  await recordWhatChezmoiEncrypted(ctx.repo, paths.sourceDir, paths.recipientsFile)
}

async function roster(ctx: EnrollContext): Promise<string> {
  if (ctx.mode === 'resume') {
    // An enrolled machine: its edits are captured and pushed, and the forge's changes (an approval) come in.
    const synced = await syncBeforeChange(await openLocalFleet(ctx.env), 'enroll')
    if (synced.conflicts.length > 0) ctx.notes.push(`Files in conflict (see \`fleet status\`): ${pathList(synced.conflicts.map((c) => c.path))}`)
  }
  ctx.rosterChanged = await applyRosterEntry(ctx)
  const others = ctx.fleet!.machines.filter((m) => m.name !== ctx.options.name).length
  return `${ctx.options.name} is ${ctx.state} (${ctx.rosterChanged ? 'added to' : 'already on'} the roster; ${others} other machine${others === 1 ? '' : 's'})`
}

async function publish(ctx: EnrollContext): Promise<string> {
  const result = await pushToForge(ctx.repo, ctx.branch, {
    strategy: {
      kind: 're-derive',
      derive: async () => {
        await applyRosterEntry(ctx)
      },
    },
    check: () => checkSourceForPush({repo: ctx.repo, chezmoi: ctx.chezmoi, machine: ctx.options.name, upstream: upstreamRef(ctx.branch)}),
  })
  ctx.pushed = result.pushed
  if (result.parkedBranch) ctx.notes.push(`Local commits that conflicted with the forge are kept on branch ${result.parkedBranch} in ${ctx.paths.sourceDir}.`)
  return result.pushed > 0 ? `pushed ${result.pushed} commit${result.pushed === 1 ? '' : 's'} to ${redactUrl(ctx.forge)}` : 'the forge already has everything'
}

async function apply(ctx: EnrollContext): Promise<string> {
  const fleet = ctx.fleet!
  const encrypted = fleet.paths.filter((p) => p.encrypt).map((p) => p.path)
  ctx.applied = await applyWithBackup(ctx.chezmoi, {
    home: ctx.paths.home,
    backupsDir: ctx.paths.backupsDir,
    recipient: async () => ctx.identity!.recipient,
    isEncrypted: (path) => isEncryptedPath(fleet, path),
  })
  const failed = ctx.applied.failed.map((f) => `~/${f.path}: ${f.reason}`)
  if (failed.length > 0) ctx.notes.push(`Not applied (chezmoi could not; \`fleet sync\` says more): ${someOf(failed, SHOWN, '; ')}`)
  else if (ctx.applied.incomplete) ctx.notes.push(`Some files were not applied: ${ctx.applied.incomplete}`)
  const waiting = ctx.state === 'active' ? '' : `; ${encrypted.length} encrypted path${encrypted.length === 1 ? '' : 's'} wait for approval`
  const backups = ctx.applied.backedUp.length > 0 ? `; ${ctx.applied.backedUp.length} existing file(s) backed up to ${ctx.applied.backupDir}` : ''
  return `applied the fleet's files${waiting}${backups}`
}

async function agents(ctx: EnrollContext): Promise<string> {
  if (!ctx.options.agents) {
    ctx.agents.message = 'not installed (as asked)'
    return ctx.agents.message
  }
  if (!ctx.options.contributedAgents) {
    ctx.agents.message = 'not installed; run `fleet agents install`'
    return ctx.agents.message
  }
  // Where a service manager exists; otherwise the message says how to run them.
  const {installMachineAgents} = await import('../agents/machine-agents.ts')
  const {installed, message} = await installMachineAgents(ctx.paths, ctx.options.contributedAgents)
  ctx.agents.installed = installed
  ctx.agents.message = message
  return message
}

export const ENROLL_STEPS: EnrollStep[] = [
  {title: 'Preflight: git, chezmoi, age, and the forge', run: preflight},
  {title: 'Source repo', run: sourceRepo},
  {title: 'Key', run: key},
  {title: "chezmoi's config for this machine", run: chezmoiConfig},
  {title: 'Roster', run: roster},
  {title: 'Commit and push', run: publish},
  {title: 'Apply', run: apply},
  {title: 'Agents', run: agents},
]

export function enrollResult(ctx: EnrollContext): EnrollResult {
  const embedded = isEmbeddedForge(ctx.paths, ctx.forge)
  const name = ctx.options.name
  const next: string[] = []
  if (ctx.state === 'pending') {
    next.push(`On a machine that is already active, run: fleet machines approve ${name}`)
    next.push('Then run `fleet enroll` here again: the encrypted files (secrets) are applied once this machine is approved.')
  } else {
    next.push(`Edit your secrets in ~/${SECRETS_PATH} (encrypted before it leaves this machine).`)
    next.push(
      embedded
        ? `To add another machine, make this forge reachable from it (for example over SSH: fleet enroll --forge ssh://<user>@<this-host>${redactUrl(ctx.forge)}), or move the fleet to a hosted forge: git -C ${ctx.paths.sourceDir} remote set-url origin <url> && git -C ${ctx.paths.sourceDir} push origin main`
        : `To add another machine, run on it: fleet enroll --forge ${redactUrl(ctx.forge)}`,
    )
  }
  next.push('See the roster: fleet machines list')
  return {
    machine: name,
    state: ctx.state!,
    mode: ctx.mode,
    forge: redactUrl(ctx.forge),
    embeddedForge: embedded,
    sourceDir: ctx.paths.sourceDir,
    identityFile: ctx.paths.identityFile,
    keyType: ctx.identity!.keyType,
    keyCreated: ctx.keyCreated,
    sshPublicKey: findMachine(ctx.fleet!, name)?.sshPublicKey,
    sshAddress: findMachine(ctx.fleet!, name)?.sshAddress,
    rosterChanged: ctx.rosterChanged,
    pushed: ctx.pushed,
    backedUp: ctx.applied?.backedUp ?? [],
    backupDir: ctx.applied?.backupDir,
    agents: ctx.agents,
    notes: ctx.notes,
    next,
  }
}
