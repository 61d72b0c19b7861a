// The git adapter: the commands fleet runs against the source repo and the forge, with the timeouts and
// environment that keep them from ever waiting for a person.
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ForgeUnreachableError} from '../errors/index.ts'
import {durationFromEnv} from '../platform/env.ts'
import {shellCommand} from '../errors/shell-command.ts'
import {ProcessError, run, type RunResult} from '../process/run.ts'
import {forgeSshEnv} from './ssh.ts'

/** How long a fetch or push may take: a sync that meets a forge that never answers ends within about a minute. */
export const FORGE_TIMEOUT_MS = 45_000
/** A question about the forge's refs is small: it needs less. */
const LS_REMOTE_TIMEOUT_MS = 20_000

/**
 * How long a forge operation may take before git and its helpers are ended: FORGE_TIMEOUT_MS, or
 * FLEET_FORGE_TIMEOUT (seconds) for a forge that is slow by nature.
 */
export function forgeTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return durationFromEnv(env, {
    name: 'FLEET_FORGE_TIMEOUT',
    unit: 'seconds',
    fallback: FORGE_TIMEOUT_MS / 1000,
    purpose: 'fleet waits for the forge',
    example: 90,
  })
}

/** Never prompt (an agent has nobody to answer), and take every path literally (a file may be named `*` or `:x`). */
const GIT_ENV = {GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true', LC_ALL: 'C', GIT_LITERAL_PATHSPECS: '1'}

/**
 * How a branch push came out: taken; `rejected`, the forge has commits this one lacks (another machine pushed first:
 * bring them in and push again); `refused`, the forge declined it (a hook, a protected branch): pushing again the
 * same way cannot help.
 */
export type PushOutcome = 'pushed' | 'rejected' | 'refused'

/** A branch push's outcome, and git's reason when the forge refused it. */
export interface BranchPush {
  outcome: PushOutcome
  reason?: string
}

/** How one ref of a push came out, from `git push --porcelain`: taken, already there, or refused with git's reason. */
export interface RefUpdate {
  /** The ref on the forge (`refs/heads/main`, `refs/fleet/heartbeat/<name>`). */
  ref: string
  outcome: 'pushed' | 'up-to-date' | 'rejected'
  /** git's words for a refusal: `[remote rejected] (hook declined)`, `[rejected] (fetch first)`. */
  reason?: string
}

/** The per-ref lines of `git push --porcelain` (`<flag>\t<from>:<to>\t<summary>`); other lines are ignored. */
export function parsePushPorcelain(stdout: string): RefUpdate[] {
  const updates: RefUpdate[] = []
  for (const line of stdout.split('\n')) {
    const match = /^([ +\-*!=])\t[^\t]*:([^\t]+)\t(.*)$/.exec(line)
    if (!match) continue
    const [, flag, ref, summary] = match
    if (flag === '!') updates.push({ref, outcome: 'rejected', reason: summary.trim()})
    else updates.push({ref, outcome: flag === '=' ? 'up-to-date' : 'pushed'})
  }
  return updates
}

/**
 * Whether a ref the forge did not take was declined (`[remote rejected] (pre-receive hook declined)`, a protected
 * branch) rather than behind (`[rejected] (fetch first)`). A ref that moved while it was received (`failed to update
 * ref`, a lost race for its lock) is another machine's push.
 */
export function isRefusal(update: RefUpdate): boolean {
  if (update.outcome !== 'rejected' || !update.reason) return false
  return (
    /^\[remote rejected\]/.test(update.reason) && !/failed to update ref|cannot lock ref|failed to lock|but expected|incorrect old value/.test(update.reason)
  )
}

function isNetworkFailure(result: RunResult): boolean {
  return !/\[rejected\]|non-fast-forward|fetch first|stale info/.test(result.stderr)
}

/** A failure of this machine's disk, not of the forge: it must not pass for an unreachable forge. */
function isLocalDiskFailure(result: RunResult): boolean {
  return /No space left on device|Disk quota exceeded/.test(result.stderr)
}

/** What the forge did wrong, in a line: git's own words (ssh's, when ssh refused), or that it did not answer in time. */
function failureLine(result: RunResult, timeout: number): string {
  if (result.timedOut)
    return `it did not answer within ${Math.round(timeout / 1000)} s (git and its helpers were stopped; FLEET_FORGE_TIMEOUT sets how long fleet waits, in seconds)`
  return firstLine(result.stderr)
}

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'))
  const ssh = lines.find((l) => /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|Permission denied \(/.test(l))
  return ssh ?? lines.find((l) => l.startsWith('fatal:') || l.startsWith('ssh:') || l.startsWith('error:')) ?? lines[0] ?? 'no answer'
}

/**
 * The forge did not answer, or ssh refused to talk to it: exit 3, with the fix for what ssh said. Fleet runs git
 * without a terminal (in its own session, so a timeout ends its helpers too), so ssh cannot ask a person to accept a
 * new host key or type a passphrase: both are done once by hand.
 */
function forgeFailure(url: string, result: RunResult, timeout: number): ForgeUnreachableError {
  let fix: string | undefined
  if (/Host key verification failed|HOST IDENTIFICATION HAS CHANGED/.test(result.stderr)) {
    fix = `ssh does not know (or no longer trusts) the forge's host key, and fleet cannot ask you. Connect once by hand, check the fingerprint it shows and accept it: ${sshCommandFor(url)} — then run the command again.`
  } else if (/Permission denied \(/.test(result.stderr)) {
    fix = `The forge refused this machine's SSH key. Add its public key (~/.ssh/id_ed25519.pub, or the one \`${sshCommandFor(url)} -v\` offers) to your account on the forge; a key with a passphrase must be loaded with ssh-add first. Then run the command again.`
  }
  return new ForgeUnreachableError(url, failureLine(result, timeout), new ProcessError(result), fix)
}

/** The ssh command that reaches the forge's host as git does: `ssh://user@host:port/…` or `user@host:path` (an IPv6 host in brackets). */
export function sshCommandFor(url: string): string {
  const host = String.raw`(\[[^\]]+\]|[^:/\[\]]+)`
  const full = new RegExp(String.raw`^ssh://(?:([^@/]+)@)?${host}(?::(\d+))?`).exec(url)
  const short = new RegExp(String.raw`^(?:([^@/:]+)@)?${host}:`).exec(url)
  const [, user, bracketed, port] = full ?? short ?? []
  const name = bracketed?.replace(/^\[(.*)\]$/, '$1')
  return shellCommand('ssh', ...(port ? ['-p', port] : []), '-T', `${user ? `${user}@` : ''}${name ?? '<forge host>'}`)
}

interface GitOptions {
  cwd?: string
  timeout?: number
  allowFailure?: boolean
  input?: string | Uint8Array
  env?: NodeJS.ProcessEnv
  binary?: boolean
  /** Stops git (and its helpers) when aborted: see RunOptions.signal. */
  signal?: AbortSignal
}

async function git(args: string[], options: GitOptions = {}) {
  return run('git', args, {...options, env: {...GIT_ENV, ...options.env}})
}

/**
 * git talking to the forge: its helpers (ssh, git-remote-http) run in its process group, and end with it. Over SSH it
 * shares a connection to the forge that is already open (see forgeSshEnv), with the person's own ssh command.
 */
async function gitWithForge(args: string[], timeout: number, options: Omit<GitOptions, 'timeout'> = {}) {
  const ssh = await forgeSshEnv(options.cwd ?? process.cwd(), {...process.env, ...options.env})
  return run('git', args, {...options, timeout, processGroup: true, allowFailure: true, env: {...GIT_ENV, ...options.env, ...ssh}})
}

/**
 * What fleet was doing to the source repo's branch and work tree, written before it starts and removed when it is
 * done (`.git/fleet-operation.json`): a sync killed or failed halfway finds it, and puts the branch back at `head`.
 * A rebase or merge in progress without this record is a person's, and is never touched.
 */
export interface FleetGitOperation {
  /** What fleet was doing: 'capture', 'integrate', 'catch up', … */
  operation: string
  /** The branch fleet works on, and the commit it pointed at before: everything fleet had is in it. */
  branch: string
  head: string
  /** A branch fleet made for this operation, deleted when it is undone. */
  parkedBranch?: string
  at: string
}

/** A git operation in progress in a work tree (its state files in .git). */
export type GitOperationKind = 'rebase' | 'merge' | 'cherry-pick' | 'revert'

/**
 * The refs the forge advertises (ref name → commit), or a ForgeUnreachableError. `timeoutMs` shortens the wait (a
 * doctor check's); `signal` stops git and its helpers when aborted.
 */
export async function lsRemote(url: string, options: {timeoutMs?: number; signal?: AbortSignal} = {}): Promise<Map<string, string>> {
  const timeout = Math.min(options.timeoutMs ?? LS_REMOTE_TIMEOUT_MS, forgeTimeoutMs())
  const result = await gitWithForge(['ls-remote', '--', url], timeout, {signal: options.signal})
  if (result.exitCode !== 0) throw forgeFailure(url, result, timeout)
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

/**
 * Clone one branch of the forge, named explicitly: a forge's HEAD is whatever its server defaulted to (`master` for
 * a plain `git init --bare` here), often a branch that does not exist.
 */
export async function clone(url: string, dir: string, branch: string): Promise<GitRepo> {
  const timeout = forgeTimeoutMs() * 2
  const result = await gitWithForge(['clone', '--quiet', '--branch', branch, '--', url, dir], timeout)
  if (result.exitCode !== 0) {
    // A clone that was stopped had no time to clean up after itself; the directory was empty or absent before.
    if (result.timedOut) rmSync(dir, {recursive: true, force: true})
    if (isNetworkFailure(result) && !existsSync(join(dir, '.git'))) throw forgeFailure(url, result, timeout)
    throw new ProcessError(result)
  }
  return new GitRepo(dir)
}

export interface StatusEntry {
  /** Two-letter porcelain code, e.g. ' M', '??', 'UU'. */
  code: string
  path: string
}

/** The source repo's name for the forge: every fetch and push goes to this remote. */
export const FORGE_REMOTE = 'origin'

/** The remote-tracking ref of the forge's `branch` (`origin/<branch>`): where the last fetch or push left it. */
export function upstreamRef(branch: string): string {
  return `${FORGE_REMOTE}/${branch}`
}

/**
 * The commit a branch of the repository at `gitDir` (a `.git` directory or a bare repository) points at, read from
 * its ref files without starting git: the loose ref, else packed-refs. Undefined when neither holds the branch.
 */
export function readBranchRef(gitDir: string, branch: string): string | undefined {
  try {
    return readFileSync(join(gitDir, 'refs', 'heads', branch), 'utf8').trim()
  } catch {
    try {
      const packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8')
      return packed
        .split('\n')
        .find((line) => line.endsWith(` refs/heads/${branch}`))
        ?.split(' ')[0]
    } catch {
      return undefined
    }
  }
}

export class GitRepo {
  readonly dir: string
  constructor(dir: string) {
    this.dir = dir
  }

  git(args: string[], options: Omit<GitOptions, 'cwd'> = {}) {
    return git(args, {cwd: this.dir, ...options})
  }

  private get operationFile(): string {
    return join(this.dir, '.git', 'fleet-operation.json')
  }

  /** Record what fleet is about to do to the branch (see FleetGitOperation); replaces an earlier record. */
  recordOperation(operation: Omit<FleetGitOperation, 'at'>): void {
    writeFileSync(this.operationFile, JSON.stringify({...operation, at: new Date().toISOString()}) + '\n')
  }

  /** The operation fleet left unfinished here, if any. */
  recordedOperation(): FleetGitOperation | undefined {
    try {
      return JSON.parse(readFileSync(this.operationFile, 'utf8')) as FleetGitOperation
    } catch {
      return undefined
    }
  }

  /** The operation is done: nothing to undo any more. */
  clearOperation(): void {
    rmSync(this.operationFile, {force: true})
  }

  /** A rebase, merge, cherry-pick or revert that stopped halfway in the work tree (fleet's or a person's). */
  operationInProgress(): GitOperationKind | undefined {
    if (this.rebaseInProgress()) return 'rebase'
    const gitDir = join(this.dir, '.git')
    if (existsSync(join(gitDir, 'MERGE_HEAD'))) return 'merge'
    if (existsSync(join(gitDir, 'CHERRY_PICK_HEAD'))) return 'cherry-pick'
    if (existsSync(join(gitDir, 'REVERT_HEAD'))) return 'revert'
    return undefined
  }

  /** Stop a rebase, merge, cherry-pick or revert in progress (fleet's own: see recordedOperation). */
  async abortOperation(kind: GitOperationKind): Promise<void> {
    await this.git([kind, '--abort'], {allowFailure: true})
  }

  isRepo(): boolean {
    return existsSync(join(this.dir, '.git'))
  }

  async init(branch: string): Promise<void> {
    await git(['init', '--quiet', `--initial-branch=${branch}`, '--', this.dir])
  }

  async remoteUrl(remote = FORGE_REMOTE): Promise<string | undefined> {
    const result = await this.git(['remote', 'get-url', remote], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  async setRemote(url: string, remote = FORGE_REMOTE): Promise<void> {
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
    return readBranchRef(join(this.dir, '.git'), branch)
  }

  async hasCommits(): Promise<boolean> {
    return (await this.revParse('HEAD')) !== undefined
  }

  /** The content of a file at a ref, or undefined when it does not exist there. */
  async show(ref: string, path: string): Promise<string | undefined> {
    const result = await this.git(['show', `${ref}:${path}`], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout : undefined
  }

  /** The bytes of a blob (`<sha>`, or `<ref>:<path>` for a file at a ref), or undefined when there is none. */
  async blobBytes(object: string): Promise<Buffer | undefined> {
    const result = await this.git(['cat-file', 'blob', object], {allowFailure: true, binary: true})
    return result.exitCode === 0 ? result.stdoutBytes : undefined
  }

  /** Store files' contents as blobs (not committed: kept until git's garbage collection); returns their ids. */
  async storeBlobs(files: string[]): Promise<string[]> {
    if (files.length === 0) return []
    const result = await this.git(['hash-object', '-w', '--no-filters', '--stdin-paths'], {input: files.join('\n') + '\n'})
    return result.stdout.split('\n').filter(Boolean)
  }

  /**
   * Every version (blob id) a path has had on any branch or in the reflog (a commit a rebase rewrote), newest first,
   * at most `limit`.
   */
  async versionsOf(path: string, limit = 100): Promise<string[]> {
    const result = await this.git(['log', '--all', '--reflog', '--no-renames', '--format=', '--raw', '--no-abbrev', `--max-count=${limit}`, '--', path])
    const blobs = result.stdout
      .split('\n')
      .filter((line) => line.startsWith(':'))
      .map((line) => line.split(' ')[3])
    return [...new Set(blobs.filter((sha) => sha && !/^0+$/.test(sha)))]
  }

  /**
   * A commit on top of `parent` with some files replaced (content) or removed (undefined), made without touching
   * the work tree or the index (a temporary index). Returns the new commit.
   */
  async commitFiles(parent: string, files: Array<{path: string; content?: Uint8Array | string}>, message: string): Promise<string> {
    const index = join(tmpdir(), `fleet-index-${process.pid}-${Date.now()}`)
    const env = {GIT_INDEX_FILE: index}
    try {
      await this.git(['read-tree', parent], {env})
      for (const {path, content} of files) {
        if (content === undefined) {
          await this.git(['update-index', '--force-remove', '--', path], {env})
          continue
        }
        const blob = (await this.git(['hash-object', '-w', '--stdin'], {input: content})).stdout.trim()
        await this.git(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], {env})
      }
      const tree = (await this.git(['write-tree'], {env})).stdout.trim()
      return (await this.git(['commit-tree', tree, '-p', parent, '-F', '-'], {input: message})).stdout.trim()
    } finally {
      rmSync(index, {force: true})
    }
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

  async fetch(remote = FORGE_REMOTE): Promise<void> {
    const timeout = forgeTimeoutMs()
    const result = await gitWithForge(['fetch', '--quiet', '--prune', remote], timeout, {cwd: this.dir})
    if (result.exitCode !== 0 && isLocalDiskFailure(result)) throw new ProcessError(result)
    if (result.exitCode !== 0) {
      const url = (await this.remoteUrl(remote)) ?? remote
      throw forgeFailure(url, result, timeout)
    }
  }

  async push(branch: string, remote = FORGE_REMOTE): Promise<PushOutcome> {
    return (await this.pushWith(branch, [], remote)).branch.outcome
  }

  /**
   * Push HEAD to the forge's `branch` and, in the same (non-atomic) push, the `alongside` refspecs: each ref is taken
   * or refused on its own, so a rejected branch still updates the others and a refused other never fails the branch.
   * A forge whose pre-receive hook declines one ref declines them all: the branch then comes back `refused`.
   * Throws ForgeUnreachableError when the forge did not answer.
   */
  async pushWith(branch: string, alongside: string[], remote = FORGE_REMOTE): Promise<{branch: BranchPush; alongside: RefUpdate[]}> {
    const timeout = forgeTimeoutMs()
    const branchRef = `refs/heads/${branch}`
    // Not --quiet: it silences the per-ref lines of --porcelain that say how each ref came out.
    const result = await gitWithForge(['push', '--porcelain', remote, `HEAD:${branchRef}`, ...alongside], timeout, {cwd: this.dir})
    const updates = parsePushPorcelain(result.stdout)
    const others = updates.filter((update) => update.ref !== branchRef)
    const line = updates.find((update) => update.ref === branchRef)
    if (result.exitCode === 0) return {branch: {outcome: 'pushed'}, alongside: others}
    if (isLocalDiskFailure(result)) throw new ProcessError(result)
    if (line && isRefusal(line)) return {branch: {outcome: 'refused', reason: line.reason}, alongside: others}
    if (line) return {branch: {outcome: line.outcome === 'rejected' ? 'rejected' : 'pushed'}, alongside: others}
    if (!result.timedOut && (!isNetworkFailure(result) || /\[rejected\]|^!/m.test(result.stdout))) return {branch: {outcome: 'rejected'}, alongside: others}
    const url = (await this.remoteUrl(remote)) ?? remote
    throw forgeFailure(url, result, timeout)
  }

  /**
   * Push refspecs on their own (no branch), within `timeoutMs` at most: how each ref came out. Throws
   * ForgeUnreachableError when the forge did not answer.
   */
  async pushRefs(refspecs: string[], timeoutMs: number, remote = FORGE_REMOTE): Promise<RefUpdate[]> {
    const timeout = Math.min(timeoutMs, forgeTimeoutMs())
    const result = await gitWithForge(['push', '--porcelain', remote, ...refspecs], timeout, {cwd: this.dir})
    const updates = parsePushPorcelain(result.stdout)
    if (updates.length > 0 && !result.timedOut) return updates
    if (isLocalDiskFailure(result)) throw new ProcessError(result)
    const url = (await this.remoteUrl(remote)) ?? remote
    throw forgeFailure(url, result, timeout)
  }

  /** Fetch one refspec (refs outside the branches: `+refs/fleet/heartbeat/*:refs/fleet/heartbeat/*`) within `timeoutMs` at most. */
  async fetchRefs(refspec: string, timeoutMs: number, remote = FORGE_REMOTE): Promise<void> {
    const timeout = Math.min(timeoutMs, forgeTimeoutMs())
    const result = await gitWithForge(['fetch', '--quiet', '--prune', '--no-write-fetch-head', remote, refspec], timeout, {cwd: this.dir})
    if (result.exitCode === 0) return
    if (isLocalDiskFailure(result)) throw new ProcessError(result)
    const url = (await this.remoteUrl(remote)) ?? remote
    throw forgeFailure(url, result, timeout)
  }

  /** The refs under `prefix` (`refs/fleet/heartbeat/`) in this repo, ref name → object id. */
  async refsUnder(prefix: string): Promise<Map<string, string>> {
    const result = await this.git(['for-each-ref', '--format=%(refname) %(objectname)', prefix])
    const refs = new Map<string, string>()
    for (const line of result.stdout.split('\n')) {
      const [ref, sha] = line.split(' ')
      if (ref && sha) refs.set(ref, sha)
    }
    return refs
  }

  /**
   * A commit without a parent holding only `files` (each at the top of its tree), made with hash-object, mktree and
   * commit-tree: no branch moves, and neither the work tree nor the index is touched. Returns the commit.
   */
  async parentlessCommit(files: Array<{name: string; content: string}>, message: string, author: string): Promise<string> {
    const entries: string[] = []
    for (const {name, content} of files) {
      const blob = (await this.git(['hash-object', '-w', '--stdin'], {input: content})).stdout.trim()
      entries.push(`100644 blob ${blob}\t${name}`)
    }
    const tree = (await this.git(['mktree'], {input: entries.join('\n') + '\n'})).stdout.trim()
    // Its own author, so that a repo without user.name (an enroll stopped early) can make it too.
    const [name, email] = [`fleet on ${author}`, `${author}@fleet.invalid`]
    const env = {GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email}
    return (await this.git(['commit-tree', tree, '-F', '-'], {input: message, env})).stdout.trim()
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

  /** Files in a commit's tree. */
  async filesAt(ref: string): Promise<string[]> {
    const result = await this.git(['ls-tree', '-r', '--name-only', '-z', ref])
    return result.stdout.split('\0').filter(Boolean)
  }

  async listFiles(): Promise<string[]> {
    const result = await this.git(['ls-files', '-z'])
    return result.stdout.split('\0').filter(Boolean)
  }
}
