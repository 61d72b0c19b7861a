// The Keys checks: this machine's age identity (there and a key, private, the one the roster names), whether it opens
// every encrypted file in the source repo, whether every encrypted file is for exactly the active machines, and a key
// rotation asked of this machine or left half done. Decryption runs in-process (age-encryption): no process to stop.
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../../errors/index.ts'
import type {LocalFleet} from '../../fleet/local.ts'
import {homeShellPath, shellCommand, shellWord} from '../../errors/shell-command.ts'
import {decryptWith} from '../../keys/crypto.ts'
import {type AgeIdentity, KEY_TYPE_LABELS, readIdentity, tightenMode} from '../../keys/identity.ts'
import {heldKeyFiles, machineKeys} from '../../keys/key-files.ts'
import {ciphertextHash, encryptedFilesIn, filesNotFor, readRecord, recipientSetFingerprint} from '../../keys/record.ts'
import {keyRotationPhase, type KeyRotationPhase, machinesOnOldKeys} from '../../keys/rotation-state.ts'
import {reencryptDriftedFiles} from '../../machines/machines.ts'
import {activeMachines, activeRecipients, findMachine} from '../../manifest/lookup.ts'
import type {Fleet, Machine} from '../../manifest/schema.ts'
import {homeRelative} from '../../platform/paths.ts'
import {rotateOwnKey} from '../../rotation/rotate.ts'
import {keyNotTheFleets} from '../../sync/apply-failures.ts'
import {type CheckFinding, type DoctorCheck, fail, ok, skipped, warn} from '../check.ts'
import {type DoctorContext, SkipCheck} from '../context.ts'
import {asGiven, pathList, plural, SHOWN, someOf, withTilde} from '../../platform/text.ts'

const GROUP = 'Keys'

/** Encrypted files are named as the source repo has them (encrypted_private_dot_netrc.age). */
const inSource = {show: asGiven}

/** The files of a list of them (closed, unreadable), named as the source repo has them, at most SHOWN. */
function fileNames(files: Array<{file: string}>): string {
  const names = files.map(({file}) => file)
  return pathList(names, inSource)
}

/** This machine's fleet and its manifest, or SkipCheck naming which could not be read (its own check says why). */
async function enrolled(context: DoctorContext): Promise<{local: LocalFleet; fleet: Fleet}> {
  const local = await context.need("this machine's fleet", context.local())
  return {local, fleet: await context.need('the manifest', context.manifest())}
}

/** A path as a shell word a person can paste: `~/…` inside the home directory. */
function shellPath(context: DoctorContext, file: string): string {
  const relative = homeRelative(context.paths, file)
  return relative === undefined ? shellWord(file) : homeShellPath(relative)
}

/** Every key this machine holds, read whatever its mode (keys.mode reports that), shared by the checks. */
function heldKeys(context: DoctorContext): Promise<AgeIdentity[]> {
  return context.once('keys.held', () => machineKeys(context.paths, {allowExposed: true}))
}

/** The keys, or SkipCheck pointing at keys.identity (which says what is wrong with them). */
async function needKeys(context: DoctorContext): Promise<AgeIdentity[]> {
  return heldKeys(context).catch(() => {
    throw new SkipCheck("Skipped: this machine's key could not be read (see keys.identity).")
  })
}

/** The key files group or others can read: fleet refuses to use such a key. */
async function exposedKeyFiles(context: DoctorContext): Promise<Array<{file: string; mode: number}>> {
  const exposed: Array<{file: string; mode: number}> = []
  for (const file of heldKeyFiles(context.paths)) {
    const info = await stat(file).catch(() => undefined)
    if (info && (info.mode & 0o077) !== 0) exposed.push({file, mode: info.mode & 0o777})
  }
  return exposed
}

/** An encrypted file this machine's keys do not open, and why. */
interface Closed {
  file: string
  why: 'damaged' | 'not-for-this-key'
}

/**
 * Every encrypted file in the source repo, and those this machine's keys do not open (each decrypted in memory, one
 * after another until `signal` is aborted). Only for an active machine whose keys fleet uses (not readable by
 * others): otherwise SkipCheck says why.
 */
function openEncryptedFiles(context: DoctorContext, signal: AbortSignal): Promise<{files: string[]; closed: Closed[]}> {
  return context.once('keys.open', async () => {
    const {local, fleet} = await enrolled(context)
    const keys = await needKeys(context)
    if ((await exposedKeyFiles(context)).length > 0) throw new SkipCheck('Skipped: fleet decrypts nothing with a key others can read (see keys.mode).')
    const state = findMachine(fleet, local.machine)?.state
    if (state !== 'active')
      throw new SkipCheck(`Skipped: this machine is ${state ?? 'not on the roster'}: no file is encrypted for it (see the roster checks).`)
    const files = await encryptedFilesIn(local.paths.sourceDir)
    const closed: Closed[] = []
    for (const file of files) {
      signal.throwIfAborted()
      const bytes = await readFile(join(local.paths.sourceDir, file))
      await decryptWith(keys, bytes, file).catch((error: unknown) => {
        closed.push({file, why: error instanceof FleetError && error.code === 'DECRYPT_FAILED' ? 'not-for-this-key' : 'damaged'})
      })
    }
    return {files, closed}
  })
}

/**
 * The way back from a key file fleet cannot use. A broken key of a rotation beside a good current key is removed (the
 * rotation is started again if it was wanted). A lost or broken current key is put back from a copy; without one the
 * machine joins again under a new name, since the roster keeps the lost key under the old name and refuses another.
 */
async function identityFix(context: DoctorContext, error: FleetError): Promise<string> {
  const {paths} = context
  const current = await readIdentity(paths.identityFile, {allowExposed: true}).then(
    () => true,
    () => false,
  )
  const rm = (file: string) => `\`rm ${shellPath(context, file)}\``
  if (current && error.message.includes(paths.identityNextFile))
    return `This machine's key is fine; the new key a rotation made is not. Remove it (${rm(paths.identityNextFile)}), then run \`fleet rotate-keys\` again if you wanted a new key.`
  if (current && error.message.includes(paths.identityOldFile))
    return `This machine's key is fine; the old key kept during a rotation is not. If you have a copy of the old key, put it back; otherwise remove it (${rm(paths.identityOldFile)}) and run \`fleet sync\`.`
  if (error.code !== 'IDENTITY_MISSING' && error.code !== 'IDENTITY_INVALID') return error.fix ?? ''
  const local = await context.local()
  const fleet = await context.manifest().catch(() => undefined)
  const newName = `${local.machine}-2`
  const approvers = fleet ? activeMachines(fleet).filter((m) => m.name !== local.machine) : []
  const where = approvers.length > 0 ? ` (${approvers.map((m) => m.name).join(', ')})` : ''
  const key = shellPath(context, paths.identityFile)
  const aside = error.code === 'IDENTITY_INVALID' ? `move the broken key aside (\`mv ${key} ${key}.broken\`) and ` : ''
  return (
    `If you have a copy of this machine's key, put it back in ${key} (\`chmod 600 ${key}\`), then run \`fleet sync\`. ` +
    `Otherwise ${aside}join again under a new name (the roster keeps the lost key under ${local.machine} and refuses a new one there): ` +
    `\`${shellCommand('fleet', 'enroll', '--name', newName)}\` here, \`${shellCommand('fleet', 'machines', 'approve', newName)}\` on an active machine${where}, ` +
    `then \`${shellCommand('fleet', 'machines', 'revoke', local.machine)}\` there.`
  )
}

const identityCheck: DoctorCheck = {
  id: 'keys.identity',
  group: GROUP,
  async run(context) {
    await context.need("this machine's fleet", context.local())
    let keys: AgeIdentity[]
    try {
      keys = await heldKeys(context)
    } catch (error) {
      if (!(error instanceof FleetError)) throw error
      return fail(withTilde(context.paths.home, error.message), withTilde(context.paths.home, await identityFix(context, error)))
    }
    const [identity, ...others] = keys
    const during = others.length > 0 ? ` (and, for a key rotation, ${others.map((k) => context.tilde(k.file)).join(', ')})` : ''
    return ok(`${context.tilde(identity.file)} holds an age identity, ${KEY_TYPE_LABELS[identity.keyType]}${during}.`)
  },
}

const modeCheck: DoctorCheck = {
  id: 'keys.mode',
  group: GROUP,
  async run(context) {
    await context.need("this machine's fleet", context.local())
    const files = heldKeyFiles(context.paths)
    const exposed = await exposedKeyFiles(context)
    if (exposed.length === 0) return ok(`${files.map((f) => context.tilde(f)).join(', ')}: mode 0600, readable by you alone.`)
    const which = exposed.map(({file, mode}) => `${context.tilde(file)} has mode ${mode.toString(8).padStart(4, '0')}`).join(', ')
    return fail(
      `${which}: group or others can read the key, so fleet does not use it (no encrypted file is applied); if anyone else could have read it, rotate it too (\`fleet rotate-keys\`).`,
      `\`${['chmod', '600', ...exposed.map((e) => shellPath(context, e.file))].join(' ')}\``,
      true,
    )
  },
  async repair(context) {
    const changed: string[] = []
    for (const file of heldKeyFiles(context.paths)) if (await tightenMode(file)) changed.push(context.tilde(file))
    return `Set ${changed.join(', ') || 'the key files'} to mode 0600 (if anyone else could have read the key, rotate it: \`fleet rotate-keys\`).`
  },
}

const rosterCheck: DoctorCheck = {
  id: 'keys.roster',
  group: GROUP,
  async run(context) {
    const {local, fleet} = await enrolled(context)
    const keys = await needKeys(context)
    const entry = findMachine(fleet, local.machine)
    if (!entry) return skipped(`Skipped: ${local.machine} is not on the roster (see the roster checks).`)
    const problem = await keyNotTheFleets(local, keys)
    if (problem?.code === 'KEY_NOT_IN_ROSTER')
      return fail(withTilde(context.paths.home, problem.message), problem.fix && withTilde(context.paths.home, problem.fix))
    const held = keys.find((k) => k.recipient === entry.recipient)!
    return ok(`${context.tilde(held.file)} is the key the roster names for ${local.machine}.`)
  },
}

/**
 * The active machines (other than this one) that a file is encrypted for, as far as the record of what each file is
 * encrypted for tells (its recipient set matched against the roster's sets of machines); else, when the roster has a
 * single other active machine, that one (no other active machine could open it). Empty when neither can tell.
 */
async function openersOf(context: DoctorContext, local: LocalFleet, fleet: Fleet, file: string): Promise<string[]> {
  const others = fleet.machines.filter((m) => m.name !== local.machine)
  const active = new Set(activeMachines(fleet).map((m) => m.name))
  const recorded = (await readRecord(local.paths.sourceDir)).get(ciphertextHash(await readFile(join(local.paths.sourceDir, file))))
  if (recorded && others.length <= 12) {
    for (let subset = 1; subset < 1 << others.length; subset++) {
      const machines = others.filter((_, i) => subset & (1 << i))
      if (recipientSetFingerprint(machines.map((m) => m.recipient)) === recorded) return machines.filter((m) => active.has(m.name)).map((m) => m.name)
    }
  }
  const otherActive = others.filter((m) => active.has(m.name)).map((m) => m.name)
  return otherActive.length === 1 ? otherActive : []
}

/**
 * The fix for files this machine's keys do not open: a damaged one from history; one for other keys re-encrypted for
 * every active machine by `fleet doctor --fix` on a machine that opens it (a sync there changes nothing: it
 * re-encrypts only what it writes), then a sync here.
 */
async function closedFix(context: DoctorContext, sourceDir: string, closed: Closed[]): Promise<string> {
  const fixes: string[] = []
  const damaged = closed.filter((c) => c.why === 'damaged').map((c) => c.file)
  if (damaged.length > 0) {
    const repo = shellPath(context, sourceDir)
    fixes.push(
      `A damaged file: find its last good version (\`git -C ${repo} log -- ${shellWord(damaged[0])}\`), take it back (\`git -C ${repo} checkout <commit> -- ${shellWord(damaged[0])}\`), then \`fleet sync\`; or save the file again on a machine that has it.`,
    )
  }
  const notForThisKey = closed.find((c) => c.why === 'not-for-this-key')
  if (notForThisKey) {
    const {local, fleet} = await enrolled(context)
    const openers = await openersOf(context, local, fleet, notForThisKey.file)
    const where =
      openers.length > 0
        ? `on ${openers.length === 1 ? openers[0] : `one of ${openers.join(', ')}`} (an active machine that opens it)`
        : 'on an active machine that opens it'
    fixes.push(
      `A file not encrypted for this key: run \`fleet doctor --fix\` ${where}: it re-encrypts the file for every active machine and pushes. Then run \`fleet sync\` here.`,
    )
  }
  return fixes.join(' ')
}

const decryptCheck: DoctorCheck = {
  id: 'keys.decrypt',
  group: GROUP,
  async run(context, signal) {
    const local = await context.need("this machine's fleet", context.local())
    const {files, closed} = await openEncryptedFiles(context, signal)
    if (files.length === 0) return ok('The fleet has no encrypted files.')
    if (closed.length === 0)
      return ok(files.length === 1 ? "This machine's key opens the one encrypted file." : `This machine's key opens all ${files.length} encrypted files.`)
    const why = closed.map((c) => `${c.file} (${c.why === 'damaged' ? 'damaged' : 'not encrypted for this key'})`)
    const named = someOf(why, SHOWN)
    return fail(
      `${closed.length} of ${plural(files.length, 'encrypted file')} ${closed.length === 1 ? 'does' : 'do'} not open with this machine's key: ${named}.`,
      await closedFix(context, local.paths.sourceDir, closed),
    )
  },
}

const recipientsCheck: DoctorCheck = {
  id: 'keys.recipients',
  repairNeedsForge: true,
  group: GROUP,
  async run(context, signal) {
    const {local, fleet} = await enrolled(context)
    const recipients = activeRecipients(fleet)
    const files = await encryptedFilesIn(local.paths.sourceDir)
    const drifted = await filesNotFor(local.paths.sourceDir, files, recipients)
    const machines = recipients.length === 1 ? 'the one active machine' : `the ${plural(recipients.length, 'active machine')}`
    if (drifted.length === 0) {
      if (files.length === 0) return ok('The fleet has no encrypted files.')
      return ok(
        files.length === 1 ? `The one encrypted file is encrypted for ${machines}.` : `All ${files.length} encrypted files are encrypted for ${machines}.`,
      )
    }
    const what = `${plural(drifted.length, 'encrypted file')} ${drifted.length === 1 ? 'is' : 'are'} not encrypted for exactly ${machines}: ${pathList(drifted, inSource)}`
    if (findMachine(fleet, local.machine)?.state !== 'active') {
      return warn(`${what}.`, 'Run `fleet doctor --fix` on an active machine: it re-encrypts them for the active machines and pushes.')
    }
    // A file this machine cannot open cannot be re-encrypted here: keys.decrypt names it, with its fix.
    const closed = await openEncryptedFiles(context, signal).then(
      (opened) => opened.closed.filter((c) => drifted.includes(c.file)),
      () => [] as Closed[],
    )
    if (closed.length === drifted.length)
      return warn(
        `${what}; this machine cannot open ${drifted.length === 1 ? 'it' : 'them'} (see keys.decrypt).`,
        await closedFix(context, local.paths.sourceDir, closed),
      )
    const left = closed.length > 0 ? `; ${fileNames(closed)} cannot be opened here (see keys.decrypt)` : ''
    return warn(`${what}${left}.`, 'Run `fleet doctor --fix`: it re-encrypts them for the active machines, commits and pushes.', true)
  },
  async repair(context) {
    const local = await context.local()
    const {reencrypted, unreadable, recipients, pushed} = await reencryptDriftedFiles(local)
    if (reencrypted.length === 0 && unreadable.length > 0) {
      throw new FleetError(`None of the files could be re-encrypted here: ${fileNames(unreadable)}.`, {
        code: 'REENCRYPT_FAILED',
        fix: unreadable[0].fix && withTilde(context.paths.home, unreadable[0].fix),
      })
    }
    const left = unreadable.length > 0 ? `; left as they were: ${fileNames(unreadable)} (see keys.decrypt)` : ''
    return `Re-encrypted ${plural(reencrypted.length, 'file')} for the ${plural(recipients, 'active machine')} and pushed ${plural(pushed, 'commit')}${left}.`
  },
}

/** A rotation of this machine's key that stopped, in words. */
const UNFINISHED: Record<Exclude<KeyRotationPhase, 'none'>, string> = {
  'new-key': 'the new key is made (identity.txt.next), the roster does not name it yet',
  'on-roster': 'the roster names the new key; the key files are not swapped yet',
  swapped: 'the key files are swapped; the old key (identity.txt.old) is kept until every encrypted file at the forge opens with the new one',
}

/** Where a rotation of this machine's key stands; a key file fleet cannot read mid-rotation still says one is under way. */
async function rotationPhase(context: DoctorContext, me: Machine | undefined): Promise<KeyRotationPhase> {
  const {paths} = context
  return keyRotationPhase(paths, me).catch(() => (heldKeyFiles(paths).includes(paths.identityNextFile) ? 'new-key' : 'swapped'))
}

const rotationCheck: DoctorCheck = {
  id: 'keys.rotation',
  repairNeedsForge: true,
  group: GROUP,
  async run(context): Promise<CheckFinding> {
    const {local, fleet} = await enrolled(context)
    // A key file that cannot be read (a broken new key of a rotation) is keys.identity's, with its way back: finishing
    // the rotation would stop at it.
    await needKeys(context)
    const me = findMachine(fleet, local.machine)
    const phase = await rotationPhase(context, me)
    if (phase !== 'none')
      return warn(`A rotation of this machine's key is half done: ${UNFINISHED[phase]}.`, 'Finish it: run `fleet rotate-keys --yes` (or `fleet sync`).', true)
    const requested = fleet.settings.rotationRequestedAt
    if (requested && me?.state === 'active' && machinesOnOldKeys(fleet).includes(local.machine)) {
      return warn(
        `The fleet asked every machine to rotate its key (${requested}); this machine has not yet.`,
        "Run `fleet sync`: it rotates this machine's key.",
      )
    }
    return ok(requested ? `No rotation under way; this machine's key is newer than the fleet's request (${requested}).` : 'No key rotation under way.')
  },
  async repair(context) {
    const report = await rotateOwnKey(await context.local(), {
      async runSteps(steps) {
        for (const step of steps) await step.run()
      },
    })
    const left = report.unreadable.length > 0 ? `; left to re-encrypt: ${fileNames(report.unreadable)}` : ''
    const oldKey = report.oldKeyRemoved ? 'the old key is removed' : `the old key is kept: ${report.oldKeyKept ?? 'files at the forge still need it'}`
    return withTilde(context.paths.home, `Finished the rotation of this machine's key: ${oldKey}${left}.`)
  },
}

/** The Keys group's checks, in the order they are shown (and repaired: the mode before the rotation). */
export const keyChecks: DoctorCheck[] = [identityCheck, modeCheck, rosterCheck, decryptCheck, recipientsCheck, rotationCheck]
