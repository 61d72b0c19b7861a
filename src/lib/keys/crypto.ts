// age encryption in-process (the age-encryption package): re-encrypting the source repo's encrypted files for
// a new recipient set, and verifying the result. Plaintext only ever lives in memory here.
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import {FleetError} from '../errors/index.ts'
import {asGiven, pathList, someLines} from '../platform/text.ts'
import type {AgeIdentity} from './identity.ts'
import {isEncryptedSourceFile, recordEncryptions} from './record.ts'

export {isEncryptedSourceFile}

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

/** typage's words for a well-formed file none of the given keys is a recipient of; anything else it throws means damage. */
const NOT_A_RECIPIENT = /no identity matched any of the file's recipients/

/**
 * Decrypt with any of `identities` (a machine holds two keys during a rotation). A file none of them is a recipient of
 * fails with DECRYPT_FAILED; a file that is not age ciphertext, or is truncated or damaged, with CIPHERTEXT_CORRUPT.
 */
export async function decryptWith(identities: AgeIdentity | AgeIdentity[], ciphertext: Uint8Array, file: string): Promise<Uint8Array> {
  const keys = Array.isArray(identities) ? identities : [identities]
  const decrypter = new (await age()).Decrypter()
  for (const identity of keys) decrypter.addIdentity(identity.secret)
  try {
    return await decrypter.decrypt(await unarmor(ciphertext))
  } catch (error) {
    const keyFiles = keys.map((k) => k.file).join(', ')
    if (error instanceof Error && NOT_A_RECIPIENT.test(error.message)) {
      throw new FleetError(`${file} cannot be decrypted with this machine's key (${keyFiles}): it was not encrypted for it.`, {
        code: 'DECRYPT_FAILED',
        fix: 'This machine may not be active yet, or the file was encrypted before it was approved or rotated its key. Run `fleet sync` on an active machine that can read it (it re-encrypts the file for every active machine), or ask one to run `fleet machines approve <this machine>`.',
        cause: error,
      })
    }
    throw new FleetError(`${file} is not readable age ciphertext (damaged or truncated: ${error instanceof Error ? error.message : String(error)}).`, {
      code: 'CIPHERTEXT_CORRUPT',
      fix: `Take a good version from the source repo's history (git log -- ${file}, then git checkout <commit> -- ${file}) or remove it (git rm -- ${file}) and add the file again from a machine that has it; then \`fleet sync\`.`,
      cause: error,
    })
  }
}

/** A file a re-encryption left as it was, and why: not for this machine's keys, damaged, or a result that did not verify. */
export interface ReencryptFailure {
  file: string
  code: string
  message: string
  fix?: string
}

/** What a re-encryption did: the files rewritten (each verified), and the files left as they were, each with why. */
export interface Reencryption {
  rewritten: string[]
  failed: ReencryptFailure[]
}

/** How reencryptSource reads and checks: the keys it decrypts with, and the key each result must open with. */
export interface ReencryptKeys {
  /** Every key this machine holds (during a rotation: the current one, the new one and the old one). */
  read: AgeIdentity[]
  /** The key every new ciphertext must open with (its recipient is one of the set): the new one during a rotation. */
  verify: AgeIdentity
}

function failureOf(file: string, error: unknown): ReencryptFailure {
  if (error instanceof FleetError) return {file, code: error.code, message: error.message, fix: error.fix}
  return {file, code: 'REENCRYPT_FAILED', message: `${file}: ${error instanceof Error ? error.message : String(error)}`}
}

/**
 * Re-encrypt each encrypted file among `files` (relative to the source repo) for `recipients`. A file that cannot be
 * opened never stops the others: it is left as it is and reported (failed). Each new ciphertext is verified before it
 * is written (it opens with `keys.verify` to the same plaintext and carries one stanza per recipient), then written
 * atomically, and recorded as encrypted for `recipients` (see record.ts).
 */
export async function reencryptSource(sourceDir: string, files: string[], keys: AgeIdentity | ReencryptKeys, recipients: string[]): Promise<Reencryption> {
  const {read, verify} = 'read' in keys ? keys : {read: [keys], verify: keys}
  if (!recipients.includes(verify.recipient)) {
    throw new FleetError(`Re-encrypting for a set without this machine's key (${verify.file}) could not be verified; nothing was written.`, {
      code: 'REENCRYPT_VERIFY',
      fix: 'Run the command on a machine that stays among the active machines.',
    })
  }
  const result: Reencryption = {rewritten: [], failed: []}
  const written: Array<{ciphertext: string; recipients: string[]}> = []
  for (const relative of files.filter(isEncryptedSourceFile)) {
    const path = join(sourceDir, relative)
    try {
      const plaintext = await decryptWith(read, await readFile(path), relative)
      const ciphertext = await encryptTo(recipients, plaintext)
      const check = await decryptWith(verify, Buffer.from(ciphertext), relative)
      if (Buffer.compare(Buffer.from(check), Buffer.from(plaintext)) !== 0 || (await recipientStanzaCount(Buffer.from(ciphertext))) !== recipients.length) {
        throw new FleetError(`Re-encrypting ${relative} did not verify; it was left as it was.`, {code: 'REENCRYPT_VERIFY'})
      }
      await writeFileAtomic(path, ciphertext, {mode: (await stat(path)).mode & 0o777})
      written.push({ciphertext, recipients})
      result.rewritten.push(relative)
    } catch (error) {
      result.failed.push(failureOf(relative, error))
    }
  }
  if (written.length > 0) await recordEncryptions(sourceDir, written)
  return result
}

/** The files a re-encryption could not open, one line each with its fix (at most SHOWN of them), for a message. */
export function describeReencryptFailures(failed: ReencryptFailure[]): string[] {
  return someLines(
    failed.map((f) => `  ${f.file}: ${f.message}${f.fix ? `\n    Fix: ${f.fix}` : ''}`),
    (left) => `  … and ${left} more (\`--json\` lists them all)`,
  )
}

/** A re-encryption's unreadable files as a command reports them: on stderr, each with its fix, and exit 1 (empty when none). */
export function unreadableReport(failed: ReencryptFailure[]): {failure?: string; exitCode?: number} {
  if (failed.length === 0) return {}
  const files = failed.map((f) => f.file)
  const names = pathList(files, {show: asGiven})
  return {
    failure: `Left as they were, still to re-encrypt (${names}); every other encrypted file was re-encrypted and verified:\n${describeReencryptFailures(failed).join('\n')}\n`,
    exitCode: 1,
  }
}
