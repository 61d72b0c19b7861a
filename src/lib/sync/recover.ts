// Recovery at the start of every sync: whatever a killed process left in the source repo is undone or finished,
// and a stale lock is removed only once no live process holds it.
import {existsSync, readdirSync, readlinkSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'

import {FleetError} from '../errors/index.ts'
import type {GitRepo} from '../git/git.ts'
import {currentPlatform} from '../platform/paths.ts'
import {run} from '../process/run.ts'

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

export async function recoverRepo(repo: GitRepo, branch: string): Promise<string[]> {
  const notes: string[] = []
  const gitDir = join(repo.dir, '.git')
  const indexLock = join(gitDir, 'index.lock')
  if (existsSync(indexLock)) {
    if (await fileHeldOpen(indexLock)) {
      throw new FleetError(`A git process is still working in ${repo.dir} (it holds .git/index.lock).`, {code: 'GIT_BUSY', fix: 'Let it finish, then sync again.'})
    }
    await rm(indexLock, {force: true})
    notes.push('removed a stale .git/index.lock left by a killed process')
  }
  if (repo.rebaseInProgress()) {
    await repo.git(['rebase', '--abort'], {allowFailure: true})
    notes.push('aborted a rebase left in progress')
  }
  for (const [head, command] of [['MERGE_HEAD', 'merge'], ['CHERRY_PICK_HEAD', 'cherry-pick'], ['REVERT_HEAD', 'revert']] as const) {
    if (existsSync(join(gitDir, head))) {
      await repo.git([command, '--abort'], {allowFailure: true})
      notes.push(`aborted a ${command} left in progress`)
    }
  }
  const current = await repo.currentBranch()
  if (current !== branch) {
    throw new FleetError(`The source repo ${repo.dir} is on ${current ? `branch ${current}` : 'a detached HEAD'}, not ${branch}.`, {
      code: 'WRONG_BRANCH',
      fix: `Switch it back: git -C "${repo.dir}" switch ${branch} (commit or stash anything you changed there first).`,
    })
  }
  return notes
}
