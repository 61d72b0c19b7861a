// The git adapter: the commands fleet runs against the source repo and the forge, with the timeouts and
// environment that keep them from ever waiting for a person.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {ForgeUnreachableError} from '../errors/index.ts'
import {ProcessError, run, type RunResult} from '../process/run.ts'

const NETWORK_TIMEOUT_MS = 60_000
const LS_REMOTE_TIMEOUT_MS = 20_000

/** Never prompt (an agent has nobody to answer), and take every path literally (a file may be named `*` or `:x`). */
const GIT_ENV = {GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true', LC_ALL: 'C', GIT_LITERAL_PATHSPECS: '1'}

export type PushOutcome = 'pushed' | 'rejected'

function isNetworkFailure(result: RunResult): boolean {
  return !/\[rejected\]|non-fast-forward|fetch first|stale info/.test(result.stderr)
}

function firstLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'))
  return lines.find((l) => l.startsWith('fatal:') || l.startsWith('ssh:') || l.startsWith('error:')) ?? lines[0] ?? 'no answer'
}

async function git(args: string[], options: {cwd?: string; timeout?: number; allowFailure?: boolean; input?: string} = {}) {
  return run('git', args, {env: GIT_ENV, ...options})
}

/** The refs the forge advertises (ref name → commit), or a ForgeUnreachableError. */
export async function lsRemote(url: string): Promise<Map<string, string>> {
  const result = await git(['ls-remote', '--', url], {timeout: LS_REMOTE_TIMEOUT_MS, allowFailure: true})
  if (result.exitCode !== 0) throw new ForgeUnreachableError(url, firstLine(result.stderr), new ProcessError(result))
  const refs = new Map<string, string>()
  for (const line of result.stdout.split('\n')) {
    const [sha, ref] = line.split('\t')
    if (sha && ref) refs.set(ref, sha)
  }
  return refs
}

export async function initBare(path: string, branch: string): Promise<void> {
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, '--', path])
}

/** Clone the forge's default branch. */
export async function clone(url: string, dir: string): Promise<GitRepo> {
  const result = await git(['clone', '--quiet', '--', url, dir], {timeout: NETWORK_TIMEOUT_MS * 2, allowFailure: true})
  if (result.exitCode !== 0) {
    if (isNetworkFailure(result) && !existsSync(join(dir, '.git'))) throw new ForgeUnreachableError(url, firstLine(result.stderr), new ProcessError(result))
    throw new ProcessError(result)
  }
  return new GitRepo(dir)
}

export interface StatusEntry {
  /** Two-letter porcelain code, e.g. ' M', '??', 'UU'. */
  code: string
  path: string
}

export class GitRepo {
  readonly dir: string
  constructor(dir: string) {
    this.dir = dir
  }

  git(args: string[], options: {timeout?: number; allowFailure?: boolean; input?: string} = {}) {
    return git(args, {cwd: this.dir, ...options})
  }

  isRepo(): boolean {
    return existsSync(join(this.dir, '.git'))
  }

  async init(branch: string): Promise<void> {
    await git(['init', '--quiet', `--initial-branch=${branch}`, '--', this.dir])
  }

  async remoteUrl(remote = 'origin'): Promise<string | undefined> {
    const result = await this.git(['remote', 'get-url', remote], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  async setRemote(url: string, remote = 'origin'): Promise<void> {
    const current = await this.remoteUrl(remote)
    if (current === url) return
    await this.git(current === undefined ? ['remote', 'add', remote, url] : ['remote', 'set-url', remote, url])
  }

  async renameRemote(from: string, to: string): Promise<void> {
    await this.git(['remote', 'rename', from, to])
  }

  /** Commits need an author; a fresh machine often has none configured. Name the machine instead. */
  async ensureIdentity(machine: string): Promise<void> {
    const name = await this.git(['config', 'user.name'], {allowFailure: true})
    if (name.stdout.trim() === '') await this.git(['config', 'user.name', `fleet on ${machine}`])
    const email = await this.git(['config', 'user.email'], {allowFailure: true})
    if (email.stdout.trim() === '') await this.git(['config', 'user.email', `${machine}@fleet.invalid`])
  }

  async currentBranch(): Promise<string | undefined> {
    const result = await this.git(['symbolic-ref', '--quiet', '--short', 'HEAD'], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  async revParse(ref: string): Promise<string | undefined> {
    const result = await this.git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  /**
   * The commit a branch points at, read from .git without starting git (for checks that run every few seconds);
   * undefined when it cannot be read that way.
   */
  readBranchHead(branch: string): string | undefined {
    const loose = join(this.dir, '.git', 'refs', 'heads', branch)
    try {
      return readFileSync(loose, 'utf8').trim()
    } catch {
      try {
        const packed = readFileSync(join(this.dir, '.git', 'packed-refs'), 'utf8')
        return packed.split('\n').find((line) => line.endsWith(` refs/heads/${branch}`))?.split(' ')[0]
      } catch {
        return undefined
      }
    }
  }

  async hasCommits(): Promise<boolean> {
    return (await this.revParse('HEAD')) !== undefined
  }

  /** The content of a file at a ref, or undefined when it does not exist there. */
  async show(ref: string, path: string): Promise<string | undefined> {
    const result = await this.git(['show', `${ref}:${path}`], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout : undefined
  }

  async status(): Promise<StatusEntry[]> {
    const result = await this.git(['status', '--porcelain=v1', '-z', '--untracked-files=all'])
    const entries: StatusEntry[] = []
    const fields = result.stdout.split('\0')
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]
      if (field.length < 4) continue
      const code = field.slice(0, 2)
      entries.push({code, path: field.slice(3)})
      if (code[0] === 'R' || code[0] === 'C') i++ // the source path of a rename follows
    }
    return entries
  }

  /** Stage everything and commit. Returns false when there was nothing to commit. */
  async commitAll(message: string): Promise<boolean> {
    await this.git(['add', '--all'])
    const staged = await this.git(['diff', '--cached', '--quiet'], {allowFailure: true})
    if (staged.exitCode === 0) return false
    await this.git(['commit', '--quiet', '--no-verify', '--file', '-'], {input: message})
    return true
  }

  async fetch(remote = 'origin'): Promise<void> {
    const result = await this.git(['fetch', '--quiet', '--prune', remote], {timeout: NETWORK_TIMEOUT_MS, allowFailure: true})
    if (result.exitCode !== 0) {
      const url = (await this.remoteUrl(remote)) ?? remote
      throw new ForgeUnreachableError(url, firstLine(result.stderr), new ProcessError(result))
    }
  }

  async push(branch: string, remote = 'origin'): Promise<PushOutcome> {
    const result = await this.git(['push', '--quiet', '--porcelain', remote, `HEAD:refs/heads/${branch}`], {timeout: NETWORK_TIMEOUT_MS, allowFailure: true})
    if (result.exitCode === 0) return 'pushed'
    if (!isNetworkFailure(result) || /\[rejected\]|^!/m.test(result.stdout)) return 'rejected'
    const url = (await this.remoteUrl(remote)) ?? remote
    throw new ForgeUnreachableError(url, firstLine(result.stderr), new ProcessError(result))
  }

  /** Commits on `a` that are not on `b`. */
  async countAhead(a: string, b: string): Promise<number> {
    const result = await this.git(['rev-list', '--count', `${b}..${a}`])
    return Number(result.stdout.trim())
  }

  async commitCount(ref: string): Promise<number> {
    const result = await this.git(['rev-list', '--count', ref])
    return Number(result.stdout.trim())
  }

  rebaseInProgress(): boolean {
    return existsSync(join(this.dir, '.git', 'rebase-merge')) || existsSync(join(this.dir, '.git', 'rebase-apply'))
  }

  /** Rebase the current branch onto `upstream`. On a conflict the rebase is aborted: the repo is never left mid-rebase. */
  async rebase(upstream: string): Promise<'rebased' | 'conflict'> {
    const result = await this.git(['rebase', '--quiet', upstream], {allowFailure: true})
    if (result.exitCode === 0) return 'rebased'
    if (this.rebaseInProgress()) {
      await this.git(['rebase', '--abort'], {allowFailure: true})
      return 'conflict'
    }
    throw new ProcessError(result)
  }

  async resetHard(ref: string): Promise<void> {
    await this.git(['reset', '--quiet', '--hard', ref])
  }

  /**
   * git's three-way merge of two commits, computed without touching the work tree: the merged tree (files git
   * could not merge hold conflict markers there) and the paths that conflicted.
   */
  async mergeTree(mine: string, theirs: string): Promise<{tree: string; conflicted: string[]}> {
    const result = await this.git(['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', mine, theirs], {allowFailure: true})
    if (result.exitCode !== 0 && result.exitCode !== 1) throw new ProcessError(result)
    const [tree, ...conflicted] = result.stdout.split('\0').filter(Boolean)
    return {tree, conflicted: [...new Set(conflicted)]}
  }

  /** Whether a path exists at a commit. */
  async exists(ref: string, path: string): Promise<boolean> {
    return (await this.git(['cat-file', '-e', `${ref}:${path}`], {allowFailure: true})).exitCode === 0
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    const result = await this.git(['merge-base', a, b], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  /** Files changed between two commits, with their status letter (A, M, D). */
  async changedFiles(from: string, to: string): Promise<Array<{status: string; path: string}>> {
    const result = await this.git(['diff', '--name-status', '--no-renames', '-z', from, to])
    const fields = result.stdout.split('\0').filter(Boolean)
    const changes: Array<{status: string; path: string}> = []
    for (let i = 0; i + 1 < fields.length; i += 2) changes.push({status: fields[i][0], path: fields[i + 1]})
    return changes
  }

  async listFiles(): Promise<string[]> {
    const result = await this.git(['ls-files', '-z'])
    return result.stdout.split('\0').filter(Boolean)
  }
}
