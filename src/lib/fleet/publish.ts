// Getting local commits onto the forge without ever leaving the repo mid-rebase and without losing a commit.
import {FleetError} from '../errors/index.ts'
import type {GitRepo} from '../git/git.ts'
import {forgeManifestError, unreadableManifestAt} from '../manifest/history.ts'

export const PUSH_ATTEMPTS = 5

export interface CatchUpResult {
  /** Commits that came from the forge. */
  received: number
  /** Set when local commits could not be rebased and were kept on this branch instead. */
  parkedBranch?: string
}

export function parkedBranchName(now = new Date()): string {
  return `fleet/parked/${now.toISOString().replace(/[:.]/g, '-')}`
}

/** Keep HEAD on a branch of its own, then move the working branch to `upstream`. Nothing is lost. */
export async function parkAndReset(repo: GitRepo, upstream: string): Promise<string> {
  const parked = parkedBranchName()
  await repo.git(['branch', '--force', parked, 'HEAD'])
  await repo.resetHard(upstream)
  return parked
}

/**
 * Fetch and bring the local branch on top of the forge's. Local commits are rebased; when they conflict they
 * are parked (see parkAndReset) and the branch follows the forge.
 */
export async function catchUp(repo: GitRepo, branch: string): Promise<CatchUpResult> {
  await repo.fetch()
  const upstream = `origin/${branch}`
  const remoteHead = await repo.revParse(upstream)
  if (remoteHead === undefined) return {received: 0}
  if (!(await repo.hasCommits())) {
    await repo.git(['checkout', '--quiet', '-B', branch, upstream])
    return {received: await repo.countAhead(upstream, 'HEAD')}
  }
  const received = await repo.countAhead(upstream, 'HEAD')
  if (received === 0) return {received}
  const unreadable = await unreadableManifestAt(repo, remoteHead, 'on the forge')
  if (unreadable) throw forgeManifestError(repo.dir, branch, unreadable)
  // Recorded, so that a kill halfway leaves a rebase the next sync knows to undo (see FleetGitOperation).
  repo.recordOperation({operation: 'catch up with the forge', branch, head: (await repo.revParse('HEAD'))!})
  const rebased = (await repo.rebase(upstream)) === 'rebased'
  const parkedBranch = rebased ? undefined : await parkAndReset(repo, upstream)
  repo.clearOperation()
  return {received, parkedBranch}
}

/**
 * Push the local branch. When another machine pushed first: catch up and push again. `redo` re-derives this
 * machine's change on top of the forge when the catch-up had to park it (a roster edit, a re-encryption);
 * `check` looks at the source before each push (see checkSourceForPush) and throws to stop it.
 */
export async function pushWithRetry(repo: GitRepo, branch: string, redo?: () => Promise<void>, check?: () => Promise<unknown>): Promise<{pushed: number; parkedBranch?: string}> {
  let parkedBranch: string | undefined
  for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
    const upstream = `origin/${branch}`
    // git updates origin/<branch> itself on a successful push (the remote's fetch refspec maps it).
    const countAhead = async () => ((await repo.revParse(upstream)) === undefined ? repo.commitCount('HEAD') : repo.countAhead('HEAD', upstream))
    if ((await countAhead()) === 0) return {pushed: 0, parkedBranch}
    await check?.()
    const ahead = await countAhead()
    if ((await repo.push(branch)) === 'pushed') return {pushed: ahead, parkedBranch}
    const caught = await catchUp(repo, branch)
    if (caught.parkedBranch) {
      parkedBranch = caught.parkedBranch
      if (redo) await redo()
    }
  }
  throw new FleetError(`The forge kept rejecting this machine's push (${PUSH_ATTEMPTS} attempts): other machines are pushing at the same time.`, {
    code: 'PUSH_REJECTED',
    fix: 'Run the command again in a moment; the local commits are kept.',
  })
}
