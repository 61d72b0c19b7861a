// This machine's age identity: created once, exclusively, with mode 0600; never replaced, never copied off the
// machine. Files in age-keygen's format (comments, blank lines, one key) are read as well.
import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {chmod, link, mkdir, open, readFile, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {FleetError} from '../errors/index.ts'
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

/** The key line of an age-keygen identity file: comments and blank lines are skipped. */
export function parseIdentityFile(text: string, file: string): string {
  const keys = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  if (keys.length !== 1 || !/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(keys[0])) {
    throw new FleetError(`${file} is not an age identity file (expected one AGE-SECRET-KEY-… line).`, {
      code: 'IDENTITY_INVALID',
      fix: `Move ${file} aside (do not delete it if it is a key you still need) and run \`fleet enroll\` again to create a new one.`,
    })
  }
  return keys[0]
}

export async function readIdentity(file: string): Promise<AgeIdentity> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FleetError(`This machine's age identity ${file} is missing.`, {code: 'IDENTITY_MISSING', fix: 'Run `fleet enroll` to create it.'})
    }
    throw error
  }
  const secret = parseIdentityFile(text, file)
  const {identityToRecipient} = await import('age-encryption')
  const recipient = await identityToRecipient(secret)
  return {file, secret, recipient, keyType: keyTypeOfRecipient(recipient)}
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
  const reuse = async () => ({identity: await readIdentity(file), created: false, modeFixed: await tightenMode(file)})
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
