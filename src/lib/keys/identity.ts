// This machine's age identity: created once, exclusively, with mode 0600; never replaced, never copied off the
// machine. Files in age-keygen's format (comments, blank lines, one key) are read as well.
import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {chmod, link, mkdir, open, readFile, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {FleetError} from '../errors/index.ts'
import {shellCommand} from '../errors/shell-command.ts'
import type {KeyType} from '../manifest/schema.ts'

export interface AgeIdentity {
  file: string
  /** The secret key line. Kept in memory only; never logged. */
  secret: string
  recipient: string
  keyType: KeyType
}

export function keyTypeOfRecipient(recipient: string): KeyType {
  return recipient.startsWith('age1pq1') ? 'pq' : 'x25519'
}

export const KEY_TYPE_LABELS: Record<KeyType, string> = {
  pq: 'hybrid post-quantum (ML-KEM-768 + X25519)',
  x25519: 'X25519',
}

/** What a machine whose key is replaced must do to be let in again, as a part of a fix. */
const REJOIN =
  'join again under a new name (the roster keeps the lost key under the old one, so a new key under the same name is refused): `fleet enroll --name <new-name>` here, then `fleet machines approve <new-name>` on an active machine, and `fleet machines revoke <old-name>` there so the lost key reads nothing new'

/** The file is not an age key (or not a valid one), with the fix. */
function invalidIdentity(file: string, cause?: unknown): FleetError {
  return new FleetError(`${file} is not an age identity file (expected one AGE-SECRET-KEY-… line).`, {
    code: 'IDENTITY_INVALID',
    fix: `If you have a copy of this machine's key, put it back in ${file} (\`${shellCommand('chmod', '600', file)}\`). Otherwise move ${file} aside (do not delete it if it is a key you still need) and ${REJOIN}.`,
    cause,
  })
}

/** The key line of an age-keygen identity file: comments and blank lines are skipped. */
export function parseIdentityFile(text: string, file: string): string {
  const keys = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  if (keys.length !== 1 || !/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(keys[0])) throw invalidIdentity(file)
  return keys[0]
}

/**
 * This machine's identity, read and checked: a missing file, a file that is not an age key, and a key file that group
 * or others can read (the key may have been copied: refused before anything is decrypted with it) are each a
 * FleetError naming the file and the fix. `allowExposed`: read a key others can read all the same (for `fleet
 * doctor`, which reports its mode as a finding of its own).
 */
export async function readIdentity(file: string, options: {allowExposed?: boolean} = {}): Promise<AgeIdentity> {
  let text: string
  try {
    if (!options.allowExposed) await refuseExposedIdentity(file)
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new FleetError(`This machine's age identity ${file} is missing: this machine cannot decrypt the fleet's encrypted files.`, {
        code: 'IDENTITY_MISSING',
        fix: `If you have a copy of this machine's key, put it back in ${file} (\`${shellCommand('chmod', '600', file)}\`), then run \`fleet sync\`. Otherwise ${REJOIN}.`,
      })
    }
    if (code === 'EACCES' || code === 'EISDIR') {
      throw new FleetError(`This machine's age identity ${file} cannot be read (${code === 'EISDIR' ? 'it is a directory' : 'permission denied'}).`, {
        code: 'IDENTITY_UNREADABLE',
        fix: `Make ${file} a file you own with mode 0600 (ls -l shows who owns it): \`${shellCommand('chmod', '600', file)}\`.`,
      })
    }
    throw error
  }
  const secret = parseIdentityFile(text, file)
  const {identityToRecipient} = await import('age-encryption')
  // A line of the right shape can still be no key (a bad checksum, a truncated copy).
  const recipient = await identityToRecipient(secret).catch((error: unknown) => {
    throw invalidIdentity(file, error)
  })
  return {file, secret, recipient, keyType: keyTypeOfRecipient(recipient)}
}

/**
 * Refuse a key file that group or others can read: the key may have been copied, so it is not used, and fixing the
 * mode silently would hide that. A missing file is not refused here: readIdentity says it is missing, and a sync
 * applies everything but the encrypted files.
 */
export async function refuseExposedIdentity(file: string): Promise<void> {
  const info = await stat(file).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  })
  if (info === undefined || (info.mode & 0o077) === 0) return
  const {mode} = info
  const octal = (mode & 0o777).toString(8).padStart(4, '0')
  throw new FleetError(
    `This machine's age identity ${file} is readable by ${mode & 0o007 ? 'others' : 'its group'} (mode ${octal}): the key may have been exposed, so fleet does not use it.`,
    {
      code: 'IDENTITY_EXPOSED',
      fix: `Run \`${shellCommand('chmod', '600', file)}\`, then the command again. If anyone else could have read the key (a shared machine, a backup, a synced folder), rotate it: \`fleet rotate-keys\`.`,
    },
  )
}

/** Group or others can read the file: fix it to 0600 and say so. Returns true when the mode was changed. */
export async function tightenMode(file: string): Promise<boolean> {
  const {mode} = await stat(file)
  if ((mode & 0o077) === 0) return false
  await chmod(file, 0o600)
  return true
}

export async function generateIdentityText(keyType: KeyType): Promise<{secret: string; recipient: string; text: string}> {
  const {generateHybridIdentity, generateX25519Identity, identityToRecipient} = await import('age-encryption')
  const secret = keyType === 'pq' ? await generateHybridIdentity() : await generateX25519Identity()
  const recipient = await identityToRecipient(secret)
  const text = `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${secret}\n`
  return {secret, recipient, text}
}

/**
 * Create the identity file, or reuse the one that exists. The key is written to a private temporary file and
 * hard-linked into place: the link fails if the file exists, so a key is never overwritten (even by two enrolls
 * at once) and a killed enroll never leaves a half-written key behind.
 */
export async function ensureIdentity(file: string, keyType: KeyType): Promise<{identity: AgeIdentity; created: boolean; modeFixed: boolean}> {
  await mkdir(dirname(dirname(file)), {recursive: true})
  await mkdir(dirname(file), {recursive: true, mode: 0o700})
  // enroll fixes the mode (and says so) before reading the key: readIdentity refuses a key that others can read.
  const reuse = async () => {
    const modeFixed = await tightenMode(file)
    return {identity: await readIdentity(file), created: false, modeFixed}
  }
  if (existsSync(file)) return reuse()
  const {secret, recipient, text} = await generateIdentityText(keyType)
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`
  const handle = await open(temporary, 'wx', 0o600)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await link(temporary, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return reuse()
    throw error
  } finally {
    await rm(temporary, {force: true})
  }
  return {identity: {file, secret, recipient, keyType}, created: true, modeFixed: false}
}
