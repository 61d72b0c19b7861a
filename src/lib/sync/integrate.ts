// Bringing the forge's commits into this machine's branch while keeping every local edit. When local commits
// rebase cleanly, that is all. When they conflict: the rebase is aborted (never left in progress), the local
// commits are parked on a branch, the branch follows the forge, every local change that did not conflict is
// carried over again, the fleet's own files are merged by their meaning, and what remains is a conflict for a
// person, with both versions reachable.
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {parkedBranchName} from '../fleet/publish.ts'
import type {GitRepo} from '../git/git.ts'
import {mergeFleets} from '../manifest/merge.ts'
import {MANIFEST_RELATIVE_PATH, parseManifest, renderManifest} from '../manifest/store.ts'

export interface IntegrateResult {
  /** Commits that came from the forge. */
  received: number
  /** Source files (relative to the source repo) changed on both sides in ways git could not merge. */
  conflicts: string[]
  parkedBranch?: string
  mine?: string
  theirs?: string
}

/** Files fleet itself owns and merges by meaning rather than by line. */
const MERGERS: Record<string, (base: string, mine: string, theirs: string) => string> = {
  [MANIFEST_RELATIVE_PATH]: (base, mine, theirs) =>
    renderManifest(mergeFleets(parseManifest(base, 'base'), parseManifest(mine, 'this machine'), parseManifest(theirs, 'the forge'))),
  '.chezmoiremove': (_base, mine, theirs) => {
    const lines = [...new Set([...theirs.split('\n'), ...mine.split('\n')].filter(Boolean))]
    return `${lines.join('\n')}\n`
  },
}

export async function integrate(repo: GitRepo, branch: string, machine: string): Promise<IntegrateResult> {
  await repo.fetch()
  const upstream = `origin/${branch}`
  const theirs = await repo.revParse(upstream)
  if (theirs === undefined) return {received: 0, conflicts: []}
  const received = await repo.countAhead(upstream, 'HEAD')
  if (received === 0) return {received, conflicts: []}
  if ((await repo.countAhead('HEAD', upstream)) === 0) {
    await repo.git(['merge', '--quiet', '--ff-only', upstream])
    return {received, conflicts: []}
  }
  if ((await repo.rebase(upstream)) === 'rebased') return {received, conflicts: []}

  const mine = (await repo.revParse('HEAD'))!
  const base = await repo.mergeBase(mine, theirs)
  const conflicted = await repo.conflictingPaths(mine, theirs)
  const parkedBranch = parkedBranchName()
  await repo.git(['branch', '--force', parkedBranch, mine])
  const localChanges = base ? await repo.changedFiles(base, mine) : []
  await repo.resetHard(theirs)

  const remaining: string[] = []
  for (const path of conflicted) {
    const merge = MERGERS[path]
    const versions = await Promise.all([base ?? theirs, mine, theirs].map((ref) => repo.show(ref, path)))
    if (merge && versions.every((v) => v !== undefined)) {
      await writeFile(join(repo.dir, path), merge(versions[0]!, versions[1]!, versions[2]!))
    } else remaining.push(path)
  }
  for (const {status, path} of localChanges) {
    if (conflicted.includes(path)) continue
    if (status === 'D') await repo.git(['rm', '--quiet', '--ignore-unmatch', '--', path])
    else await repo.git(['checkout', mine, '--', path])
  }
  await repo.commitAll(
    `fleet: ${machine}: carry over changes made here while the forge moved` + (remaining.length > 0 ? `\n\nLeft for a person (kept on ${parkedBranch}): ${remaining.join(', ')}` : ''),
  )
  if (remaining.length === 0) {
    // Everything was merged: the parked branch holds nothing that is not on the branch now.
    await repo.git(['branch', '--delete', '--force', parkedBranch])
    return {received, conflicts: []}
  }
  return {received, conflicts: remaining, parkedBranch, mine, theirs}
}
