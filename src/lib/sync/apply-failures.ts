// Targets from the fleet that chezmoi could not apply here, said in a person's words with the fix. chezmoi's own
// reasons are raw ("invalid armor: …", "open …: no such file or directory"): an encrypted one is explained by what
// is wrong — this machine's key (missing, not a key, readable by others), or the ciphertext itself (damaged, or
// encrypted to other keys only) — naming the commit that brought it and how to get the last good version back.
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {TargetFailure} from '../chezmoi/chezmoi.ts'
import {errorMessage, FleetError} from '../errors/index.ts'
import {shellCommand} from '../errors/shell-command.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {decryptWith, isEncryptedSourceFile} from '../keys/crypto.ts'
import type {AgeIdentity} from '../keys/identity.ts'
import {machineKeys} from '../keys/key-files.ts'
import {findMachine} from '../manifest/lookup.ts'
import {readManifest} from '../manifest/store.ts'
import {relativeWithin} from '../platform/paths.ts'
import {pathList} from '../platform/text.ts'

/** Why an encrypted source file does not open with this machine's key. */
type Undecryptable = 'damaged' | 'not-a-recipient'

/** A recipient as a person compares them: a post-quantum one is about 2,000 characters. */
function shortRecipient(recipient: string): string {
  return recipient.length > 28 ? `${recipient.slice(0, 16)}…${recipient.slice(-8)}` : recipient
}

/** One failed target, explained: the line that says what happened, and the fix for it. */
interface Explained {
  line: string
  fix: string
  kind?: Undecryptable
}

/** The commit that last changed a source entry (who made it, what it said), and the newest earlier one this key opens. */
interface History {
  summary: string
  lastReadable?: string
}

/** Targets from the fleet that chezmoi could not apply here: each with what happened and the fix (see the header). */
export async function applyFailedError(local: LocalFleet, failed: TargetFailure[]): Promise<FleetError> {
  const sources = await Promise.all(
    failed.map((f) =>
      local.chezmoi.sourcePaths([join(local.paths.home, f.path)]).then(
        ([s]) => s,
        () => undefined,
      ),
    ),
  )
  const encrypted = failed.filter((_, i) => sources[i] !== undefined && isEncryptedSourceFile(sources[i]))
  // Every key this machine holds (two during a rotation), the identity file's first.
  const keys = encrypted.length > 0 ? await machineKeys(local.paths).catch((error: unknown) => asFleetError(error)) : undefined
  if (keys instanceof FleetError) return identityFailure(local, keys, failed, sources)
  const notTheFleets = keys && (await keyNotTheFleets(local, keys))
  if (notTheFleets) return identityFailure(local, notTheFleets, failed, sources)
  const explained: Explained[] = []
  for (const [i, failure] of failed.entries()) {
    const source = sources[i]
    const why = keys && source && isEncryptedSourceFile(source) ? await whyUndecryptable(keys, source) : undefined
    explained.push(why ? await explainUndecryptable(local, keys!, failure, source!, why) : explainOther(local, failure, source))
  }
  const kinds = new Set(explained.map((e) => e.kind))
  const code =
    kinds.size === 1 && kinds.has('damaged') ? 'CIPHERTEXT_DAMAGED' : kinds.size === 1 && kinds.has('not-a-recipient') ? 'NOT_A_RECIPIENT' : 'APPLY_FAILED'
  const names = pathList(failed.map((f) => f.path))
  return new FleetError(`chezmoi could not apply ${names} here (everything else was applied):\n${explained.map((e) => `  ${e.line}`).join('\n')}`, {
    code,
    fix: explained.length === 1 ? explained[0].fix : explained.map((e, i) => `\n  ~/${failed[i].path}: ${e.fix}`).join(''),
  })
}

function asFleetError(error: unknown): FleetError {
  if (error instanceof FleetError) return error
  return new FleetError(`This machine's age identity could not be read: ${errorMessage(error)}`, {code: 'IDENTITY_UNREADABLE', cause: error})
}

/**
 * What is wrong with this machine's key, if anything (for `fleet status`): missing, not a key, readable by others, or
 * not the key the roster holds for this machine.
 */
export async function identityProblem(local: LocalFleet): Promise<FleetError | undefined> {
  return (await heldIdentity(local)).problem
}

/**
 * This machine's key as it holds it (reading each key file once: deriving a hybrid key's recipient costs tens of
 * milliseconds): the recipient of its identity file, and what is wrong with it (see identityProblem).
 */
export async function heldIdentity(local: LocalFleet): Promise<{recipient?: string; problem?: FleetError}> {
  const keys = await machineKeys(local.paths).catch((error: unknown) => asFleetError(error))
  if (keys instanceof FleetError) return {problem: keys}
  const problem = await keyNotTheFleets(local, keys)
  return {recipient: keys[0]?.recipient, problem: problem?.code === 'KEY_NOT_IN_ROSTER' ? problem : undefined}
}

/**
 * This machine's key is not the one the fleet encrypts for: a pending machine (not approved yet), or a key made anew
 * (a lost key replaced by `fleet enroll`) while the roster still holds the old one. Every encrypted file then fails,
 * and the fix is about the key, never about the files.
 */
export async function keyNotTheFleets(local: LocalFleet, keys: AgeIdentity[]): Promise<FleetError | undefined> {
  const fleet = await readManifest(local.paths.sourceDir).catch(() => undefined)
  const entry = fleet && findMachine(fleet, local.machine)
  if (!entry) return undefined
  const [identity] = keys
  const held = keys.some((key) => key.recipient === entry.recipient)
  if (entry.state !== 'active' && held) {
    return new FleetError(`This machine (${local.machine}) is ${entry.state}, not active: the fleet's encrypted files are not encrypted to its key.`, {
      code: 'NOT_ACTIVE',
      fix:
        entry.state === 'pending'
          ? `On an active machine, run \`${shellCommand('fleet', 'machines', 'approve', local.machine)}\`; this machine's next sync then applies them.`
          : `A revoked key never returns: move ${identity.file} aside, run \`fleet enroll --name <new name>\` here, then \`fleet machines approve <new name>\` on an active machine.`,
    })
  }
  if (held) return undefined
  return new FleetError(
    `This machine's age identity ${identity.file} is not the key the fleet knows for ${local.machine} (the roster has ${shortRecipient(entry.recipient)}; this key is ${shortRecipient(identity.recipient)}): the fleet's encrypted files are not encrypted to it.`,
    {
      code: 'KEY_NOT_IN_ROSTER',
      fix: `If you have this machine's previous key, put it back in ${identity.file} (\`${shellCommand('chmod', '600', identity.file)}\`), then run \`fleet sync\`. Otherwise this machine joins again under a new name (a revoked name is never taken again): \`fleet enroll --name <new-name>\` here, then \`fleet machines approve <new-name>\` on an active machine, and \`${shellCommand('fleet', 'machines', 'revoke', local.machine)}\` there so the old key reads nothing new.`,
    },
  )
}

/** This machine's key is the trouble (missing, not a key, readable by others): one error for every encrypted file, and its fix. */
function identityFailure(local: LocalFleet, identity: FleetError, failed: TargetFailure[], sources: Array<string | undefined>): FleetError {
  const encrypted = failed.filter((_, i) => sources[i] !== undefined && isEncryptedSourceFile(sources[i]))
  const others = failed.map((f, i) => ({failure: f, source: sources[i]})).filter(({source}) => source === undefined || !isEncryptedSourceFile(source))
  const count = encrypted.length === 1 ? '1 encrypted file was' : `${encrypted.length} encrypted files were`
  const lines = [
    `${identity.message} ${count} not applied here, each left as it was (everything else was applied): ${pathList(encrypted.map((f) => f.path))}`,
    ...others.map(({failure, source}) => `  ${explainOther(local, failure, source).line}`),
  ]
  return new FleetError(lines.join('\n'), {code: identity.code, fix: identity.fix, cause: identity})
}

/** Why this machine's keys do not open the file (decryptWith tells the two apart), or undefined when they do. */
async function whyUndecryptable(keys: AgeIdentity[], source: string): Promise<Undecryptable | undefined> {
  const bytes = await readFile(source).catch(() => undefined)
  return bytes === undefined ? undefined : whyUndecryptableBytes(keys, bytes, source)
}

async function whyUndecryptableBytes(keys: AgeIdentity[], bytes: Uint8Array, source: string): Promise<Undecryptable | undefined> {
  const code = await decryptWith(keys, bytes, source).then(
    () => undefined,
    (error: unknown) => (error instanceof FleetError ? error.code : 'CIPHERTEXT_CORRUPT'),
  )
  if (code === undefined) return undefined
  return code === 'DECRYPT_FAILED' ? 'not-a-recipient' : 'damaged'
}

async function explainUndecryptable(local: LocalFleet, keys: AgeIdentity[], failure: TargetFailure, source: string, why: Undecryptable): Promise<Explained> {
  const entry = relativeWithin(local.paths.sourceDir, source) ?? source
  const history = await historyOf(local, keys, entry)
  const what =
    why === 'damaged'
      ? `its encrypted source ${entry} is damaged (truncated or corrupt; age said: ${failure.reason})`
      : `its encrypted source ${entry} is not encrypted to this machine's key (it is for other keys only)`
  const came = history ? `; it came with commit ${history.summary}` : ''
  const line = `~/${failure.path}: ${what}${came}. ~/${failure.path} was left as it was.`
  const resaveThere = `have it saved again on a machine whose key opens it (edit ~/${failure.path} there and run \`fleet sync\`: fleet encrypts it for every active machine)`
  if (!history?.lastReadable) {
    // No version here to go back to: removing the entry would delete the file on every machine, so that comes last.
    const fix = `No version of it in the source's history opens with this machine's key: ${resaveThere}. Only if no machine can read it, remove it from the fleet: \`${shellCommand('git', '-C', local.paths.sourceDir, 'rm', '--', entry)}\`, then \`fleet sync\`.`
    return {line, fix, kind: why}
  }
  const restore = `Restore the last version this machine can read: \`${shellCommand('git', '-C', local.paths.sourceDir, 'checkout', history.lastReadable, '--', entry)}\`, then \`fleet sync\` (it commits the restored version and pushes it).`
  const resave =
    why === 'damaged'
      ? ` If that commit was a change you want, make it again afterwards on a machine that has the file: edit ~/${failure.path} there and run \`fleet sync\`.`
      : ` Or, to keep that commit's contents, ${resaveThere}.`
  return {line, fix: restore + resave, kind: why}
}

/** A failure that is not about decryption: chezmoi's reason, and the source entry to correct or remove. */
function explainOther(local: LocalFleet, failure: TargetFailure, source: string | undefined): Explained {
  const remove = source
    ? shellCommand('git', '-C', local.paths.sourceDir, 'rm', '--', source)
    : `${shellCommand('git', '-C', local.paths.sourceDir, 'rm', '--')} <source entry>`
  return {
    line: `~/${failure.path}: ${failure.reason}${source ? ` (source entry ${source})` : ''}`,
    fix: `Correct the entry on the machine that made it and run \`fleet sync\` there, or remove it from the fleet: ${remove}, then \`fleet sync\`. This machine applies it at its next sync once it can.`,
  }
}

/** How many earlier versions of an entry are tried for one this key opens. */
const VERSIONS_TRIED = 20

/** The commit that last changed `entry` in the source repo, and the newest version before it that this key opens. */
async function historyOf(local: LocalFleet, keys: AgeIdentity[], entry: string): Promise<History | undefined> {
  const result = await local.repo.git(['log', `--max-count=${VERSIONS_TRIED}`, '--format=%h%x00%an%x00%s', '--', entry], {allowFailure: true})
  const commits = result.exitCode === 0 ? result.stdout.split('\n').filter(Boolean) : []
  if (commits.length === 0) return undefined
  const [commit, author, subject] = commits[0].split('\0')
  for (const line of commits.slice(1)) {
    const [older] = line.split('\0')
    const bytes = await local.repo.blobBytes(`${older}:${entry}`)
    if (bytes === undefined) break // removed then: nothing older is this file
    if ((await whyUndecryptableBytes(keys, bytes, entry)) === undefined) return {summary: `${commit} (${author}: ${subject})`, lastReadable: older}
  }
  return {summary: `${commit} (${author}: ${subject})`}
}
