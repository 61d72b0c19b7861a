// age encryption in-process (the age-encryption package): re-encrypting the source repo's encrypted files for
// a new recipient set, and verifying the result. Plaintext only ever lives in memory here.
import {readFile, stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import {FleetError} from '../errors/index.ts'
import type {AgeIdentity} from './identity.ts'

/** The recipients every encrypted file is for: the active machines' public keys. */
/** chezmoi names an encrypted source file `encrypted_…` (after an optional `create_`) with the suffix `.age`. */
export function isEncryptedSourceFile(path: string): boolean {
  return /^(create_)?encrypted_/.test(basename(path)) && path.endsWith('.age')
}

const ARMOR_HEADER = '-----BEGIN AGE ENCRYPTED FILE-----'

/** age-encryption is loaded when first needed: most syncs encrypt nothing, and start-up stays light. */
function age() {
  return import('age-encryption')
}

async function unarmor(data: Uint8Array): Promise<Uint8Array> {
  const text = Buffer.from(data).toString('latin1')
  return text.trimStart().startsWith(ARMOR_HEADER) ? (await age()).armor.decode(text) : data
}

/** Recipient stanzas in an age header, one per recipient the file was encrypted to. */
export async function recipientStanzaCount(ciphertext: Uint8Array): Promise<number> {
  const binary = await unarmor(ciphertext)
  const headerEnd = Buffer.from(binary).indexOf('\n---')
  const header = Buffer.from(binary.subarray(0, headerEnd)).toString('latin1')
  return header.split('\n').filter((line) => line.startsWith('-> ') && !/^-> [^ ]*-grease/.test(line)).length
}

export async function encryptTo(recipients: string[], plaintext: Uint8Array | string): Promise<string> {
  if (recipients.length === 0) throw new FleetError('There is no active machine to encrypt for.', {code: 'NO_RECIPIENTS'})
  const {armor, Encrypter} = await age()
  const encrypter = new Encrypter()
  for (const recipient of recipients) encrypter.addRecipient(recipient)
  return armor.encode(await encrypter.encrypt(plaintext))
}

export async function decryptWith(identity: AgeIdentity, ciphertext: Uint8Array, file: string): Promise<Uint8Array> {
  const decrypter = new (await age()).Decrypter()
  decrypter.addIdentity(identity.secret)
  try {
    return await decrypter.decrypt(await unarmor(ciphertext))
  } catch (error) {
    throw new FleetError(`${file} cannot be decrypted with this machine's key (${identity.file}).`, {
      code: 'DECRYPT_FAILED',
      fix: 'This machine may not be active yet, or the file was encrypted before it was approved. Ask an active machine to run `fleet machines approve <this machine>`.',
      cause: error,
    })
  }
}

/**
 * Re-encrypt every encrypted file in the source repo for `recipients`, then verify each one: it decrypts with
 * this machine's key to the same plaintext and carries one stanza per recipient. Returns the files rewritten.
 */
export async function reencryptSource(sourceDir: string, files: string[], identity: AgeIdentity, recipients: string[]): Promise<string[]> {
  const planned: Array<{relative: string; path: string; ciphertext: string; mode: number}> = []
  for (const relative of files.filter(isEncryptedSourceFile)) {
    const path = join(sourceDir, relative)
    const plaintext = await decryptWith(identity, await readFile(path), relative)
    const ciphertext = await encryptTo(recipients, plaintext)
    const check = await decryptWith(identity, Buffer.from(ciphertext), relative)
    if (Buffer.compare(Buffer.from(check), Buffer.from(plaintext)) !== 0 || (await recipientStanzaCount(Buffer.from(ciphertext))) !== recipients.length) {
      throw new FleetError(`Re-encrypting ${relative} did not verify; nothing was written.`, {code: 'REENCRYPT_VERIFY'})
    }
    planned.push({relative, path, ciphertext, mode: (await stat(path)).mode & 0o777})
  }
  // Written only once every file has verified.
  for (const {path, ciphertext, mode} of planned) await writeFileAtomic(path, ciphertext, {mode})
  return planned.map((p) => p.relative)
}
