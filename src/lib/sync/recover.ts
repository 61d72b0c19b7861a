// Recovery at the start of every sync: whatever a killed process left in the source repo is undone or finished,
// and a stale lock is removed only once no live process holds it.
import {existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import type {FleetGitOperation, GitOperationKind, GitRepo} from '../git/git.ts'
import {duration} from '../lock/fleet-lock.ts'
import {currentPlatform} from '../platform/paths.ts'
import {run} from '../process/run.ts'
import {shellCommand} from '../errors/shell-command.ts'

/**
 * How old a .git/index.lock must be, with no git process working in the repo, before it is taken for one a killed
 * process left: a git command waiting for its editor (`git commit`) holds the lock without keeping the file open.
 */
export const STALE_INDEX_LOCK_MS = 5 * 60_000

/**
 * The source repo's .git/index.lock: `none`; `busy`, when a git process may be using it (one works in the repo or
 * holds the file, or it is too young to tell); `stale`, when a killed process left it (nothing works in the repo,
 * and it is older than STALE_INDEX_LOCK_MS). `ageMs`: how old the lock is.
 */
export type IndexLockState = {state: 'none'} | {state: 'busy'; ageMs: number; running: boolean} | {state: 'stale'; ageMs: number}

/** Whether .git/index.lock in `repoDir` is there, in use, or left by a killed process (see IndexLockState). */
export async function indexLockState(repoDir: string): Promise<IndexLockState> {
  const lock = join(repoDir, '.git', 'index.lock')
  const modified = statSync(lock, {throwIfNoEntry: false})?.mtimeMs
  if (modified === undefined) return {state: 'none'}
  const ageMs = Math.max(0, Date.now() - modified)
  const running = await gitWorkingIn(repoDir, lock)
  // Looked at twice: a git process that ended between the first look and the second was no killed one.
  if (!existsSync(lock)) return {state: 'none'}
  if (running !== false || ageMs < STALE_INDEX_LOCK_MS) return {state: 'busy', ageMs, running: running === true}
  return {state: 'stale', ageMs}
}

/** The words for a lock that may be in use, and what to do about it. */
export function gitBusyError(
  repoDir: string,
  lock: Extract<IndexLockState, {state: 'busy'}>,
  shown: {dir: string; lockWord: string} = {dir: repoDir, lockWord: shellCommand(join(repoDir, '.git', 'index.lock'))},
): FleetError {
  const why = lock.running
    ? 'a git process works there'
    : `.git/index.lock is ${duration(lock.ageMs)} old: too young to tell a git command waiting for its editor from a killed one`
  return new FleetError(`A git command may be running in the source repo ${shown.dir} (${why}).`, {
    code: 'GIT_BUSY',
    fix: `Let it finish (a \`git commit\` waits for its editor to close), then sync again; if no git command runs there, remove it: rm ${shown.lockWord}`,
  })
}

/**
 * Whether a git process other than this process's own works in `dir` (its working directory is in it) or any
 * process holds `file` open; undefined when this system cannot tell (neither /proc nor lsof).
 */
export async function gitWorkingIn(dir: string, file: string): Promise<boolean | undefined> {
  const real = realpathOr(dir)
  const inside = (path: string) => path === real || path.startsWith(`${real}/`)
  if (currentPlatform() === 'linux' && existsSync('/proc/self/fd')) {
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      if (ownProcess(Number(pid))) continue
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('git') && inside(readlinkSync(`/proc/${pid}/cwd`))) return true
      } catch {
        // gone, or not ours to read
      }
      if (holdsFile(pid, file)) return true
    }
    return false
  }
  const cwds = await run('lsof', ['-a', '-c', 'git', '-d', 'cwd', '-F', 'pRn'], {allowFailure: true, timeout: 10_000}).catch(() => undefined)
  if (cwds === undefined) return undefined // no lsof
  let pid = 0
  let ppid = 0
  for (const line of cwds.stdout.split('\n')) {
    if (line.startsWith('p')) pid = Number(line.slice(1))
    else if (line.startsWith('R')) ppid = Number(line.slice(1))
    else if (line.startsWith('n') && pid !== process.pid && ppid !== process.pid && inside(line.slice(1))) return true
  }
  const holders = await run('lsof', ['-t', '--', file], {allowFailure: true, timeout: 10_000}).catch(() => undefined)
  return holders !== undefined && holders.exitCode === 0 && holders.stdout.trim() !== ''
}

/** Whether the process `pid` has `file` open (Linux). */
function holdsFile(pid: string, file: string): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false // gone, or not ours to read
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true
    } catch {
      // closed meanwhile
    }
  }
  return false
}

/** This process or one it started (doctor's own `git status` beside the check that looks at the lock), on Linux. */
function ownProcess(pid: number): boolean {
  for (let current = pid, hops = 0; current > 1 && hops < 64; hops++) {
    if (current === process.pid) return true
    try {
      // The parent is the fourth field, after the command name in parentheses (which may hold spaces).
      current = Number(readFileSync(`/proc/${current}/stat`, 'utf8').split(') ')[1]?.split(' ')[1])
    } catch {
      return false
    }
  }
  return false
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
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
  const lock = await indexLockState(repo.dir)
  if (lock.state === 'busy') throw gitBusyError(repo.dir, lock)
  if (lock.state === 'stale') {
    await rm(join(repo.dir, '.git', 'index.lock'), {force: true})
    notes.push(`removed a stale .git/index.lock (${duration(lock.ageMs)} old, no git process works in the repo) left by a killed process`)
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
