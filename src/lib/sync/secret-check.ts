// Nothing that looks like a secret leaves this machine in plain text: each new file of a plain managed path (at any
// depth) and the lines an edit adds to one are checked by content (src/lib/secrets/detect.ts) before capture. What
// looks like a secret is held back (never committed) and reported by path and kind, never by value.
import {lstatSync, readdirSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {findSecrets, type SecretFinding} from '../secrets/detect.ts'

/** A target held back because it looks like it holds a secret. */
export interface HeldBack {
  /** Target, relative to $HOME. */
  path: string
  /** What kinds of secret it seems to hold, and where ("npm access token (line 3)"): never the value. */
  findings: SecretFinding[]
}

/** Files larger than this are not read for secrets (they are not dotfiles a person writes by hand). */
const MAX_SCANNED_BYTES = 5 * 1024 * 1024

async function readText(file: string): Promise<string | undefined> {
  const info = lstatSync(file, {throwIfNoEntry: false})
  if (!info?.isFile() || info.size > MAX_SCANNED_BYTES) return undefined
  return readFile(file, 'latin1').catch(() => undefined)
}

/** What looks like a secret in a new file. */
export async function secretsInFile(file: string): Promise<SecretFinding[]> {
  const text = await readText(file)
  return text === undefined ? [] : findSecrets(text, file)
}

/**
 * What looks like a secret in the lines an edit adds to a file: the target's lines that its source (what the fleet
 * has) lacks. Line numbers are the target's.
 */
export async function secretsInAddedLines(target: string, source: string): Promise<SecretFinding[]> {
  const [now, before] = await Promise.all([readText(target), readText(source)])
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
