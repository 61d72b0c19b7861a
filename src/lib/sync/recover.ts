// Recovery at the start of every sync: whatever a killed process left in the source repo is undone or finished,
// and a stale lock is removed only once no live process holds it.
import {existsSync, readdirSync, readlinkSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import type {FleetGitOperation, GitOperationKind, GitRepo} from '../git/git.ts'
import {currentPlatform} from '../platform/paths.ts'
import {run} from '../process/run.ts'
import {shellCommand} from '../errors/shell-command.ts'

/** Whether any live process has this file open. */
export async function fileHeldOpen(file: string): Promise<boolean> {
  if (currentPlatform() === 'linux' && existsSync('/proc/self/fd')) {
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      let fds: string[]
      try {
        fds = readdirSync(`/proc/${pid}/fd`)
      } catch {
        continue // gone, or not ours to read
      }
      for (const fd of fds) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true
        } catch {
          // closed meanwhile
        }
      }
    }
    return false
  }
  const result = await run('lsof', ['-t', '--', file], {allowFailure: true, timeout: 10_000}).catch(() => undefined)
  return result !== undefined && result.exitCode === 0 && result.stdout.trim() !== ''
}

/** The commands that finish or abort a git operation a person started in `dir`, in a sentence. */
function howToFinish(dir: string, kind: GitOperationKind): string {
  const git = (...args: string[]) => shellCommand('git', '-C', dir, ...args)
  if (kind === 'merge') return `Finish it (resolve the files, ${git('add', '--')} <file>…, ${git('commit')}) or abort it (${git('merge', '--abort')})`
  return `Finish it (${git(kind, '--continue')}) or abort it (${git(kind, '--abort')})`
}

/** A rebase, merge, cherry-pick or revert a person started in the source repo `dir`: fleet leaves it to them, and says how to end it. */
export function operationInProgressError(dir: string, kind: GitOperationKind): FleetError {
  return new FleetError(`A ${kind} is in progress in the source repo ${dir}, started outside fleet: fleet leaves it to you.`, {
    code: 'GIT_OPERATION_IN_PROGRESS',
    fix: `${howToFinish(dir, kind)}; then run \`fleet sync\` again. Nothing was changed.`,
  })
}

/** The source repo `dir` is on another branch than the fleet's (or a detached HEAD), and how to switch it back. */
export function wrongBranchError(dir: string, current: string | undefined, branch: string): FleetError {
  return new FleetError(`The source repo ${dir} is on ${current ? `branch ${current}` : 'a detached HEAD'}, not ${branch}.`, {
    code: 'WRONG_BRANCH',
    fix: `Switch it back: ${shellCommand('git', '-C', dir, 'switch', branch)} (commit or stash anything you changed there first).`,
  })
}

/**
 * Undo what a killed or failed fleet step left in the source repo (it recorded what it was doing: see
 * FleetGitOperation), remove a stale index.lock, and stop — without touching anything — when a person has a
 * rebase or merge of their own in progress there.
 */
export async function recoverRepo(repo: GitRepo, branch: string): Promise<string[]> {
  const notes: string[] = []
  const indexLock = join(repo.dir, '.git', 'index.lock')
  if (existsSync(indexLock)) {
    if (await fileHeldOpen(indexLock)) {
      throw new FleetError(`A git process is still working in ${repo.dir} (it holds .git/index.lock).`, {
        code: 'GIT_BUSY',
        fix: 'Let it finish, then sync again.',
      })
    }
    await rm(indexLock, {force: true})
    notes.push('removed a stale .git/index.lock left by a killed process')
  }
  const recorded = repo.recordedOperation()
  const inProgress = repo.operationInProgress()
  if (recorded) {
    notes.push(await undoOperation(repo, recorded, inProgress))
  } else if (inProgress) {
    throw operationInProgressError(repo.dir, inProgress)
  }
  const current = await repo.currentBranch()
  if (current !== branch) throw wrongBranchError(repo.dir, current, branch)
  return notes
}

/**
 * Put the branch and work tree back where they were before a fleet step that did not finish: whatever it half
 * wrote (a truncated file after a full disk, a rebase stopped by a kill) goes, and nothing that was committed is
 * lost (the step started from a clean, committed tree).
 */
export async function undoOperation(repo: GitRepo, recorded: FleetGitOperation, inProgress = repo.operationInProgress()): Promise<string> {
  if (inProgress) await repo.abortOperation(inProgress)
  if ((await repo.currentBranch()) !== recorded.branch) await repo.git(['checkout', '--quiet', '--force', '-B', recorded.branch, recorded.head])
  await repo.resetHard(recorded.head)
  await repo.git(['clean', '--quiet', '--force', '-d'])
  if (recorded.parkedBranch) await repo.git(['branch', '--delete', '--force', recorded.parkedBranch], {allowFailure: true})
  repo.clearOperation()
  return `went back to this machine's last commit after a ${recorded.operation} that did not finish`
}

/**
 * Run a step that moves the branch or writes the source repo's work tree, recorded first (see
 * FleetGitOperation): when it fails, what it half did is undone at once (or, if even that fails — a full disk —
 * by the next sync), and the error goes on; when it is killed, the next sync undoes it. The step starts from a
 * clean, committed tree, so undoing it loses nothing.
 */
export async function recordedStep<T>(
  repo: GitRepo,
  branch: string,
  operation: string,
  step: (park: (parkedBranch: string) => void) => Promise<T>,
): Promise<T> {
  const head = await repo.revParse('HEAD')
  if (head === undefined) return step(() => {})
  const record = {operation, branch, head}
  repo.recordOperation(record)
  let result: T
  try {
    result = await step((parkedBranch) => repo.recordOperation({...record, parkedBranch}))
  } catch (error) {
    await undoOperation(repo, repo.recordedOperation() ?? {...record, at: ''}).catch(() => undefined)
    throw error
  }
  repo.clearOperation()
  return result
}
