// A target edited here whose source moved too since chezmoi last wrote it (a pull or commit in the source repo,
// `chezmoi edit`, a change received whose apply was refused or killed): the two are merged three ways against
// what chezmoi last wrote, found in the source's history by the SHA-256 chezmoi keeps of it. Never a copy of
// the target over the source.
import {createHash} from 'node:crypto'
import {chmod, lstat, readFile, rename, writeFile} from 'node:fs/promises'
import {lstatSync, readFileSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import type {GitRepo} from '../git/git.ts'
import {parkedBranchName} from './push.ts'
import {mergeText} from './merge-text.ts'

export function sha256(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('hex')
}

export interface SourceContents {
  /** A source file's bytes as chezmoi would write them to the target (decrypted when encrypted). */
  targetContents: (sourceRelative: string, bytes: Uint8Array) => Promise<Uint8Array>
  /** The bytes to store in the source for target contents (encrypted when the source is). */
  sourceBytes: (sourceRelative: string, contents: Uint8Array) => Promise<Uint8Array | string>
}

/** Where the contents a capture is about to re-add are remembered (target → blob), see rememberContents. */
const REMEMBERED = 'fleet-captured.json'

function readRemembered(repo: GitRepo): Record<string, string> {
  try {
    return JSON.parse(readFileSync(join(repo.dir, '.git', REMEMBERED), 'utf8')) as Record<string, string>
  } catch {
    return {}
  }
}

/**
 * Remember what plain targets hold just before a capture re-adds them (as blobs in the source repo's object store):
 * chezmoi records a re-added target as written, and if the capture is killed before its commit and the source is
 * edited again meanwhile, this is the only copy of what was written, the base of the next merge. Encrypted targets
 * are never stored in plain text: a killed capture of one may end in a conflict instead.
 */
export async function rememberContents(repo: GitRepo, home: string, targets: string[]): Promise<void> {
  const plain = targets.filter((t) => !t.includes('\n') && lstatSync(join(home, t), {throwIfNoEntry: false})?.isFile())
  if (plain.length === 0) return
  const blobs = await repo.storeBlobs(plain.map((t) => join(home, t)))
  const remembered = readRemembered(repo)
  for (const [i, target] of plain.entries()) if (blobs[i]) remembered[target] = blobs[i]
  writeFileSync(join(repo.dir, '.git', REMEMBERED), JSON.stringify(remembered))
}

/**
 * What was last written to a target: the version of its source (any branch) whose contents have that SHA-256, or
 * what was remembered for it before a capture.
 */
export async function lastWrittenContents(
  repo: GitRepo,
  targetPath: string,
  sourceRelative: string,
  writtenSha: string,
  contents: SourceContents,
): Promise<Buffer | undefined> {
  const remembered = readRemembered(repo)[targetPath]
  if (remembered) {
    const candidate = await repo.blobBytes(remembered)
    if (candidate !== undefined && sha256(candidate) === writtenSha) return candidate
  }
  for (const blob of await repo.versionsOf(sourceRelative)) {
    const bytes = await repo.blobBytes(blob)
    const candidate = bytes && (await contents.targetContents(sourceRelative, bytes).catch(() => undefined))
    if (candidate !== undefined && sha256(candidate) === writtenSha) return Buffer.from(candidate)
  }
  return undefined
}

export type MovedSourceOutcome =
  | {kind: 'unmoved'}
  | {kind: 'merged'}
  /** `mine`: the target's contents here, undefined when it was deleted here. */
  | {kind: 'conflict'; targetPath: string; sourceRelative: string; mine?: Buffer}

/**
 * For a target changed here (edited, or deleted when `target` is absent): did its source move since chezmoi last
 * wrote it, and if so merge. A clean merge is written to the target (so that the usual re-add captures it); an
 * overlap, a deletion of a file that changed in the fleet, or a base that cannot be found is a conflict: this
 * machine's version stays in the target and is kept on a parked branch, the source keeps the fleet's.
 */
export async function mergeMovedSource(options: {
  repo: GitRepo
  target: string
  targetPath: string
  sourceFile: string
  writtenSha: string | undefined
  contents: SourceContents
}): Promise<MovedSourceOutcome> {
  const {repo, target, sourceFile, writtenSha, contents} = options
  const sourceRelative = relative(repo.dir, sourceFile)
  const theirs = Buffer.from(await contents.targetContents(sourceRelative, await readFile(sourceFile)))
  if (writtenSha === undefined || sha256(theirs) === writtenSha) return {kind: 'unmoved'}
  const info = await lstat(target).catch(() => undefined)
  const mine = info?.isFile() ? await readFile(target) : undefined
  const base = mine === undefined ? undefined : await lastWrittenContents(repo, options.targetPath, sourceRelative, writtenSha, contents)
  const merged = base === undefined || mine === undefined ? undefined : mergeText(base, mine, theirs)
  if (merged !== undefined && info) {
    // Replace the target only if nobody wrote it meanwhile; the re-add that follows captures the merge.
    const current = await readFile(target).catch(() => undefined)
    if (current !== undefined && current.equals(mine!)) {
      const temporary = `${target}.fleet-merge-${process.pid}`
      await writeFile(temporary, merged)
      await chmod(temporary, info.mode & 0o7777)
      await rename(temporary, target)
      return {kind: 'merged'}
    }
  }
  return {kind: 'conflict', targetPath: options.targetPath, sourceRelative, mine}
}

/**
 * Keep this machine's versions of conflicted targets reachable: one commit on top of HEAD holding them (encrypted
 * where their source is), on a parked branch of its own. The branch and work tree are not touched.
 */
export async function parkConflicts(
  repo: GitRepo,
  machine: string,
  conflicts: Array<Extract<MovedSourceOutcome, {kind: 'conflict'}>>,
  contents: SourceContents,
): Promise<{parkedBranch: string; mine: string; theirs: string}> {
  const theirs = (await repo.revParse('HEAD'))!
  const files = await Promise.all(
    conflicts.map(async (c) => ({path: c.sourceRelative, content: c.mine === undefined ? undefined : await contents.sourceBytes(c.sourceRelative, c.mine)})),
  )
  const mine = await repo.commitFiles(
    theirs,
    files,
    `fleet: ${machine}: keep ${conflicts.map((c) => c.targetPath).join(', ')} as ${machine} has them (in conflict)`,
  )
  const parkedBranch = parkedBranchName()
  await repo.git(['branch', '--force', parkedBranch, mine])
  return {parkedBranch, mine, theirs}
}
