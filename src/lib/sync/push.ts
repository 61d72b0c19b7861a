// Getting this machine's commits onto the forge: the one way every command does it, never leaving the repo
// mid-rebase and never losing a commit.
import {FleetError} from '../errors/index.ts'
import {type BranchPush, type GitRepo, type RefUpdate, upstreamRef} from '../git/git.ts'
import {forgeManifestError, unreadableManifestAt} from '../manifest/history.ts'
import {fileNameStamp} from '../platform/paths.ts'

/** How many times a rejected push is followed by bringing the forge's commits in and pushing again. */
const PUSH_RETRIES = 5

/**
 * What follows a push the forge rejected (another machine pushed first), before the next try. There are two because
 * there are two kinds of local commits:
 * - `integrate`, for a sync: its commits are a person's edits, which exist nowhere else. They are merged with the
 *   forge's commits, both versions kept where they conflict (see integrate in integrate.ts). A sync receives as well
 *   as sends, so the forge's commits are brought in even when there is nothing to push.
 * - `re-derive`, for a generated change (approve, revoke, enroll; next, a key rotation): its commit is a function of
 *   the manifest — a roster entry, every encrypted file re-encrypted for the active machines. Merging two such
 *   commits line by line means nothing (two ciphertexts for two recipient sets), while making the change again on
 *   top of the forge's manifest is exact. The commit is rebased onto the forge's; when it does not rebase cleanly,
 *   its basis is thrown away (the commits are kept on a parked branch) and `derive` makes the change again. Such a
 *   command syncs first, so the generated commit is the only local one. Nothing to push: nothing is fetched.
 */
export type PushStrategy = {kind: 'integrate'; integrate: () => Promise<void>} | {kind: 're-derive'; derive: () => Promise<void>}

/** How pushToForge gets past a rejected push, and what it checks first. */
export interface PushOptions {
  /** What to do with the forge's commits when it rejected the push (see PushStrategy). */
  strategy: PushStrategy
  /**
   * Looks at the source before each push (see checkSourceForPush) and throws to stop it; the notes say what it
   * repaired (and committed).
   */
  check: () => Promise<{notes: string[]}>
  /** A ref pushed in the same push as the branch (this machine's heartbeat): see Alongside. */
  alongside?: Alongside
}

/**
 * A ref pushed beside the branch, in the same (non-atomic) push: made when the first push is about to happen, told
 * how it came out after each push. Its refusal never fails the push nor makes it try again, and a rejected branch
 * push still carries it. A forge that declines the whole push (a pre-receive hook is all or nothing) gets the branch
 * alone at once, and nothing alongside for the rest of that pushToForge.
 */
export interface Alongside {
  refspec: () => Promise<string | undefined>
  /** The forge's answer for it (undefined: git said nothing about it). */
  pushed: (update: RefUpdate | undefined) => void
}

/** What pushToForge did. */
export interface PushResult {
  /** Commits the forge accepted. */
  pushed: number
  /** Where a re-derived change's earlier commits are kept, when they did not rebase onto the forge's. */
  parkedBranch?: string
}

/**
 * Push the branch; when the forge rejects it, bring the forge's commits in as the strategy says and push again, a
 * bounded number of times (then PUSH_REJECTED). A forge that cannot be reached throws ForgeUnreachableError.
 */
export async function pushToForge(repo: GitRepo, branch: string, options: PushOptions): Promise<PushResult> {
  const {strategy, check, alongside} = options
  const upstream = upstreamRef(branch)
  // git updates origin/<branch> itself on a successful push (the remote's fetch refspec maps it).
  const aheadOfForge = async () => ((await repo.revParse(upstream)) === undefined ? repo.commitCount('HEAD') : repo.countAhead('HEAD', upstream))
  let parkedBranch: string | undefined
  let rejected = 0
  const beside = {alongside}
  for (let attempt = 1; ; attempt++) {
    let ahead = await aheadOfForge()
    if (ahead > 0 && (await check()).notes.length > 0) ahead = await aheadOfForge() // the check committed a repair
    if (ahead > 0) {
      const pushed = await pushBranch(repo, branch, beside)
      if (pushed.outcome === 'pushed') return {pushed: ahead, parkedBranch}
      if (pushed.outcome === 'refused') throw pushRefused(branch, pushed.reason)
      rejected++
    }
    if (ahead === 0 && (attempt > 1 || strategy.kind === 're-derive')) return {pushed: 0, parkedBranch}
    if (attempt > PUSH_RETRIES) throw pushRejected(rejected)
    if (strategy.kind === 'integrate') await strategy.integrate()
    else parkedBranch = (await rederive(repo, branch, strategy.derive)) ?? parkedBranch
    // Nothing was ahead, and bringing the forge in made no commit of this machine's: there is nothing to push.
    if (ahead === 0 && (await aheadOfForge()) === 0) return {pushed: 0, parkedBranch}
  }
}

/**
 * Push the branch, and in the same push what goes alongside it (see Alongside). When the forge declined the whole
 * push, the branch goes again alone at once, and what went alongside is dropped for the next tries (`beside`).
 */
async function pushBranch(repo: GitRepo, branch: string, beside: {alongside?: Alongside}): Promise<BranchPush> {
  const {alongside} = beside
  const refspec = alongside && (await alongside.refspec())
  if (!alongside || !refspec) return (await repo.pushWith(branch, [])).branch
  const outcome = await repo.pushWith(branch, [refspec])
  const destination = refspec.slice(refspec.lastIndexOf(':') + 1)
  alongside.pushed(outcome.alongside.find((update) => update.ref === destination))
  if (outcome.branch.outcome !== 'refused') return outcome.branch
  beside.alongside = undefined
  return (await repo.pushWith(branch, [])).branch
}

/** The one error for a push the forge kept rejecting: the local commits stay, and the next try pushes them. */
function pushRejected(attempts: number): FleetError {
  return new FleetError(`The forge kept rejecting this machine's push (${attempts} attempts): other machines are pushing at the same time.`, {
    code: 'PUSH_REJECTED',
    fix: 'Run the command again in a moment; the local commits are kept.',
  })
}

/** The error for a branch push the forge declined (a hook, a protected branch): trying again the same way cannot help. */
function pushRefused(branch: string, reason: string | undefined): FleetError {
  return new FleetError(`The forge refused this machine's push to ${branch}${reason ? `: ${reason}` : ''}.`, {
    code: 'PUSH_REFUSED',
    fix: `Look at what the forge allows on ${branch} (its hooks, its branch protection), then run \`fleet sync\` again; the local commits are kept.`,
  })
}

/** The name of a new branch that keeps local commits the branch itself no longer holds. */
export function parkedBranchName(now = new Date()): string {
  return `fleet/parked/${fileNameStamp(now)}`
}

/**
 * The re-derive strategy's follow-up (see PushStrategy): fetch and rebase onto the forge; when the rebase conflicts,
 * park the local commits, move the branch to the forge's and derive the change again. Returns the parked branch.
 */
async function rederive(repo: GitRepo, branch: string, derive: () => Promise<void>): Promise<string | undefined> {
  await repo.fetch()
  const upstream = upstreamRef(branch)
  const remoteHead = await repo.revParse(upstream)
  if (remoteHead === undefined || (await repo.countAhead(upstream, 'HEAD')) === 0) return undefined
  const unreadable = await unreadableManifestAt(repo, remoteHead, 'on the forge')
  if (unreadable) throw forgeManifestError(repo.dir, branch, unreadable)
  // Recorded, so that a kill halfway leaves a rebase the next sync knows to undo (see FleetGitOperation).
  repo.recordOperation({operation: 'catch up with the forge', branch, head: (await repo.revParse('HEAD'))!})
  const rebased = (await repo.rebase(upstream)) === 'rebased'
  const parkedBranch = rebased ? undefined : await parkAndReset(repo, upstream)
  repo.clearOperation()
  if (parkedBranch) await derive()
  return parkedBranch
}

/** Keep HEAD on a branch of its own, then move the working branch to `upstream`. Nothing is lost. */
async function parkAndReset(repo: GitRepo, upstream: string): Promise<string> {
  const parked = parkedBranchName()
  await repo.git(['branch', '--force', parked, 'HEAD'])
  await repo.resetHard(upstream)
  return parked
}
