// `fleet rotate-keys`: the key-rotation runbook as steps that are safe to stop at any point. Where a rotation stands
// is derived from this machine's key files and the manifest (see keys/rotation-state.ts), so running it again after a
// kill at any step goes on from there; `fleet sync` finishes a stopped swap and the old key's removal as well.
// - own key (default): new key → roster names it → re-encrypt every encrypted file for the new set (read with every
//   key held) and verify each opens with the new key → commit, push (re-derived on the forge's roster when another
//   push came first) → swap the key files → a sync → remove the old key once every file at the forge opens without it;
// - --all: a request in the manifest that every active machine rotates its own key at its next sync;
// - --machine NAME --compromised: revoke it, re-encrypt without it, push, and the runbook for what it could read.
import {existsSync} from 'node:fs'

import {ExitCode, type ExitCodeValue, FleetError, UsageError} from '../errors/index.ts'
import {requireChezmoi} from '../chezmoi/chezmoi.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {upstreamRef} from '../git/git.ts'
import {decodeSourcePath} from '../chezmoi/source-names.ts'
import {isEncryptedSourceFile, reencryptSource, type ReencryptFailure} from '../keys/crypto.ts'
import {KEY_TYPE_LABELS, readIdentity} from '../keys/identity.ts'
import {ensureNextKey, machineKeys, removeOldKey, swapInNextKey} from '../keys/key-files.ts'
import {filesNotFor} from '../keys/record.ts'
import {writeRecipientsFile} from '../keys/recipients.ts'
import {filesNotOpeningWith, keyRotationPhase, type KeyRotationPhase, machinesOnOldKeys} from '../keys/rotation-state.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import {changeMachineState} from '../machines/machines.ts'
import {activeMachines, findMachine} from '../manifest/lookup.ts'
import type {Fleet, Machine} from '../manifest/schema.ts'
import {readManifest, writeManifest} from '../manifest/store.ts'
import {asGiven, count, pathList} from '../platform/text.ts'
import {changeSecrets, readSecrets, SECRETS_DISPLAY} from '../secrets-file/store.ts'
import {pushToForge} from '../sync/push.ts'
import {syncLocked} from '../sync/engine.ts'
import {checkSourceForPush} from '../sync/source-check.ts'

/** One step of the runbook (the shape runSteps takes): its title, and what it did in a few words. */
export interface RotationStep {
  title: string
  run(): Promise<string>
}

/** Runs the steps in order, showing each (the command passes listr2's runSteps); a step that throws stops the run. */
export type StepRunner = (steps: RotationStep[]) => Promise<void>

/** A sync's failure to write some files here (named with their fix), which the re-encryption reports again. */
const APPLY_FAILURES = ['APPLY_FAILED', 'CIPHERTEXT_DAMAGED', 'NOT_A_RECIPIENT']

/** Tests stop the runbook with SIGKILL right after this step (1-based) to show that a rerun finishes the job. */
export const KILL_AFTER_STEP_ENV = 'FLEET_TEST_KILL_AFTER_STEP'

export interface RotationReport {
  mode: 'own' | 'all' | 'compromised'
  dryRun: boolean
  machine: string
  /** What the run does (with --dry-run: would do), step by step. */
  plan: string[]
  /** This machine's recipient after the rotation (a public key). */
  newRecipient?: string
  reencrypted: string[]
  /** Files this machine could not open: left as they were, still to re-encrypt, each with its fix. */
  unreadable: ReencryptFailure[]
  pushed: number
  /** Whether the old key was removed; when not, why it stays. */
  oldKeyRemoved: boolean
  oldKeyKept?: string
  /** --all: when the request was made. */
  requestedAt?: string
  /** --compromised: the machine revoked, and every encrypted file that was readable to it. */
  revoked?: string
  exposed?: Array<{target: string; source: string}>
  /** --compromised: the secrets (names only) the machine could read, each of whose values must change (secretValuesToRotate). */
  secretValues?: string[]
  /** --compromised: the secrets given a new value by this run (names only; see replaceSecretValues). */
  secretsReplaced?: string[]
  runbook?: string[]
}

function emptyReport(local: LocalFleet, mode: RotationReport['mode'], dryRun: boolean): RotationReport {
  return {mode, dryRun, machine: local.machine, plan: [], reencrypted: [], unreadable: [], pushed: 0, oldKeyRemoved: false}
}

/** Only an active machine holds a key in use: a pending or revoked one cannot rotate (UsageError with the fix). */
export function requireCanRotate(fleet: Fleet, name: string): Machine {
  const me = findMachine(fleet, name)
  if (me?.state === 'active') return me
  if (me?.state === 'revoked') {
    throw new UsageError(
      `This machine (${name}) was revoked: its key is no longer used by the fleet, and a revoked machine cannot rotate it back in.`,
      'Move the identity file aside and run `fleet enroll` under a new machine name; an active machine then approves it (`fleet machines approve <new name>`).',
      'REVOKED',
    )
  }
  throw new UsageError(
    `This machine (${name}) is ${me?.state ?? 'not on the roster'}: no file is encrypted for its key yet, so there is nothing to rotate.`,
    `Ask an active machine to run \`fleet machines approve ${name}\`, then run \`fleet rotate-keys\` here if you still want a new key.`,
    'NOT_ACTIVE',
  )
}

/** Wraps each step with the test hook that kills the process after step N (see KILL_AFTER_STEP_ENV). */
function withKillHook(steps: RotationStep[], env: NodeJS.ProcessEnv): RotationStep[] {
  const killAfter = Number(env[KILL_AFTER_STEP_ENV] ?? 0)
  if (!killAfter) return steps
  return steps.map((step, index) => ({
    title: step.title,
    async run() {
      const detail = await step.run()
      if (index + 1 === killAfter) process.kill(process.pid, 'SIGKILL')
      return detail
    },
  }))
}

/**
 * Rotate this machine's key (see the header), or go on with a rotation that was stopped. With `dryRun`, returns the
 * plan and changes nothing. Unreadable files are reported (the report's `unreadable`), never stop the others.
 */
export async function rotateOwnKey(local: LocalFleet, options: {dryRun?: boolean; runSteps: StepRunner}): Promise<RotationReport> {
  const report = emptyReport(local, 'own', options.dryRun === true)
  const {paths} = local
  const fleet = await readManifest(paths.sourceDir)
  requireCanRotate(fleet, local.machine)
  const phase = await keyRotationPhase(paths, findMachine(fleet, local.machine))
  const steps = ownKeySteps(local, fleet, phase, report)
  report.plan = steps.map((s) => s.title)
  if (report.dryRun) {
    const encrypted = phase === 'swapped' ? [] : (await local.repo.listFiles()).filter(isEncryptedSourceFile)
    report.plan = describePlan(local, fleet, phase, report.plan, encrypted)
    return report
  }
  await withFleetLock(paths, 'rotate-keys', async () => {
    // The roster may have changed since it was read above: checked again under the lock.
    requireCanRotate(await readManifest(paths.sourceDir), local.machine)
    await options.runSteps(withKillHook(steps, local.env))
  })
  return report
}

/** What a dry run prints: where a stopped rotation stands, the steps, and the files a re-encryption would touch. */
function describePlan(local: LocalFleet, fleet: Fleet, phase: KeyRotationPhase, titles: string[], encrypted: string[]): string[] {
  const standing: Record<KeyRotationPhase, string> = {
    none: `Rotate the key of ${local.machine} (${KEY_TYPE_LABELS[fleet.settings.keyType]}) for the ${activeMachines(fleet).length} active machine(s):`,
    'new-key': 'A rotation was stopped after the new key was made; it goes on from there:',
    'on-roster': 'A rotation was stopped after the roster named the new key; it goes on from there:',
    swapped: 'A rotation was stopped after the key files were swapped; only the last steps are left:',
  }
  const files =
    encrypted.length > 0 ? [`Encrypted files to re-encrypt (${count(encrypted.length)}): ${pathList(encrypted.map((f) => decodeSourcePath(f)))}`] : []
  return [standing[phase], ...titles.map((title, i) => `  ${i + 1}. ${title}`), ...files, 'Nothing was changed (--dry-run).']
}

/** The runbook's steps from where the rotation stands. */
function ownKeySteps(local: LocalFleet, fleet: Fleet, phase: KeyRotationPhase, report: RotationReport): RotationStep[] {
  const {paths, repo} = local
  const branch = fleet.settings.branch
  const upstream = upstreamRef(branch)
  const steps: RotationStep[] = []
  if (phase !== 'swapped') {
    steps.push(
      {
        title: 'Make a new key (identity.txt.next, mode 0600)',
        async run() {
          const {identity, created} = await ensureNextKey(paths, fleet.settings.keyType)
          report.newRecipient = identity.recipient
          return created ? `made ${identity.file}` : `kept the new key a stopped rotation made (${identity.file})`
        },
      },
      {
        title: "Sync first (every local edit captured and pushed; the forge's roster in)",
        run: () => syncForRotation(local),
      },
      {
        title: 'Put the new key on the roster, re-encrypt every encrypted file for the new set and verify each with the new key',
        async run() {
          await putNewKeyOnRoster(local, report)
          const left = report.unreadable.length > 0 ? `; ${report.unreadable.length} file(s) could not be opened (see below)` : ''
          return `${report.reencrypted.length} file(s) re-encrypted and verified${left}`
        },
      },
      {
        title: "Push (made again on the forge's roster if another machine pushed first)",
        async run() {
          const {pushed} = await pushToForge(repo, branch, {
            strategy: {kind: 're-derive', derive: () => putNewKeyOnRoster(local, report)},
            check: () => checkSourceForPush({...local, upstream}),
          })
          report.pushed += pushed
          return `${pushed} commit(s) pushed`
        },
      },
      {
        title: 'Swap the key files (the old key kept as identity.txt.old)',
        async run() {
          if (existsSync(paths.identityNextFile)) await swapInNextKey(paths)
          report.newRecipient = (await readIdentity(paths.identityFile)).recipient
          return 'the new key is the identity file'
        },
      },
    )
  }
  steps.push(
    {
      title: 'Sync with the new key',
      run: () => syncForRotation(local),
    },
    {
      title: 'Remove the old key once every encrypted file at the forge opens with the new one',
      async run() {
        if (!existsSync(paths.identityOldFile)) {
          report.oldKeyRemoved = true
          return 'no old key is left'
        }
        const closed = await filesNotOpeningWith(repo, upstream, paths.identityFile)
        if (closed.length > 0) {
          report.oldKeyKept = `${closed.length} encrypted file(s) at the forge do not open with the new key yet (${pathList(closed, {show: asGiven})}); the old key stays in ${paths.identityOldFile} until they do (the next sync that finds them all open removes it)`
          return `kept: ${report.oldKeyKept}`
        }
        await removeOldKey(paths)
        report.oldKeyRemoved = true
        return 'removed'
      },
    },
  )
  return steps
}

/**
 * A sync inside the rotation (which holds the lock). It must reach the forge; a file chezmoi could not apply here (a
 * damaged one, say) does not stop the rotation: the re-encryption reports it by name. Returns what the sync did.
 */
async function syncForRotation(local: LocalFleet): Promise<string> {
  await requireChezmoi(local.chezmoi.binary, local.paths.chezmoiCheckedFile)
  const synced = await syncLocked(local, {reason: 'rotate-keys', full: true})
  if (synced.outcome === 'error' && APPLY_FAILURES.includes(synced.failure?.code ?? '')) return `synced; not applied here: ${synced.error?.split('\n')[0]}`
  if (synced.outcome === 'error' || synced.outcome === 'offline') {
    throw new FleetError(`The sync the rotation stands on did not finish: ${synced.error}`, {
      exitCode: synced.outcome === 'offline' ? ExitCode.forgeUnreachable : ((synced.failure?.exitCode as ExitCodeValue | undefined) ?? ExitCode.error),
      code: synced.outcome === 'offline' ? 'FORGE_UNREACHABLE' : (synced.failure?.code ?? 'SYNC_FAILED'),
      fix: `${synced.failure?.fix ?? 'Check the forge (git ls-remote).'} Then run \`fleet rotate-keys\` again: it goes on from where it stopped, and this machine keeps every key it needs meanwhile.`,
    })
  }
  return synced.outcome
}

/**
 * The rotation's change, made from the manifest as it is (the forge's, after a rejected push): the roster names the
 * new key for this machine, and every encrypted file not recorded for the active set is re-encrypted for it (read with
 * every key held, verified with the new one), then committed.
 */
async function putNewKeyOnRoster(local: LocalFleet, report: RotationReport): Promise<void> {
  const {paths, repo} = local
  const fleet = await readManifest(paths.sourceDir)
  const me = requireCanRotate(fleet, local.machine)
  // A sync (this rotation's, or one run meanwhile) swaps the key files once the forge's roster names the new key:
  // the new key is then the identity file.
  const next = await readIdentity(existsSync(paths.identityNextFile) ? paths.identityNextFile : paths.identityFile)
  if (me.recipient !== next.recipient) {
    const now = new Date().toISOString()
    Object.assign(me, {recipient: next.recipient, keyCreatedAt: now, updatedAt: now})
    await writeManifest(paths.sourceDir, fleet)
  }
  const recipients = await writeRecipientsFile(paths.recipientsFile, fleet)
  const stale = await filesNotFor(paths.sourceDir, await repo.listFiles(), recipients)
  const {rewritten, failed} = await reencryptSource(paths.sourceDir, stale, {read: await machineKeys(paths), verify: next}, recipients)
  report.reencrypted = [...new Set([...report.reencrypted, ...rewritten])]
  report.unreadable = failed
  report.newRecipient = next.recipient
  await repo.commitAll(`fleet: ${local.machine}: rotate its key; re-encrypt ${rewritten.length} file(s) for ${recipients.length} active machine(s)`)
}

/**
 * `--all`: ask every active machine to rotate its own key at its next sync (a time in the manifest, pushed), then
 * rotate this machine's key at once.
 */
export async function requestRotationOfAll(local: LocalFleet, options: {dryRun?: boolean; runSteps: StepRunner}): Promise<RotationReport> {
  const {paths, repo} = local
  const fleet = await readManifest(paths.sourceDir)
  requireCanRotate(fleet, local.machine)
  if (options.dryRun) {
    const own = await rotateOwnKey(local, options)
    return {
      ...own,
      mode: 'all',
      plan: [
        `Ask every active machine (${activeMachines(fleet)
          .map((m) => m.name)
          .join(', ')}) to rotate its own key at its next sync (a request in the manifest), and push it; then, here:`,
        ...own.plan,
      ],
    }
  }
  const requestedAt = new Date().toISOString()
  const branch = fleet.settings.branch
  await withFleetLock(paths, 'rotate-keys --all', async () => {
    await syncForRotation(local)
    const derive = async () => {
      const current = await readManifest(paths.sourceDir)
      current.settings.rotationRequestedAt = requestedAt
      await writeManifest(paths.sourceDir, current)
      await repo.commitAll(`fleet: ${local.machine}: every machine rotates its key at its next sync (requested ${requestedAt})`)
    }
    await derive()
    await pushToForge(repo, branch, {strategy: {kind: 're-derive', derive}, check: () => checkSourceForPush({...local, upstream: upstreamRef(branch)})})
  })
  const own = await rotateOwnKey(local, options)
  return {...own, mode: 'all', requestedAt}
}

/**
 * After a sync (the sync command's, the watcher's): when the fleet asked every machine to rotate its key and this
 * machine's key is older than the request, rotate it now, as its own locked operation. Returns undefined when there
 * is nothing to do (no request, this machine is not active, or its key is new enough).
 */
export async function rotateIfRequested(local: LocalFleet, runSteps: StepRunner): Promise<RotationReport | undefined> {
  const fleet = await readManifest(local.paths.sourceDir)
  const me = findMachine(fleet, local.machine)
  if (me?.state !== 'active' || !machinesOnOldKeys(fleet).includes(local.machine)) return undefined
  return rotateOwnKey(local, {runSteps})
}

/**
 * The secrets (by name, never a value) a compromised machine could read: every key of the secrets file, when the
 * fleet keeps one among the encrypted files it could open. Empty when there is none, or this machine cannot read it.
 */
export async function secretValuesToRotate(local: LocalFleet, exposed: RotationReport['exposed']): Promise<string[]> {
  if (!(exposed ?? []).some((f) => f.target === SECRETS_DISPLAY)) return []
  const secrets = await readSecrets(local).catch(() => undefined)
  return secrets ? [...secrets.document.values().keys()] : []
}

/**
 * After a compromise, the new values the person gave (name → value, in memory only), written to the secrets file in
 * one change; the sync that follows (the caller's) carries them to every machine. Returns the names written.
 */
export async function replaceSecretValues(local: LocalFleet, values: Map<string, string>): Promise<string[]> {
  if (values.size === 0) return []
  return changeSecrets(local, 'rotate-keys: new secret values', (document) => {
    for (const [key, value] of values) document.set(key, value)
    return [...values.keys()]
  })
}

/**
 * `--machine NAME --compromised`: revoke the machine (its recipient leaves the roster; every encrypted file is
 * re-encrypted without it, a file that cannot be opened here named and left), push; then the runbook for the values
 * it could read.
 */
export async function rotateCompromised(local: LocalFleet, name: string, options: {dryRun?: boolean; runSteps: StepRunner}): Promise<RotationReport> {
  const report = {...emptyReport(local, 'compromised', options.dryRun === true), revoked: name}
  const {paths, repo} = local
  const fleet = await readManifest(paths.sourceDir)
  requireCanRotate(fleet, local.machine)
  const target = findMachine(fleet, name)
  if (!target) {
    throw new UsageError(
      `There is no machine named "${name}" in this fleet.`,
      `Known machines: ${fleet.machines.map((m) => m.name).join(', ')}.`,
      'NO_SUCH_MACHINE',
    )
  }
  const wasReadable = target.state !== 'pending'
  // Every encrypted file the source holds (after the revocation's sync: the forge's as well) was encrypted for it.
  const listExposed = async () => {
    const files = wasReadable ? (await repo.listFiles()).filter(isEncryptedSourceFile) : []
    report.exposed = files.map((source) => ({target: `~/${decodeSourcePath(source)}`, source}))
  }
  await listExposed()
  const steps: RotationStep[] = [
    {
      title: `Revoke ${name} and re-encrypt every encrypted file for the other active machines, then push`,
      async run() {
        const change = await changeMachineState(local, name, 'revoked')
        report.reencrypted = change.reencrypted
        report.unreadable = change.unreadable
        report.pushed = change.pushed
        return change.changed ? `${change.reencrypted.length} file(s) re-encrypted for ${change.recipients} machine(s)` : `${name} was already revoked`
      },
    },
    {
      title: 'List what it could read',
      async run() {
        await listExposed()
        report.secretValues = await secretValuesToRotate(local, report.exposed)
        return `${report.exposed?.length ?? 0} encrypted file(s)`
      },
    },
  ]
  report.plan = steps.map((s) => s.title)
  report.runbook = compromiseRunbook(name, report)
  if (report.dryRun) {
    report.plan = [...report.plan.map((title, i) => `  ${i + 1}. ${title}`), 'Nothing was changed (--dry-run).']
    return report
  }
  await options.runSteps(withKillHook(steps, local.env))
  report.runbook = compromiseRunbook(name, report)
  return report
}

/** The runbook again, once the person has given new values for some of the secrets (see replaceSecretValues). */
export function withReplacedSecrets(report: RotationReport, replaced: string[]): RotationReport {
  const updated = {...report, secretsReplaced: replaced}
  return {...updated, runbook: compromiseRunbook(updated.revoked!, updated)}
}

/** The secrets a compromised machine could read that have not been given a new value yet. */
function stillToRotate(report: RotationReport): string[] {
  return (report.secretValues ?? []).filter((key) => !(report.secretsReplaced ?? []).includes(key))
}

/** What a person must do after a compromise: the files it could read, and what fleet cannot undo. */
function compromiseRunbook(name: string, report: RotationReport): string[] {
  const files = report.exposed ?? []
  return [
    `${name} is revoked: its key opens none of the encrypted files as they are now.`,
    files.length > 0
      ? `Every value in these encrypted files was readable to ${name}; change each one:`
      : `No encrypted file was readable to ${name} (it was never approved).`,
    ...files.map((f) => `  ${f.target}   (${f.source})`),
    ...(report.secretsReplaced?.length ? [`Given new values here (and synced): ${report.secretsReplaced.join(', ')}`] : []),
    ...(stillToRotate(report).length > 0
      ? [`Secrets still to change (each in ${SECRETS_DISPLAY}, or \`fleet secrets set <name>\`):`, ...stillToRotate(report).map((k) => `  ${k}`)]
      : []),
    `The old ciphertext of each stays readable in the forge's history to whoever holds ${name}'s key. Rewriting the history does not help: ${name} has a clone.`,
    'So change the values themselves where they were issued (rotate each token, password and key at its issuer), then put the new values in their files here and run `fleet sync`.',
    `Remove ${name}'s access to the forge by hand: its deploy key or access token at the forge (fleet cannot do this for you).`,
  ]
}
