// One sync: the convergent operation every trigger runs (the watcher, the puller, a person, add-path). Its steps, in
// the order they run (runSync; each a method of SyncRun):
// 1. lock (sync): one sync at a time per machine; a trigger that finds it held leaves a mark, and the holder runs again.
// 2. recover: undo what a killed or failed fleet step left in the source repo; stop on a person's own rebase or merge.
// 3. quick path: nothing changed here and the forge is where the last sync left it: stop after one look at the forge.
// 4. capture and commit: first what a person changed in the source repo, as it is; then the targets' edits, new files
//    and deletions, merged with a source that moved. Capture comes before any exchange so that an edit is committed
//    (and can be merged) before anything from the forge touches the source.
// 5. exchange with the forge (pushToForge with the integrate strategy; approve, revoke and enroll push the same way,
//    re-deriving their change instead): push first, and only when the forge rejects the push (it moved) integrate its
//    commits and push again — a push the forge accepts proves it had nothing new, so the common case costs no fetch;
//    with nothing to push, integrate what the forge has. An unreachable forge is kept: the sync goes on with what it
//    has, and ends with exit 3 after the record.
// 6. reload what derives from the manifest (the recipients file, the agents): before the apply, so that an apply that
//    throws still leaves them matching the manifest received.
// 7. apply, checked: only what chezmoi really wrote counts as applied, a target it did not write waits for the next
//    sync, and an edit made during the sync is never written over (chezmoi's --error-on-conflict) — so the record
//    below never calls a machine settled that is not.
// 8. record where everything stands (the quick path's baseline), then throw what failed, if anything did.
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {applyWithBackup, type ApplyResult} from './apply.ts'
import {applyFailedError} from './apply-failures.ts'
import {requireChezmoi} from '../chezmoi/chezmoi.ts'
import {errorMessage, ExitCode, type ExitCodeValue, explainSystemError, FleetError, ForgeUnreachableError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {forgeBranchHead} from '../forge/forge.ts'
import {decryptWith, encryptTo, isEncryptedSourceFile, reencryptSource} from '../keys/crypto.ts'
import {readIdentity, refuseExposedIdentity} from '../keys/identity.ts'
import {machineKeys, reencryptionKeys} from '../keys/key-files.ts'
import {filesNotFor, recordEncryptions, recordWhatChezmoiEncrypted} from '../keys/record.ts'
import {finishKeyRotation} from '../keys/rotation-state.ts'
import {writeRecipientsFile} from '../keys/recipients.ts'
import {lockDirFor, stuckLockError} from '../lock/fleet-lock.ts'
import {isStuck, type LockOwner, readOwner, tryLock} from '../lock/lock.ts'
import {linkedDirectories} from '../chezmoi/linked.ts'
import {decodeSourcePath, parseSourceFileName, privateEncryptedName} from '../chezmoi/source-names.ts'
import {activeRecipients, findMachine, isActive, isEncryptedPath} from '../manifest/lookup.ts'
import {isInside, isWithin, relativeWithin} from '../platform/paths.ts'
import type {Fleet} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {capture, type CaptureConflict, type CaptureResult, captured} from './capture.ts'
import {dropContradictedRemovals} from '../chezmoi/removals.ts'
import {integrate, type IntegrateResult} from './integrate.ts'
import {ProcessError} from '../process/run.ts'
import {recordedStep, recoverRepo} from './recover.ts'
import type {HeldBack} from './secret-check.ts'
import {sha256, type SourceContents} from './moved-source.ts'
import {type Alongside, pushToForge} from './push.ts'
import {heartbeatAlongside, publishHeartbeatIfDue} from './heartbeat.ts'
import {afterPublishing} from '../heartbeat/heartbeat.ts'
import {checkSourceForPush, repairSharedTargets, type SourceCheckContext} from './source-check.ts'
import {mergeText} from './merge-text.ts'
import {AUTHORIZED_KEYS_PATH, layAuthorizedKeysIfMissing} from '../fleet/authorized-keys.ts'
import {SECRETS_PATH} from '../fleet/templates.ts'
import {mergeSecretsBytes} from '../secrets/merge.ts'
import {readManifestForSync} from './manifest-recovery.ts'
import {refreshEntries, sameSnapshot, type Snapshot, snapshotChanges, type SnapshotChanges, takeSnapshot} from './snapshot.ts'
import {appendSyncLog, type ConflictRecord, readSyncState, statePaths, type SyncRecord, type SyncState, writeSyncState} from './state.ts'
import type {ManagedEntry} from '../chezmoi/entry-types.ts'
import {upstreamRef} from '../git/git.ts'

export interface SyncOptions {
  /** What started this sync: 'manual', 'watcher', 'timer', 'add-path', … (recorded in the log). */
  reason: string
  /** Skip the quick path and look at everything. */
  full?: boolean
}

export interface SyncResult extends SyncRecord {
  machine: string
  /** Unresolved conflicts after this sync (this one's and earlier ones'). */
  conflicts: ConflictRecord[]
  templates: string[]
  /** Targets that look like they hold a secret: not captured, shown until the person acts. */
  heldBack: HeldBack[]
  skipped: Array<{path: string; reason: string}>
  warnings: string[]
  /** Targets edited here while their source moved too, merged (three-way) before they were captured. */
  merged: string[]
  /** Targets edited here after capture started: left for the next sync. */
  leftAlone: string[]
  /** Targets the apply did not write (chezmoi refused or failed): they wait for the next sync, which merges them. */
  waiting: string[]
  backedUp: string[]
  backupDir?: string
  notes: string[]
  /** Extra rounds run because another trigger arrived while this sync held the lock. */
  rounds: number
  /** With outcome 'error': the error's code, its fix and the exit code it calls for. */
  failure?: {code: string; fix?: string; exitCode: number}
  /** With outcome 'deferred' (or a stuck lock): who holds the lock. */
  holder?: LockOwner
}

/** How many times the lock holder runs again for triggers that arrived meanwhile, at most. */
const MAX_ROUNDS = 4

function emptyResult(machine: string, reason: string, outcome: SyncResult['outcome']): SyncResult {
  return {
    machine,
    at: new Date().toISOString(),
    reason,
    outcome,
    durationMs: 0,
    captured: [],
    received: 0,
    pushed: 0,
    applied: [],
    conflicts: [],
    templates: [],
    heldBack: [],
    skipped: [],
    warnings: [],
    merged: [],
    leftAlone: [],
    waiting: [],
    backedUp: [],
    notes: [],
    rounds: 0,
  }
}

/**
 * Run a sync. If another sync holds the lock, leave a "run again" mark for it and return at once (outcome
 * 'deferred'): the holder runs once more before it lets go, and looks for a mark once more after letting go, so
 * no trigger is lost. A holder that has held the lock past the bound is stuck: that is an error, naming it.
 */
export async function sync(local: LocalFleet, options: SyncOptions): Promise<SyncResult> {
  // An old chezmoi fails on flags fleet passes; say so, with the binary and the fix, before touching anything.
  await requireChezmoi(local.chezmoi.binary, local.paths.chezmoiCheckedFile)
  const marks = statePaths(local.paths)
  await mkdir(local.paths.stateDir, {recursive: true, mode: 0o700})
  let result: SyncResult | undefined
  for (let round = 0; round < MAX_ROUNDS;) {
    const lockDir = lockDirFor(local.paths)
    const lock = tryLock(lockDir, `sync (${options.reason})`)
    if (!lock) {
      if (result) return result // a newer holder took over the marks
      await writeFile(marks.again, new Date().toISOString())
      const holder = readOwner(lockDir)
      if (holder && isStuck(lockDir, holder)) {
        const stuck = {...emptyResult(local.machine, options.reason, 'error'), holder}
        recordFailure(stuck, stuckLockError(holder))
        return stuck
      }
      return {...emptyResult(local.machine, options.reason, 'deferred'), holder}
    }
    try {
      do {
        await rm(marks.again, {force: true})
        const next = await syncLocked(local, round === 0 ? options : {...options, reason: `${options.reason} (again)`})
        result = result ? combineRounds(result, next) : next
        result.rounds = round++
      } while (existsSync(marks.again) && result.outcome !== 'error' && round < MAX_ROUNDS)
    } finally {
      lock.release()
    }
    // A mark left between the last look and the release would wait for the next trigger: look once more.
    if (!existsSync(marks.again) || result.outcome === 'error') break
  }
  return result!
}

/** What several rounds of one sync did, together: the last round's outcome and state, every round's work. */
function combineRounds(earlier: SyncResult, later: SyncResult): SyncResult {
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])]
  return {
    ...later,
    at: earlier.at,
    durationMs: earlier.durationMs + later.durationMs,
    captured: union(earlier.captured, later.captured),
    merged: union(earlier.merged, later.merged),
    applied: union(earlier.applied, later.applied),
    backedUp: union(earlier.backedUp, later.backedUp),
    received: earlier.received + later.received,
    pushed: earlier.pushed + later.pushed,
    notes: union(earlier.notes, later.notes),
    warnings: union(earlier.warnings, later.warnings),
    backupDir: later.backupDir ?? earlier.backupDir,
  }
}

/**
 * A sync a roster change stands on (approve, revoke, enroll again): run while holding the lock, so that every
 * local edit is captured and pushed first. A forge that does not answer or a failed sync stops the change.
 */
export async function syncBeforeChange(local: LocalFleet, reason: string): Promise<SyncResult> {
  await requireChezmoi(local.chezmoi.binary, local.paths.chezmoiCheckedFile)
  const result = await syncLocked(local, {reason, full: true})
  if (result.outcome === 'offline' || result.outcome === 'error') {
    throw new FleetError(`${reason}: the sync before it did not finish: ${result.error}`, {
      exitCode: result.outcome === 'offline' ? ExitCode.forgeUnreachable : ((result.failure?.exitCode as ExitCodeValue | undefined) ?? ExitCode.error),
      code: result.outcome === 'offline' ? 'FORGE_UNREACHABLE' : (result.failure?.code ?? 'SYNC_FAILED'),
      fix: result.failure?.fix ?? 'Check the forge (git ls-remote), then run the command again. Nothing was changed.',
    })
  }
  return result
}

/** One sync, for a caller that already holds the fleet lock: sync itself, and syncBeforeChange (approve, revoke, enroll). */
export async function syncLocked(local: LocalFleet, options: SyncOptions): Promise<SyncResult> {
  const started = Date.now()
  const result = emptyResult(local.machine, options.reason, 'ok')
  const state = await readSyncState(local.paths)
  // Written first, so that a sync that never records its end (killed; a full disk) is not taken for a good one.
  // A sync that never finished may have left anything half done: the next one looks at everything.
  if (state.running) state.settled = false
  state.running = {at: result.at, reason: options.reason, pid: process.pid}
  await writeSyncState(local.paths, state).catch(() => undefined)
  try {
    await runSync(local, options, state, result)
  } catch (error) {
    recordFailure(result, explainSystemError(error, local.paths.home))
  }
  result.durationMs = Date.now() - started
  result.conflicts = state.conflicts
  if (result.outcome === 'ok' && state.conflicts.length > 0) result.outcome = 'conflict'
  state.running = undefined
  state.lastSync = {
    at: result.at,
    reason: result.reason,
    outcome: result.outcome,
    durationMs: result.durationMs,
    captured: result.captured,
    received: result.received,
    pushed: result.pushed,
    applied: result.applied,
    waiting: result.waiting,
    error: result.error,
    fix: result.failure?.fix,
  }
  await publishHeartbeatIfDue(local, state, {...state.lastSync, code: result.failure?.code})
  try {
    await writeSyncState(local.paths, state)
    await appendSyncLog(local.paths, {machine: local.machine, ...state.lastSync})
  } catch (error) {
    // The sync's record could not be written: say so (status shows the sync as unfinished).
    recordFailure(result, explainSystemError(error, local.paths.home))
  }
  return result
}

function recordFailure(result: SyncResult, error: unknown): void {
  result.outcome = error instanceof ForgeUnreachableError ? 'offline' : 'error'
  result.error = errorMessage(error)
  if (error instanceof FleetError) result.failure = {code: error.code, fix: error.fix, exitCode: error.exitCode}
  else result.error += error instanceof Error && error.stack ? `\n${error.stack}` : ''
}

function isEncryptedTarget(fleet: Fleet) {
  return (path: string) => isEncryptedPath(fleet, path)
}

/** One sync's steps, in the order they run (see the header); a failure of the apply or an unreachable forge last. */
async function runSync(local: LocalFleet, options: SyncOptions, state: SyncState, result: SyncResult): Promise<void> {
  // A key others can read may have been copied: refused before anything is decrypted with it (chezmoi reads it too).
  await refuseExposedIdentity(local.paths.identityFile)
  const run = new SyncRun(local, options, state, result, await recover(local, result))
  run.warnIfRevoked()
  if (await run.quickPath()) return run.finishKeyRotation()
  await run.captureAndCommit()
  const offline = await run.exchange()
  await run.reload()
  const applied = await run.apply()
  await run.record(applied)
  // Thrown only now: what this sync did is recorded either way.
  if (applied.failure instanceof FleetError) throw applied.failure // a full disk: an error, not a warning
  if (applied.failed.length > 0) throw await applyFailedError(local, applied.failed)
  if (offline) throw offline
  await run.finishKeyRotation()
}

/**
 * Recover: undo what a killed or failed fleet step left in the source repo, and stop on a person's own rebase or
 * merge (see recoverRepo). Returns the manifest, read again when something was undone, and the fleet's branch.
 */
async function recover(local: LocalFleet, result: SyncResult): Promise<{fleet: Fleet; branch: string}> {
  // Never built on when it cannot be read: see readManifestForSync.
  const fleet = await readManifestForSync(local.repo, result.notes)
  const branch = fleet.settings.branch
  const recovered = await recoverRepo(local.repo, branch)
  if (recovered.length === 0) return {fleet, branch}
  result.notes.push(...recovered)
  return {fleet: await readManifest(local.paths.sourceDir), branch}
}

/** What the apply did, with the commit it applied and what its failure means (a full disk, say). */
interface AppliedSource extends ApplyResult {
  head: string | undefined
  failure: unknown
}

/** One run of the sync's steps after recovery (see the header): what they share, and a method for each. */
class SyncRun {
  readonly local: LocalFleet
  readonly options: SyncOptions
  readonly state: SyncState
  readonly result: SyncResult
  readonly branch: string
  readonly upstream: string
  /** The managed paths as this sync found them: what capture looks at, and what the record compares with. */
  readonly managedPaths: string[]
  /** Whether this machine was active as the sync began: only an active machine decrypts and merges encrypted files. */
  readonly active: boolean
  readonly contents: SourceContents
  readonly sourceCheck: SourceCheckContext
  /** The last sync ended well and left nothing behind: the quick path may be taken, and the apply may be skipped. */
  readonly wasSettled: boolean
  /** The manifest as the source has it now: read again whenever the forge's commits come in. */
  fleet: Fleet
  /** The disk as capture was about to see it: the quick path's next baseline (see record). */
  baseline: Snapshot = {}
  /**
   * What changed on disk since the last sync, when that sync left everything in step with the source it applied:
   * then capture and apply look at that (and at what the source changed) alone. Undefined: they look at everything.
   */
  changedHere: SnapshotChanges | undefined
  /** The source was, as capture began, the one the last sync applied, with every target as chezmoi wrote it. */
  sourceInStep = false
  /** The source's commit after capture, when capture made the source what is on disk (see captureAndCommit). */
  capturedInStep: string | undefined
  /**
   * The managed entries as chezmoi last read them from the source as it is (kept while only file contents change):
   * the check before a push and the apply need them, and each reading is a chezmoi start.
   */
  readEntries: Map<string, ManagedEntry> | undefined

  constructor(local: LocalFleet, options: SyncOptions, state: SyncState, result: SyncResult, recovered: {fleet: Fleet; branch: string}) {
    this.local = local
    this.options = options
    this.state = state
    this.result = result
    this.fleet = recovered.fleet
    this.branch = recovered.branch
    this.upstream = upstreamRef(recovered.branch)
    this.managedPaths = recovered.fleet.paths.map((p) => p.path)
    this.active = isActive(recovered.fleet, local.machine)
    this.contents = sourceContents(local, this.active)
    this.sourceCheck = {...local, upstream: this.upstream}
    const lastOk = state.lastSync?.outcome === 'ok' || state.lastSync?.outcome === 'quick'
    this.wasSettled = lastOk && state.settled === true && state.conflicts.length === 0
  }

  /** A revoked machine still syncs plain files, but the fleet's encrypted files are no longer for its key: say so, every time. */
  warnIfRevoked(): void {
    if (findMachine(this.fleet, this.local.machine)?.state !== 'revoked') return
    this.result.warnings.push(
      `This machine (${this.local.machine}) was revoked from the fleet: its key opens none of the encrypted files any more, and its SSH key has left the others' authorized_keys. To join again: move ${this.local.paths.identityFile} aside, run \`fleet enroll --name <new-name>\`, then \`fleet machines approve <new-name>\` on an active machine.`,
    )
  }

  /** Quick path: nothing changed on disk here, nothing waiting locally, and the forge is where we left it. */
  async quickPath(): Promise<boolean> {
    const {repo, paths} = this.local
    const {state} = this
    if (this.options.full || !this.wasSettled || !sameList(state.managedPaths, this.managedPaths)) return false
    // An older fleet gets the authorized_keys entry from the first full sync of an active machine that looks.
    if (this.active && !state.authorizedKeysChecked && this.fleet.machines.some((m) => m.sshPublicKey)) return false
    // The source repo clean too: an edit made there by hand (`chezmoi edit`) is committed by a full sync.
    if (!sameSnapshot(state.snapshot, takeSnapshot(paths.home, this.managedPaths)) || (await repo.status()).length > 0) return false
    const url = (await repo.remoteUrl()) ?? 'origin'
    const remote = await forgeBranchHead(url, this.branch)
    const head = await repo.revParse('HEAD')
    if (remote === undefined || remote !== state.lastRemoteHead || head !== remote || head !== state.appliedHead) return false
    this.result.outcome = 'quick'
    return true
  }

  /**
   * Capture and commit: first what a person did in the source repo, as it is; then the edits, new files and deletions
   * under the managed paths (merging with a source that moved), in one commit.
   */
  async captureAndCommit(): Promise<void> {
    const {local, result} = this
    const conflictPaths = new Set(this.state.conflicts.map((c) => c.path))
    const excluded = (path: string) => [...conflictPaths].some((c) => isWithin(path, c))
    this.baseline = takeSnapshot(local.paths.home, this.managedPaths)
    const {state} = this
    const inStep =
      !this.options.full &&
      this.wasSettled &&
      state.snapshot !== undefined &&
      state.appliedHead !== undefined &&
      sameList(state.managedPaths, this.managedPaths)
    // What a person did in the source repo (`chezmoi edit`, a file added or changed by hand) is theirs: committed as
    // it is, so that capture starts from a clean tree, adds only what came from targets, and can be undone alone.
    await commitSourceRepoChanges(local, this.contents, result)
    // A source that reached this machine with two entries for one target (pushed before such sources were checked):
    // repaired here the same way every machine repairs it.
    result.notes.push(...(await repairSharedTargets(this.sourceCheck)))
    // The source as the last sync applied it, too (no commit of the person's own since): then only what changed
    // on disk since needs looking at.
    this.sourceInStep = inStep && (await local.repo.revParse('HEAD')) === state.appliedHead
    this.changedHere = this.sourceInStep ? snapshotChanges(state.snapshot!, this.baseline) : undefined
    const caught = await this.captureTargets(excluded)
    const renamed = (await makeDecryptedFilesPrivate(local, result)) + (await this.layAuthorizedKeys())
    // Nothing but capture's own commit since the apply that left everything in step, and capture left nothing
    // behind: the source is what is on disk, so there is nothing to apply unless the forge brings something.
    const leftNothing = [caught.templates, caught.heldBack, caught.skipped, caught.conflicts, caught.retyped].every((list) => list.length === 0)
    this.capturedInStep = this.sourceInStep && renamed === 0 && leftNothing ? await local.repo.revParse('HEAD') : undefined
    const contentsOnly = renamed === 0 && [caught.added, caught.deleted, caught.retyped, caught.conflicts].every((list) => list.length === 0)
    this.readEntries = contentsOnly ? caught.entries : undefined
    result.captured = captured(caught)
    result.merged = caught.merged
    result.templates = caught.templates
    result.heldBack = caught.heldBack
    this.state.heldBack = caught.heldBack
    result.skipped = caught.skipped
    this.state.skipped = caught.skipped
    result.warnings.push(...caught.warnings)
    recordCaptureConflicts(caught.conflicts, this.state)
  }

  /** An older fleet gets the ~/.ssh/authorized_keys entry from its first active machine to sync (see layAuthorizedKeysIfMissing). */
  private async layAuthorizedKeys(): Promise<number> {
    const {local, fleet, active} = this
    if (!active) return 0
    await layAuthorizedKeysIfMissing(local.chezmoi, local.paths.sourceDir, local.paths.home, fleet)
    this.state.authorizedKeysChecked = fleet.machines.some((m) => m.sshPublicKey)
    if (!(await local.repo.commitAll(`fleet: ${local.machine}: keep ~/${AUTHORIZED_KEYS_PATH} (the active machines' SSH keys)`))) return 0
    this.result.notes.push(`~/${AUTHORIZED_KEYS_PATH} now holds the active machines' SSH keys (a marked block; your own lines stay)`)
    return 1
  }

  /**
   * Capture the targets and commit. A source chezmoi cannot read (another machine pushed a broken one) may have been
   * fixed on the forge since: then the forge's commits come in first, and capture runs again.
   * Not a recorded step: chezmoi writes source files atomically and records each target it re-adds as written, so
   * what a killed capture left is real work from targets (committed by the next sync), never to be undone.
   */
  private async captureTargets(exclude: (path: string) => boolean): Promise<CaptureResult> {
    try {
      return await this.captureOnce(exclude)
    } catch (error) {
      if (!(error instanceof ProcessError && /inconsistent state/.test(error.result.stderr))) throw error
      await this.integrateFromForge()
      return this.captureOnce(exclude)
    }
  }

  private async captureOnce(exclude: (path: string) => boolean): Promise<CaptureResult> {
    const {chezmoi, repo, machine, paths} = this.local
    const heldBefore = this.state.heldBack?.map((h) => h.path)
    const caught = await capture({
      chezmoi,
      repo,
      machine,
      contents: this.contents,
      home: paths.home,
      sourceDir: paths.sourceDir,
      fleet: this.fleet,
      active: this.active,
      exclude,
      heldBefore,
      scope: this.changedHere,
      sourceInStep: this.sourceInStep,
    })
    // chezmoi encrypts what it re-adds to the recipients file: the ciphertexts it wrote are recorded for that set.
    await recordWhatChezmoiEncrypted(repo, paths.sourceDir, paths.recipientsFile)
    await repo.commitAll(commitMessage(machine, caught))
    return caught
  }

  /**
   * Exchange with the forge, as one push with the integrate strategy (see pushToForge): with commits to push, the
   * push goes first — a forge that accepts it had nothing new (no fetch needed); one that rejects it had, and is
   * integrated before the next try. An unreachable forge is returned, not thrown: the work is kept locally, what
   * came before is applied and recorded, and the sync then ends with exit 3.
   */
  async exchange(): Promise<ForgeUnreachableError | undefined> {
    const strategy = {kind: 'integrate' as const, integrate: () => this.integrateFromForge()}
    try {
      const alongside = this.heartbeatAlongside()
      const {pushed} = await pushToForge(this.local.repo, this.branch, {strategy, check: () => this.checkBeforePush(), alongside})
      this.result.pushed += pushed
      return undefined
    } catch (error) {
      if (!(error instanceof ForgeUnreachableError)) throw error
      return error
    }
  }

  /**
   * This machine's heartbeat, pushed beside the branch: made once, before the first push, telling this sync as it is
   * going (a sync that then ends otherwise publishes again at its end: see publishHeartbeatIfDue).
   */
  private heartbeatAlongside(): Alongside {
    const {local, state, result} = this
    let made: Promise<void> | undefined
    let built: Awaited<ReturnType<typeof heartbeatAlongside>>
    const lastSync = {at: result.at, outcome: state.conflicts.length > 0 ? 'conflict' : 'ok'}
    return {
      refspec: async () => {
        await (made ??= heartbeatAlongside(local, state, lastSync).then((b) => void (built = b)))
        return built?.refspec
      },
      pushed: (update) => {
        if (built) state.heartbeat = afterPublishing(state.heartbeat, built.heartbeat, update)
      },
    }
  }

  /** The source as a receiving machine will see it, checked before each push (see checkSourceForPush). */
  private async checkBeforePush(): Promise<{notes: string[]}> {
    const checked = await checkSourceForPush(this.sourceCheck, this.readEntries)
    this.result.notes.push(...checked.notes)
    this.readEntries = checked.entries
    return checked
  }

  /** Bring the forge's commits in (see integrate), and put right here what they call for. */
  private async integrateFromForge(): Promise<void> {
    const {repo, paths, machine} = this.local
    const {branch, contents} = this
    const entriesBefore = this.readEntries
    const headBefore = entriesBefore ? await repo.revParse('HEAD') : undefined
    this.readEntries = undefined
    const integrated = await recordedStep(repo, branch, 'merge with the forge', (park) =>
      integrate(repo, {branch, machine, park, mergeEncrypted: this.active ? (path, versions) => mergeEncrypted(contents, path, versions) : undefined}),
    )
    this.result.received += integrated.received
    await recordConflicts(this.local, integrated, this.state)
    if (integrated.received === 0) return
    if (await dropContradictedRemovals(paths.sourceDir, await repo.listFiles())) {
      await repo.commitAll(`fleet: ${machine}: keep what was created again in a directory another machine deleted`)
    }
    this.result.notes.push(...(await repairSharedTargets(this.sourceCheck)))
    this.fleet = await readManifest(paths.sourceDir)
    await enforceRecipients(this.local, this.fleet, this.result)
    // Commits that only changed what files hold leave every entry as it was: no need to ask chezmoi again.
    if (headBefore && (await onlyContentsChanged(repo, headBefore))) this.readEntries = entriesBefore
  }

  /**
   * A rotation of this machine's key that was stopped after its re-encryption was pushed: swap the key files, and
   * remove the old key once every encrypted file at the forge opens with the new one (see finishKeyRotation).
   */
  async finishKeyRotation(): Promise<void> {
    const {paths, repo, machine} = this.local
    this.result.notes.push(...(await finishKeyRotation(paths, repo, this.fleet, machine, this.upstream)))
  }

  /** Reload what derives from the manifest: the recipients file, and the agents whose definition changed. */
  async reload(): Promise<void> {
    const {paths} = this.local
    await writeRecipientsFile(paths.recipientsFile, this.fleet)
    if (this.result.received === 0) return
    const {refreshInstalledAgents} = await import('../agents/install.ts')
    const refreshed = await refreshInstalledAgents(paths, this.fleet.settings.agents).catch((error: unknown) => {
      this.result.warnings.push(`could not update the agents: ${errorMessage(error)}`)
      return undefined
    })
    if (refreshed) this.result.notes.push(`updated the agents whose definition changed: ${refreshed.changed.join(', ')}`)
  }

  /**
   * Apply what came from the forge, checked: only what chezmoi really wrote counts as applied, and a target it did
   * not write waits for the next sync (see applyWithBackup).
   */
  async apply(): Promise<AppliedSource> {
    const {result, state} = this
    // Nothing came from the forge, the source is what was applied last, and the last sync left nothing behind:
    // there is nothing to apply.
    const head = await this.local.repo.revParse('HEAD')
    const inStep = head === state.appliedHead || (head !== undefined && head === this.capturedInStep)
    const mustApply = this.options.full || result.received > 0 || !this.wasSettled || state.conflicts.length > 0 || !inStep
    const applied: ApplyResult = mustApply ? await this.applySource() : {applied: [], waiting: [], leftAlone: [], backedUp: [], failed: []}
    result.applied = applied.applied
    result.waiting = applied.waiting
    // Templates and what was held back are reported as such, not as edits made during the sync.
    const heldBack = new Set(result.heldBack.map((h) => h.path))
    result.leftAlone = applied.leftAlone.filter((p) => !result.templates.includes(p) && !heldBack.has(p))
    result.backedUp = applied.backedUp
    result.backupDir = applied.backupDir
    if (applied.incomplete && applied.failed.length === 0) result.warnings.push(applied.incomplete) // failures are the error, below
    const failure = applied.incomplete === undefined ? undefined : explainSystemError(new Error(applied.incomplete), this.local.paths.home)
    return {...applied, head, failure}
  }

  private async applySource(): Promise<ApplyResult> {
    const {chezmoi, paths, machine} = this.local
    const {fleet, result, changedHere, state} = this
    const nowConflicted = new Set(this.state.conflicts.map((c) => c.path))
    // What the source changed since the apply that left everything in step, beside what changed here.
    const changedSources =
      changedHere && state.appliedHead ? (await this.local.repo.changedFiles(state.appliedHead, 'HEAD').catch(() => undefined))?.map((c) => c.path) : undefined
    // A managed directory that is a link here stays a link: its files are applied through it.
    const linked = linkedDirectories(
      paths.home,
      fleet.paths.map((p) => p.path),
    )
    return applyWithBackup(chezmoi, {
      // The entries read before the push, when nothing has changed the source since.
      entries: this.readEntries,
      scope:
        changedHere && changedSources && state.snapshot
          ? {changedHere: changedHere.changed, changedSources, sourceDir: paths.sourceDir, snapshot: state.snapshot}
          : undefined,
      home: paths.home,
      backupsDir: paths.backupsDir,
      recipient: async () => findMachine(fleet, machine)?.recipient ?? (await readIdentity(paths.identityFile)).recipient,
      isEncrypted: isEncryptedTarget(fleet),
      // A conflicted file, what lies below it, and a directory holding it are all left as they are; so is a file
      // held back as a secret (another machine's file of the same name waits until the person acts; a directory
      // the fleet removes is still removed, this file backed up first).
      linked,
      exclude: (path) =>
        linked.has(path) || [...nowConflicted].some((c) => isWithin(path, c) || isInside(c, path)) || result.heldBack.some((h) => isWithin(path, h.path)),
    })
  }

  /** Record where everything stands: the quick path's baseline, and whether nothing was left behind. */
  async record(applied: AppliedSource): Promise<void> {
    const {local, state, result} = this
    const {paths} = local
    state.lastRemoteHead = await local.repo.revParse(this.upstream)
    state.managedPaths = this.fleet.paths.map((p) => p.path)
    // The baseline was taken before capture, so an edit made during this sync differs from it and the next sync
    // looks; only what the apply itself wrote is brought up to date.
    if (sameList(state.managedPaths, this.managedPaths)) {
      refreshEntries(this.baseline, paths.home, applied.applied, state.managedPaths)
      state.snapshot = this.baseline
    } else {
      state.snapshot = takeSnapshot(paths.home, state.managedPaths)
    }
    const appliedBefore = state.appliedHead
    state.appliedHead = applied.head
    state.settled =
      !(await changedChezmoiFiles(local, appliedBefore, applied.head)) &&
      applied.failed.length === 0 &&
      result.leftAlone.length === 0 &&
      result.templates.length === 0 &&
      result.skipped.length === 0 &&
      result.heldBack.length === 0 &&
      !applied.incomplete &&
      (await unchangedSinceApply(local, applied.applied, applied.entries))
    // Paths that became managed in this sync may hold files here the fleet lacks: nothing is "in sync" that no capture
    // looked at, so one more round captures them.
    const newlyManaged = state.managedPaths.filter((p) => !this.managedPaths.includes(p))
    if (newlyManaged.length > 0) {
      state.settled = false
      await writeFile(statePaths(paths).again, new Date().toISOString())
    }
  }
}

/**
 * The files this sync applied are still exactly what chezmoi wrote: an edit made in the moment between the apply
 * and the snapshot would otherwise become the quick path's baseline and never be looked at.
 */
async function unchangedSinceApply(local: LocalFleet, applied: string[], entries?: Map<string, ManagedEntry>): Promise<boolean> {
  if (applied.length === 0) return true
  let written: Map<string, string | undefined> | undefined
  for (const path of applied) {
    const target = join(local.paths.home, path)
    // A plain file is written with its source file's bytes: compared with those, without asking chezmoi.
    const source = entries?.get(path)
    const plain = source?.type === 'file' && isPlainSourceFile(source.source)
    const sha = plain ? readOrUndefined(source.source, sha256) : (written ??= await local.chezmoi.writtenTargets()).get(target)
    if (sha === undefined) continue // a directory, a removal, a script
    if (readOrUndefined(target, sha256) !== sha) return false
  }
  return true
}

/** `use` of a file's bytes, or undefined when it cannot be read (read synchronously: thousands of small files). */
function readOrUndefined<T>(file: string, use: (bytes: Buffer) => T): T | undefined {
  try {
    return use(readFileSync(file))
  } catch {
    return undefined
  }
}

/** A source file whose target gets its bytes as they are: not encrypted, not a template, not a script or a link. */
function isPlainSourceFile(source: string): boolean {
  const name = parseSourceFileName(basename(source))
  return name.type === 'file' && !name.encrypted && !name.template
}

/**
 * The source's commits changed what chezmoi manages at all (its ignore rules, its root, its externals): a file on
 * disk may have become one to capture without changing, so the next sync looks at everything. (Template data and
 * removals change what the apply writes: the apply of the same sync looks at everything then.)
 */
async function changedChezmoiFiles(local: LocalFleet, from: string | undefined, to: string | undefined): Promise<boolean> {
  if (from === undefined || to === undefined || from === to) return false
  const changes = await local.repo.changedFiles(from, to).catch(() => undefined)
  const whatIsManaged = /^\.chezmoi(ignore|root|external)/
  return changes === undefined || changes.some((c) => c.path.split('/').some((part) => whatIsManaged.test(part)))
}

/** Every change since `from` is an edit of a file's contents (none added, removed, or of chezmoi's own). */
async function onlyContentsChanged(repo: LocalFleet['repo'], from: string): Promise<boolean> {
  const changes = await repo.changedFiles(from, 'HEAD').catch(() => undefined)
  return changes !== undefined && changes.every((c) => c.status === 'M' && !c.path.split('/').some((part) => part.startsWith('.chezmoi')))
}

function sameList(a: string[] | undefined, b: string[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function commitMessage(machine: string, caught: CaptureResult): string {
  const parts: string[] = []
  const list = (paths: string[]) => (paths.length <= 5 ? paths.join(', ') : `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more`)
  if (caught.reAdded.length > 0) parts.push(`update ${list(caught.reAdded)}`)
  if (caught.retyped.length > 0) parts.push(`change the type of ${list(caught.retyped)}`)
  if (caught.added.length > 0) parts.push(`add ${list(caught.added)}`)
  if (caught.deleted.length > 0) parts.push(`delete ${list(caught.deleted)}`)
  return `fleet: ${machine}: ${parts.join('; ') || 'changes'}`
}

/** Record conflicts that need a person; the target keeps this machine's version until it is resolved. */
async function recordConflicts(local: LocalFleet, integrated: IntegrateResult, state: SyncState): Promise<void> {
  if (integrated.conflicts.length === 0) return
  for (const sourcePath of integrated.conflicts) {
    const absolute = join(local.paths.sourceDir, sourcePath)
    const target = existsSync(absolute) ? await local.chezmoi.targetPath(absolute) : undefined
    const path = relativeWithin(local.paths.home, target) ?? decodeSourcePath(sourcePath)
    // The entry the source has for the target now (the forge's: after a mode change it has another name).
    const [current] = await local.chezmoi.sourcePaths([join(local.paths.home, path)]).catch(() => [] as string[])
    const recorded = relativeWithin(local.paths.sourceDir, current) ?? sourcePath
    state.conflicts = state.conflicts.filter((c) => c.path !== path)
    state.conflicts.push({
      path,
      sourcePath: recorded,
      parkedBranch: integrated.parkedBranch!,
      mine: integrated.mine!,
      theirs: integrated.theirs!,
      at: new Date().toISOString(),
    })
  }
}

/**
 * Every encrypted file is for exactly the active machines: a file recorded for another set (of any size: one machine
 * replaced by another), or never recorded (a fleet from before the record, a writer that does not record), is
 * re-encrypted for the current set by an active machine. A file it cannot open is left as it is and named in the
 * warnings, with its fix; the others are re-encrypted all the same.
 */
async function enforceRecipients(local: LocalFleet, fleet: Fleet, result: SyncResult): Promise<void> {
  const recipients = activeRecipients(fleet)
  if (!isActive(fleet, local.machine) || recipients.length === 0) return
  const stale = await filesNotFor(local.paths.sourceDir, await local.repo.listFiles(), recipients)
  if (stale.length === 0) return
  await writeRecipientsFile(local.paths.recipientsFile, fleet)
  // A key that is missing or no key, or a file no key here opens, never stops the others: the apply reports each, with the fix.
  const keys = await reencryptionKeys(local.paths, findMachine(fleet, local.machine)?.recipient).catch((error: unknown) => {
    if (error instanceof FleetError) return undefined
    throw error
  })
  if (!keys) return
  const {rewritten} = await reencryptSource(local.paths.sourceDir, stale, keys, recipients)
  if (rewritten.length === 0) return
  await local.repo.commitAll(`fleet: ${local.machine}: re-encrypt ${rewritten.length} file(s) for the ${recipients.length} active machine(s)`)
  result.notes.push(`re-encrypted ${rewritten.length} file(s) for the current set of active machines`)
}

function recordCaptureConflicts(conflicts: CaptureConflict[], state: SyncState): void {
  const at = new Date().toISOString()
  for (const conflict of conflicts) {
    state.conflicts = state.conflicts.filter((c) => c.path !== conflict.path)
    state.conflicts.push({...conflict, at})
  }
}

/** Source contents as chezmoi reads and writes them: encrypted files through this machine's key, in memory. */
function sourceContents(local: LocalFleet, active: boolean): SourceContents {
  return {
    targetContents: async (file, bytes) => {
      if (!isEncryptedSourceFile(file)) return bytes
      if (!active) throw new FleetError(`${file} is encrypted, and this machine is not active yet.`, {code: 'NOT_ACTIVE'})
      // Every key this machine holds: during a key rotation, the new one and the old one.
      return decryptWith(await machineKeys(local.paths), bytes, file)
    },
    sourceBytes: async (file, contents) => {
      if (!isEncryptedSourceFile(file)) return contents
      // The manifest as it is now in the source (merged with the forge's, during a merge).
      const active = activeRecipients(await readManifest(local.paths.sourceDir))
      const recipients = active.length > 0 ? active : [(await readIdentity(local.paths.identityFile)).recipient]
      const ciphertext = await encryptTo(recipients, contents)
      await recordEncryptions(local.paths.sourceDir, [{ciphertext, recipients}])
      return ciphertext
    },
  }
}

/**
 * An encrypted file changed on both sides: git sees two unrelated ciphertexts, so the merge is done on what they
 * decrypt to (in memory), and the result is encrypted for the active machines. A re-encryption on one side (an
 * approval) changes no content, so the other side's edit simply wins. Undefined: a conflict for a person.
 */
async function mergeEncrypted(contents: SourceContents, file: string, versions: Array<Uint8Array | undefined>): Promise<Uint8Array | string | undefined> {
  const [base, mine, theirs] = await Promise.all(versions.map(async (v) => (v === undefined ? undefined : contents.targetContents(file, v)))).catch(() => [])
  if (mine === undefined || theirs === undefined) return undefined
  const lineMerge = mergeText(base ?? new Uint8Array(), mine, theirs)
  // The secrets file merges by key: two machines setting different keys merge, one key set on both conflicts.
  const merged = decodeSourcePath(file) === SECRETS_PATH ? mergeSecretsBytes(base, mine, theirs, lineMerge) : lineMerge
  if (merged === undefined) return undefined
  return Buffer.from(theirs).equals(merged) && versions[2] ? versions[2] : contents.sourceBytes(file, merged)
}

/**
 * Commit what is uncommitted in the source repo: a person's `chezmoi edit` or hand-made change, or what a capture
 * killed before its commit left. A killed `chezmoi add` may have written a source file without recording the
 * target as written: such a target, identical to its source, is recorded now (an apply that writes nothing), or a
 * later deletion of it would look like "never written" and be undone.
 */
async function commitSourceRepoChanges(local: LocalFleet, contents: SourceContents, result: SyncResult): Promise<void> {
  const changes = await local.repo.status()
  if (changes.length === 0) return
  const unmerged = changes.filter((c) => /U|AA|DD/.test(c.code)).map((c) => c.path)
  if (unmerged.length > 0) {
    throw new FleetError(
      `The source repo ${local.paths.sourceDir} has files with unresolved conflicts (${unmerged.join(', ')}), left by a git command of yours (git stash pop, say): fleet leaves them to you.`,
      {
        code: 'GIT_OPERATION_IN_PROGRESS',
        fix: `In ${local.paths.sourceDir}, resolve them (edit, then git add) or undo it (git checkout HEAD -- <file>, and git stash list for a stash that was not dropped); then run \`fleet sync\` again. Nothing was changed.`,
      },
    )
  }
  const added = changes
    .filter((c) => c.code === '??' || c.code.includes('A'))
    .map((c) => c.path)
    .filter((p) => !p.startsWith('.'))
  await local.repo.ensureIdentity(local.machine) // an enroll killed early may not have set it yet
  if (await local.repo.commitAll(`fleet: ${local.machine}: changes made in the source repo`))
    result.notes.push('committed what was left uncommitted in the source repo (changes made by hand, or by a sync that was stopped)')
  if (added.length === 0) return
  const written = await local.chezmoi.writtenTargets()
  const unrecorded: string[] = []
  for (const sourceFile of added) {
    const target = join(local.paths.home, decodeSourcePath(sourceFile))
    if (written.has(target)) continue
    const [onDisk, fromSource] = await Promise.all([
      readFile(target).catch(() => undefined),
      readFile(join(local.paths.sourceDir, sourceFile))
        .then((bytes) => contents.targetContents(sourceFile, bytes))
        .catch(() => undefined),
    ])
    if (onDisk !== undefined && fromSource !== undefined && onDisk.equals(Buffer.from(fromSource))) unrecorded.push(target)
  }
  if (unrecorded.length > 0) await local.chezmoi.apply({targets: unrecorded})
}

/**
 * Every encrypted file lands decrypted with mode 0600 on every machine: its source name carries `private_` (chezmoi
 * keeps the mode a file had where it was added, 0644 as often as not). Older entries without it are renamed.
 */
async function makeDecryptedFilesPrivate(local: LocalFleet, result: SyncResult): Promise<number> {
  const renames = (await local.repo.listFiles())
    .map((file) => ({file, renamed: privateEncryptedName(basename(file))}))
    .filter((r): r is {file: string; renamed: string} => r.renamed !== undefined)
  if (renames.length === 0) return 0
  for (const {file, renamed} of renames) await local.repo.git(['mv', '--', file, join(dirname(file), renamed)])
  await local.repo.commitAll(`fleet: ${local.machine}: decrypted files are private (mode 0600): ${renames.map((r) => decodeSourcePath(r.file)).join(', ')}`)
  result.notes.push(`made ${renames.length} decrypted file(s) private (mode 0600)`)
  return renames.length
}
