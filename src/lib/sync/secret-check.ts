// Nothing that looks like a secret leaves this machine in plain text: each new file of a plain managed path (at any
// depth) and the lines an edit adds to one are checked by content (src/lib/secrets/detect.ts) before capture. What
// looks like a secret is held back (never committed) and reported by path and kind, never by value.
import {lstatSync, readdirSync, readFileSync} from 'node:fs'
import {readFile, readlink} from 'node:fs/promises'
import {join} from 'node:path'

import {findSecrets, type SecretFinding} from '../secrets/detect.ts'
import {sha256} from './moved-source.ts'

/** A target held back because it looks like it holds a secret. */
export interface HeldBack {
  /** Target, relative to $HOME. */
  path: string
  /** What kinds of secret it seems to hold, and where ("npm access token (line 3)"): never the value. */
  findings: SecretFinding[]
}

/**
 * New files larger than this are left to chezmoi's own scan (`add --secrets=error`); the lines an edit adds are
 * read in files up to the larger bound (a long history file grows by a line at a time).
 */
const MAX_NEW_FILE_BYTES = 5 * 1024 * 1024
const MAX_EDITED_FILE_BYTES = 256 * 1024 * 1024

/** Text as a person would read it: UTF-16 (with a byte-order mark, or NULs in every other byte) decoded, else byte for byte. */
function decode(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le')
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1)))
      .swap16()
      .toString('utf16le')
  // UTF-16 without a mark: ASCII text has a NUL in every other byte.
  const head = bytes.subarray(0, Math.min(64, bytes.length) & ~1)
  if (head.length >= 8 && head.every((byte, i) => (i % 2 === 1) === (byte === 0))) return bytes.subarray(0, bytes.length & ~1).toString('utf16le')
  return bytes.toString('latin1')
}

async function readText(file: string, limit: number): Promise<string | undefined> {
  const info = lstatSync(file, {throwIfNoEntry: false})
  if (info?.isSymbolicLink()) return readlink(file).catch(() => undefined) // a link's target can hold a token too
  if (!info?.isFile() || info.size > limit) return undefined
  return readFile(file).then(decode, () => undefined)
}

/** What looks like a secret in a new file (a symlink: in its target). */
export async function secretsInFile(file: string): Promise<SecretFinding[]> {
  const text = await readText(file, MAX_NEW_FILE_BYTES)
  return text === undefined ? [] : findSecrets(text, file)
}

/**
 * What looks like a secret in the lines an edit adds to a file: the target's lines that its source (what the fleet
 * has) lacks. Line numbers are the target's.
 */
export async function secretsInAddedLines(target: string, source: string): Promise<SecretFinding[]> {
  const [now, before] = await Promise.all([readText(target, MAX_EDITED_FILE_BYTES), readText(source, MAX_EDITED_FILE_BYTES)])
  if (now === undefined) return []
  const known = new Map<string, number>()
  for (const line of (before ?? '').split('\n')) known.set(line, (known.get(line) ?? 0) + 1)
  const added: Array<{line: string; number: number}> = []
  for (const [i, line] of now.split('\n').entries()) {
    const left = known.get(line) ?? 0
    if (left > 0) known.set(line, left - 1)
    else added.push({line, number: i + 1})
  }
  if (added.length === 0) return []
  const findings = await findSecrets(added.map((a) => a.line).join('\n'), target)
  return findings.map((f) => ({...f, line: added[f.line - 1]?.number ?? f.line}))
}

/**
 * The files (and symlinks) at and below new entries of a managed directory, relative to $HOME; a new directory with
 * nothing in it stands for itself.
 */
export function filesBelow(home: string, entries: string[]): string[] {
  const files: string[] = []
  const visit = (relative: string) => {
    const info = lstatSync(join(home, relative), {throwIfNoEntry: false})
    if (!info?.isDirectory()) {
      if (info) files.push(relative)
      return
    }
    const children = readdirSync(join(home, relative))
    if (children.length === 0) files.push(relative)
    for (const child of children) visit(`${relative}/${child}`)
  }
  for (const entry of entries) visit(entry)
  return files
}

/** chezmoi's own refusal (`add --secrets=error`): "chezmoi: /home/me/x:3: Detected a Generic API Key, …". */
export function parseChezmoiFinding(stderr: string): {file: string; finding: SecretFinding} | undefined {
  const match = /chezmoi: (.+):(\d+): ([^,\n]+)/.exec(stderr)
  if (!match) return undefined
  const kind = match[3].replace(/^(Detected|Uncovered|Found|Identified|Discovered) (an? )?/i, '').trim()
  return {file: match[1], finding: {kind, line: Math.max(1, Number(match[2]))}}
}

/** What `fleet add-path --plain-text` records for a file: its path and the SHA-256 of its contents now. */
export function plainTextConfirmation(home: string, path: string): {path: string; sha256: string} {
  return {path, sha256: sha256(readFileSync(join(home, path)))}
}

/**
 * Whether the person confirmed this file holds no secret (`fleet add-path --plain-text`), for its contents as they
 * are now: a later edit is checked again.
 */
export function confirmedPlain(confirmations: Array<{path: string; sha256: string}> | undefined, home: string, path: string): boolean {
  const confirmation = confirmations?.find((c) => c.path === path)
  if (!confirmation) return false
  try {
    return plainTextConfirmation(home, path).sha256 === confirmation.sha256
  } catch {
    return false
  }
}
