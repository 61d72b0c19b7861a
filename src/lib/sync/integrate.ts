// Bringing the forge's commits into this machine's branch while keeping every local edit. When local commits
// rebase cleanly, that is all. When they conflict: the rebase is aborted (never left in progress), the local
// commits are parked on a branch, and the branch becomes the forge's commit plus one commit holding git's
// three-way merge of everything that did merge (both machines' edits to different parts of a file included).
// Files git could not merge keep the forge's version in the source (this machine's stays in its target file and
// on the parked branch) and are reported as conflicts for a person; fleet's own files are merged by meaning.
import {rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {parkedBranchName} from './push.ts'
import {isEncryptedSourceFile} from '../keys/crypto.ts'
import {ENCRYPTION_RECORD_FILE, mergeRecords} from '../keys/record.ts'
import {FleetError} from '../errors/index.ts'
import {redactUrl} from '../errors/redact.ts'
import {type GitRepo, upstreamRef} from '../git/git.ts'
import {decodeSourcePath} from '../chezmoi/source-names.ts'
import {forgeManifestError, unreadableManifestAt} from '../manifest/history.ts'
import {mergeFleets} from '../manifest/merge.ts'
import {MANIFEST_RELATIVE_PATH, parseManifest, renderManifest} from '../manifest/store.ts'
import {shellCommand} from '../errors/shell-command.ts'
import {isInside} from '../platform/paths.ts'

export interface IntegrateResult {
  /** Commits that came from the forge. */
  received: number
  /** Source files (relative to the source repo) changed on both sides in ways git could not merge. */
  conflicts: string[]
  parkedBranch?: string
  mine?: string
  theirs?: string
}

const lines = (text: string) => text.split('\n').filter(Boolean)

/** Files fleet itself owns and merges by meaning rather than by line. */
const MERGERS: Record<string, (base: string, mine: string, theirs: string) => string> = {
  [MANIFEST_RELATIVE_PATH]: (base, mine, theirs) =>
    renderManifest(mergeFleets(parseManifest(base, 'base'), parseManifest(mine, 'this machine'), parseManifest(theirs, 'the forge'))),
  // A three-way merge of lines: what either side added, less what either side removed.
  '.chezmoiremove': (base, mine, theirs) => {
    const [b, m, t] = [lines(base), lines(mine), lines(theirs)]
    const kept = [...new Set([...t, ...m])].filter((line) => !(b.includes(line) && (!m.includes(line) || !t.includes(line))))
    return kept.length > 0 ? `${kept.join('\n')}\n` : ''
  },
  // Which recipients each ciphertext is for: facts, so both sides' lines are kept.
  [ENCRYPTION_RECORD_FILE]: (_base, mine, theirs) => mergeRecords(mine, theirs),
}

/**
 * Every source file — in the merged tree or the forge's — that names the same target as a conflicted one (its
 * `remove_` marker, the same file with other attributes after a mode change): they travel together, or chezmoi would
 * see two entries for one target, or none.
 */
async function sameTargetEntries(repo: GitRepo, theirs: string, paths: string[]): Promise<string[]> {
  const targets = new Set(paths.map(decodeSourcePath))
  const candidates = [...(await repo.listFiles()), ...(await repo.filesAt(theirs))]
  return [...new Set([...paths, ...candidates.filter((file) => targets.has(decodeSourcePath(file)))])]
}

export interface IntegrateOptions {
  branch: string
  machine: string
  /** Records the parked branch (see recordedStep). */
  park: (parkedBranch: string) => void
  /**
   * Merges an encrypted file changed on both sides, given its base, this machine's and the forge's bytes
   * (undefined where it does not exist); returns the merged ciphertext, or undefined for a conflict.
   */
  mergeEncrypted?: (file: string, versions: Array<Uint8Array | undefined>) => Promise<Uint8Array | string | undefined>
}

/**
 * Bring the forge's commits in. Run it as a recorded step (recordedStep): `park` records the parked branch, so
 * that a sync killed halfway puts the branch back and removes it. The phases, in order, each tried only when the one
 * before could not finish the job (the cheapest first):
 * 1. fetch, and refuse a forge whose manifest no machine can read or whose history shares no commit with this one;
 * 2. fast-forward when there is nothing local, else rebase the local commits;
 * 3. on a conflicting rebase: park the local commits, then merge both sides on the forge's commit (see the header).
 */
export async function integrate(repo: GitRepo, options: IntegrateOptions): Promise<IntegrateResult> {
  const upstream = upstreamRef(options.branch)
  const {theirs, received} = await fetchIncoming(repo, options.branch)
  if (theirs === undefined || received === 0) return {received, conflicts: []}
  if ((await repo.countAhead('HEAD', upstream)) === 0) {
    await repo.git(['merge', '--quiet', '--ff-only', upstream])
    return {received, conflicts: []}
  }
  if ((await repo.rebase(upstream)) === 'rebased') return {received, conflicts: []}
  return {received, ...(await mergeOnForgeCommit(repo, options, theirs))}
}

/**
 * Fetches the forge's branch: its commit and how many commits of it this branch lacks. Throws when there are some
 * and they cannot be built on: the forge's manifest is unreadable, or its history shares no commit with this one.
 */
async function fetchIncoming(repo: GitRepo, branch: string): Promise<{theirs: string | undefined; received: number}> {
  await repo.fetch()
  const upstream = upstreamRef(branch)
  const theirs = await repo.revParse(upstream)
  if (theirs === undefined) return {theirs, received: 0}
  const received = await repo.countAhead(upstream, 'HEAD')
  if (received === 0) return {theirs, received}
  // A manifest no machine can read is never merged here: this machine's work stays on its own readable history.
  const unreadable = await unreadableManifestAt(repo, theirs, 'on the forge')
  if (unreadable) throw forgeManifestError(repo.dir, branch, unreadable)
  const head = await repo.revParse('HEAD')
  if (head !== undefined && (await repo.mergeBase(head, theirs)) === undefined) throw await anotherHistory(repo, branch)
  return {theirs, received}
}

/**
 * After a rebase that conflicted: the local commits are parked, and the branch becomes the forge's commit plus one
 * commit of git's merge of both sides, with fleet's own files and encrypted files merged by meaning and what still
 * does not merge left at the forge's version. Returns what is left for a person.
 */
async function mergeOnForgeCommit(repo: GitRepo, options: IntegrateOptions, theirs: string): Promise<Omit<IntegrateResult, 'received'>> {
  const mine = (await repo.revParse('HEAD'))!
  const base = await repo.mergeBase(mine, theirs)
  const merged = await repo.mergeTree(mine, theirs)
  // A file on one side where the other has a directory: git puts the file aside as `path~<commit>`. The conflict is
  // the path's, whatever it holds on either side.
  const asideSuffix = new RegExp(`~(${mine}|${theirs})$`)
  const named = new Set(merged.conflicted.map((path) => path.replace(asideSuffix, '')))
  // A file edited inside a directory the other side made a file is part of that conflict, not one of its own.
  const conflicted = [...named].filter((path) => ![...named].some((other) => isInside(path, other)))
  const parkedBranch = parkedBranchName()
  options.park(parkedBranch)
  await repo.git(['branch', '--force', parkedBranch, mine])

  // The forge's commit, then git's merge of both sides on top of it.
  await repo.resetHard(theirs)
  await repo.git(['read-tree', '-u', '--reset', merged.tree])
  const remaining = await mergeByMeaning(repo, conflicted, {base, mine, theirs}, options.mergeEncrypted)
  await takeForgeVersion(repo, remaining, mine, theirs)
  await repo.commitAll(
    `fleet: ${options.machine}: merge changes made here while the forge moved` +
      (remaining.length > 0 ? `\n\nLeft for a person (kept on ${parkedBranch}): ${remaining.join(', ')}` : ''),
  )
  if (remaining.length === 0) {
    // Everything merged: the parked branch holds nothing that is not on the branch now.
    await repo.git(['branch', '--delete', '--force', parkedBranch])
    return {conflicts: []}
  }
  return {conflicts: remaining, parkedBranch, mine, theirs}
}

/** Merges the conflicted files fleet can merge by meaning (its own files, encrypted files); returns the rest. */
async function mergeByMeaning(
  repo: GitRepo,
  conflicted: string[],
  {base, mine, theirs}: {base: string | undefined; mine: string; theirs: string},
  mergeEncrypted: IntegrateOptions['mergeEncrypted'],
): Promise<string[]> {
  const remaining: string[] = []
  // fleet's own files first: an encrypted file's merge is encrypted for the machines the merged manifest names.
  for (const path of [...conflicted].sort((a, b) => Number(!(a in MERGERS)) - Number(!(b in MERGERS)))) {
    const merge = MERGERS[path]
    if (merge) {
      const [b, m, t] = await Promise.all([base ?? theirs, mine, theirs].map((ref) => repo.show(ref, path)))
      // The record has no base when both sides made it: its lines are facts, merged without one.
      const baseText = b ?? (path === ENCRYPTION_RECORD_FILE ? '' : undefined)
      if (baseText !== undefined && m !== undefined && t !== undefined) {
        await writeFile(join(repo.dir, path), merge(baseText, m, t))
        continue
      }
    } else if (mergeEncrypted && isEncryptedSourceFile(path)) {
      const versions = await Promise.all([base, mine, theirs].map(async (ref) => (ref === undefined ? undefined : repo.blobBytes(`${ref}:${path}`))))
      const merged = await mergeEncrypted(path, versions)
      if (merged !== undefined) {
        await writeFile(join(repo.dir, path), merged)
        continue
      }
    }
    remaining.push(path)
  }
  return remaining
}

/**
 * What git could not merge takes the forge's version (file and counterpart alike, a directory whole, with what git
 * put aside removed): the source stays consistent.
 */
async function takeForgeVersion(repo: GitRepo, remaining: string[], mine: string, theirs: string): Promise<void> {
  for (const path of await sameTargetEntries(repo, theirs, remaining)) {
    const aside = [`${path}~${mine}`, `${path}~${theirs}`]
    await repo.git(['rm', '-r', '--quiet', '--cached', '--ignore-unmatch', '--', path, ...aside])
    for (const stale of [path, ...aside]) await rm(join(repo.dir, stale), {recursive: true, force: true})
    if (await repo.exists(theirs, path)) await repo.git(['checkout', theirs, '--', path])
  }
}

/**
 * The forge's branch shares no commit with this machine's: the forge was re-created, or now holds another fleet.
 * Nothing is merged (two fleets' rosters and files must never mix) and nothing is pushed.
 */
async function anotherHistory(repo: GitRepo, branch: string): Promise<FleetError> {
  const url = redactUrl((await repo.remoteUrl()) ?? 'origin')
  return new FleetError(
    `The forge ${url} holds a different history on ${branch}: it shares no commit with this machine's fleet (it was re-created, or holds another fleet). Nothing was merged or pushed.`,
    {
      code: 'FORGE_HOLDS_ANOTHER_FLEET',
      fix:
        `To join the fleet the forge holds now: ${shellCommand('mv', repo.dir, `${repo.dir}.before-fleet`)}, then ${shellCommand('fleet', 'enroll', '--forge', url)}. ` +
        `To put this machine's fleet back on the forge instead (the forge's current commits are then lost): ${shellCommand('git', '-C', repo.dir, 'push', '--force', 'origin', branch)}.`,
    },
  )
}
