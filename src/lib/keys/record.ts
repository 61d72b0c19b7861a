// Which recipients each encrypted file is for. age headers do not name X25519 or hybrid recipients, so fleet keeps a
// record in the source repo root: one line per ciphertext (its SHA-256) with a fingerprint of the recipient set it was
// encrypted to. chezmoi ignores the file (a dot-file not starting with .chezmoi). Each line is a fact about one
// ciphertext, so two machines' records merge as a union; lines whose ciphertext is gone are dropped on each write.
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import {basename, join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import type {GitRepo} from '../git/git.ts'
import {recipientsInFile} from './recipients.ts'

/** chezmoi names an encrypted source file `encrypted_…` (after an optional `create_`) with the suffix `.age`. */
export function isEncryptedSourceFile(path: string): boolean {
  return /^(create_)?encrypted_/.test(basename(path)) && path.endsWith('.age')
}

/** The record's name in the source repo root. */
export const ENCRYPTION_RECORD_FILE = '.fleet-encrypted-for'

const HEADER = '# Written by fleet: the SHA-256 of each encrypted file and a fingerprint of the recipients it is encrypted to.\n'

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex')

/** A recipient set's fingerprint: the same for the same recipients in any order. */
export function recipientSetFingerprint(recipients: string[]): string {
  return sha256([...new Set(recipients)].sort().join('\n')).slice(0, 32)
}

/** The SHA-256 of a ciphertext, as the record keys it. */
export function ciphertextHash(ciphertext: Uint8Array | string): string {
  return sha256(ciphertext)
}

function parseRecord(text: string): Map<string, string> {
  const entries = new Map<string, string>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{64}) ([0-9a-f]{32})$/.exec(line.trim())
    if (match) entries.set(match[1], match[2])
  }
  return entries
}

function renderRecord(entries: Map<string, string>): string {
  return (
    HEADER +
    [...entries]
      .map(([hash, set]) => `${hash} ${set}\n`)
      .sort()
      .join('')
  )
}

/** Two records merged: every line either side has (the lines are facts; stale ones are dropped at the next write). */
export function mergeRecords(mine: string, theirs: string): string {
  return renderRecord(new Map([...parseRecord(theirs), ...parseRecord(mine)]))
}

/** The record as the source repo has it: ciphertext hash → recipient set fingerprint. */
export async function readRecord(sourceDir: string): Promise<Map<string, string>> {
  const file = join(sourceDir, ENCRYPTION_RECORD_FILE)
  return existsSync(file) ? parseRecord(await readFile(file, 'utf8')) : new Map()
}

/**
 * Every encrypted source file under the source repo (relative paths). Directories whose name starts with a dot are
 * not entered: .git, and what chezmoi ignores.
 */
export async function encryptedFilesIn(sourceDir: string, relative = ''): Promise<string[]> {
  const entries = await readdir(join(sourceDir, relative), {withFileTypes: true}).catch(() => [])
  const found: string[] = []
  for (const entry of entries) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`
    if (entry.isDirectory() && !entry.name.startsWith('.')) found.push(...(await encryptedFilesIn(sourceDir, path)))
    else if (entry.isFile() && isEncryptedSourceFile(entry.name)) found.push(path)
  }
  return found
}

/** The hashes of the encrypted files the source repo holds now, by file. */
async function encryptedFileHashes(sourceDir: string, files?: string[]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>()
  for (const file of files ?? (await encryptedFilesIn(sourceDir))) {
    const content = await readFile(join(sourceDir, file)).catch(() => undefined)
    if (content !== undefined) hashes.set(file, sha256(content))
  }
  return hashes
}

/**
 * Record ciphertexts as encrypted for their recipients (written now, or about to be), and drop the lines of
 * ciphertexts the source repo no longer holds. The file is rewritten only when it changes.
 */
export async function recordEncryptions(sourceDir: string, written: Array<{ciphertext: Uint8Array | string; recipients: string[]}>): Promise<void> {
  const file = join(sourceDir, ENCRYPTION_RECORD_FILE)
  const before = existsSync(file) ? await readFile(file, 'utf8') : undefined
  const entries = parseRecord(before ?? '')
  const added = new Set<string>()
  for (const {ciphertext, recipients} of written) {
    const hash = sha256(ciphertext)
    entries.set(hash, recipientSetFingerprint(recipients))
    added.add(hash)
  }
  const present = new Set((await encryptedFileHashes(sourceDir)).values())
  for (const hash of entries.keys()) if (!present.has(hash) && !added.has(hash)) entries.delete(hash)
  const text = renderRecord(entries)
  if (text !== before) await writeFileAtomic(file, text, {mode: 0o644})
}

/**
 * Record what chezmoi has just encrypted (add, re-add) for `recipients`, the set in the recipients file it read: the
 * encrypted files among `changed` (the source repo's uncommitted paths; the tree was clean before) whose ciphertext
 * is not on record yet. A ciphertext fleet encrypted itself meanwhile (a merge) keeps the set it was recorded with.
 */
export async function recordChezmoiEncryptions(sourceDir: string, changed: string[], recipients: string[]): Promise<void> {
  const record = await readRecord(sourceDir)
  const written: Array<{ciphertext: Uint8Array; recipients: string[]}> = []
  for (const file of changed.filter(isEncryptedSourceFile)) {
    const ciphertext = await readFile(join(sourceDir, file)).catch(() => undefined)
    if (ciphertext !== undefined && !record.has(sha256(ciphertext))) written.push({ciphertext, recipients})
  }
  if (written.length > 0) await recordEncryptions(sourceDir, written)
}

/**
 * After a chezmoi add or re-add into the clean source repo `repo`: record the ciphertexts it wrote among the
 * uncommitted files, for the set in `recipientsFile` (the one chezmoi encrypted to). See recordChezmoiEncryptions.
 */
export async function recordWhatChezmoiEncrypted(repo: GitRepo, sourceDir: string, recipientsFile: string): Promise<void> {
  const changed = (await repo.status()).map((entry) => entry.path)
  await recordChezmoiEncryptions(sourceDir, changed, await recipientsInFile(recipientsFile))
}

/**
 * The encrypted files among `files` not recorded as encrypted for exactly `recipients`: encrypted for another set (of
 * any size), or never recorded (written before the record existed, or by a writer that does not record).
 */
export async function filesNotFor(sourceDir: string, files: string[], recipients: string[]): Promise<string[]> {
  const record = await readRecord(sourceDir)
  const wanted = recipientSetFingerprint(recipients)
  const hashes = await encryptedFileHashes(sourceDir, files.filter(isEncryptedSourceFile))
  return [...hashes].filter(([, hash]) => record.get(hash) !== wanted).map(([file]) => file)
}
