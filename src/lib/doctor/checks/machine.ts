// The checks of this machine itself: the tools fleet runs, the source repo, the forge, the manifest and the roster as
// the source repo has them, the last sync and the lock, and the directories and disk fleet writes to. The repairs
// that are "run a sync" go through the sync engine, once per `--fix` however many checks ask for it.
import {constants, existsSync, readFileSync, realpathSync, statfsSync} from 'node:fs'
import {access, rm, writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {checkChezmoi, chezmoiBinary, compareVersions, parseVersion} from '../../chezmoi/chezmoi.ts'
import {errorMessage, FleetError} from '../../errors/index.ts'
import {redactUrl} from '../../errors/redact.ts'
import {homeShellPath, shellCommand} from '../../errors/shell-command.ts'
import type {LocalFleet} from '../../fleet/local.ts'
import {forgeTimeoutMs, lsRemote, upstreamRef} from '../../git/git.ts'
import {describeHolder, duration, lockDirFor, stuckLockError} from '../../lock/fleet-lock.ts'
import {isStale, isStuck, readOwner, tryLock} from '../../lock/lock.ts'
import {activeMachines, findMachine} from '../../manifest/lookup.ts'
import type {Fleet} from '../../manifest/schema.ts'
import {ManifestError, manifestPath} from '../../manifest/store.ts'
import {homeRelative} from '../../platform/paths.ts'
import {plural, SHOWN, someOf, withTilde} from '../../platform/text.ts'
import {run} from '../../process/run.ts'
import {executablesOnPath} from '../../process/which.ts'
import {describeSync, managedRoots} from '../../sync/describe.ts'
import {sync} from '../../sync/engine.ts'
import {gitBusyError, type IndexLockState, indexLockState, operationInProgressError, wrongBranchError} from '../../sync/recover.ts'
import {type CheckFinding, type DoctorCheck, fail, ok, skipped, warn} from '../check.ts'
import type {DoctorContext} from '../context.ts'
import {formatSeconds} from '../doctor.ts'

/** git merge-tree --write-tree, which a sync's merge of two machines' edits runs, came with git 2.38. */
const MIN_GIT_VERSION = [2, 38, 0]
const MIN_NODE_MAJOR = 22
/** How long the forge has to answer doctor's ls-remote: long enough for a forge across the world, short enough to wait for. */
export const FORGE_CHECK_TIMEOUT_MS = 3_000
/** A last sync older than this is worth a word: the puller alone syncs every few minutes. */
const SYNC_AGE_WARN_MS = 24 * 60 * 60_000
/** Free space where the source repo lives: below the first, a warning; below the second, a sync may not finish. */
export const DISK_WARN_BYTES = 500_000_000
export const DISK_FAIL_BYTES = 50_000_000

const SYNC_FIX = 'Run `fleet sync`'

// What the checks share.

function firstLine(text: string): string {
  return text.split('\n')[0].trim()
}

/**
 * A FleetError (or anything thrown) as a finding: its first line, and its fix, with "the command" it says to run
 * again named: `again` (the sync a fix leads to, or the check that found it: `fleet doctor --check <id>`).
 */
function failure(context: DoctorContext, error: unknown, again: string): CheckFinding {
  const fix = error instanceof FleetError ? error.fix : undefined
  return fail(withTilde(context.paths.home, firstLine(errorMessage(error))), fix && withTilde(context.paths.home, namedAgain(fix, again)))
}

/** A fix that says "run the command again", saying which command. */
function namedAgain(fix: string, command: string): string {
  return fix.replaceAll('run the command again', `run \`${command}\` again`)
}

const checkAgain = (id: string) => `fleet doctor --check ${id}`

const needLocal = (context: DoctorContext): Promise<LocalFleet> => context.need("this machine's fleet", context.local())
const needManifest = (context: DoctorContext): Promise<Fleet> => context.need('the manifest', context.manifest())

/** A path as a word a person pastes into a shell: `~/…` inside the home directory, quoted where it needs it. */
function pathWord(context: DoctorContext, path: string): string {
  const relative = homeRelative(context.paths, path)
  return relative === undefined ? shellCommand(path) : homeShellPath(relative)
}

/**
 * git in the source repo, stopped with the check. Without the index.lock a `git status` takes to refresh the index:
 * checks run at once, and source.operation must not take another check's git for a killed one.
 */
function gitIn(local: LocalFleet, args: string[], signal: AbortSignal) {
  return local.repo.git(args, {signal, allowFailure: true, env: {GIT_OPTIONAL_LOCKS: '0'}})
}

async function forgeUrl(local: LocalFleet, signal: AbortSignal): Promise<string | undefined> {
  const result = await gitIn(local, ['remote', 'get-url', 'origin'], signal)
  return result.exitCode === 0 ? result.stdout.trim() : undefined
}

/**
 * The repair that is a sync: the sync engine runs once per `--fix` (every check that asks shares it), and says what it
 * did in a line. A forge that does not answer, a sync that failed or could not run (the lock) is a failed repair.
 */
function repairBySync(context: DoctorContext): Promise<string> {
  return context.once('repair: sync', async () => {
    const local = await context.local()
    const result = await sync(local, {reason: 'doctor --fix'})
    if (result.outcome === 'offline' || result.outcome === 'error') {
      throw new FleetError(`The sync did not finish: ${withTilde(context.paths.home, firstLine(result.error ?? 'no reason was recorded'))}`, {
        code: result.failure?.code ?? 'SYNC_FAILED',
        fix: result.failure?.fix && withTilde(context.paths.home, result.failure.fix),
      })
    }
    if (result.outcome === 'deferred') {
      throw new FleetError(`No sync ran: another fleet process holds the lock${result.holder ? ` (${describeHolder(result.holder)})` : ''}.`, {
        code: 'LOCKED',
        fix: 'Run `fleet doctor --fix` again once it is done.',
      })
    }
    return `ran a sync: ${describeSync(result, await managedRoots(local, result)).join(' ')}`
  })
}

/** What stops every sync here until a person clears it: what to do first, naming the check that reports it. */
interface SyncBlocker {
  first: string
}

/** The source repo's .git/index.lock: free, in use by a git command, or left by a killed one (looked at once per run). */
function indexLock(context: DoctorContext, local: LocalFleet): Promise<IndexLockState> {
  return context.once('index-lock', () => indexLockState(local.paths.sourceDir))
}

/** Whether the chezmoi fleet would use works (its version, or the error saying why not), asked once per run. */
function chezmoiUsable(context: DoctorContext, signal: AbortSignal): Promise<string> {
  return context.once('chezmoi-usable', () => checkChezmoi(chezmoiBinary(context.env), context.env, signal))
}

/**
 * What a sync would stop at here now, before doing anything (a person's rebase, a git command at work, a manifest
 * that is not valid, another branch, a chezmoi that cannot be used); undefined when a sync can run.
 */
function syncBlocker(context: DoctorContext, signal: AbortSignal): Promise<SyncBlocker | undefined> {
  return context.once('sync-blocker', async () => {
    const local = await context.local().catch(() => undefined)
    if (!local) return undefined // every check that needs a sync needs this machine's fleet first, and is skipped
    const {repo} = local
    const inProgress = repo.operationInProgress()
    if (inProgress && !repo.recordedOperation()) return {first: `finish or abort the ${inProgress} in the source repo (see source.operation)`}
    if ((await indexLock(context, local)).state === 'busy') return {first: 'let the git command in the source repo finish (see source.operation)'}
    const fleet = await context.manifest().catch(() => undefined)
    if (!fleet) return {first: 'correct the manifest (see manifest.valid)'}
    if (!inProgress) {
      const head = await gitIn(local, ['symbolic-ref', '--quiet', '--short', 'HEAD'], signal)
      if (head.exitCode !== 0 || head.stdout.trim() !== fleet.settings.branch) {
        return {first: `switch the source repo back to ${fleet.settings.branch} (see source.branch)`}
      }
    }
    return chezmoiUsable(context, signal).then(
      () => undefined,
      () => ({first: 'make chezmoi usable (see tools.chezmoi)'}),
    )
  })
}

/**
 * A finding whose fix is a sync: `fleet doctor --fix` runs it, unless something a person must clear first stops every
 * sync here; then the fix says that first, and --fix does not try.
 */
async function bySync(context: DoctorContext, signal: AbortSignal, status: 'warn' | 'fail', message: string, fix: string): Promise<CheckFinding> {
  const blocker = await syncBlocker(context, signal)
  if (!blocker) return {status, message, fix, fixable: true}
  return {status, message, fix: `First ${blocker.first}; then ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`}
}

/**
 * The forge's address as this machine last knew it, for a fix that must name it: where the last fetch came from
 * (.git/FETCH_HEAD), else the bare repository on this machine that fleet makes when there is no other forge, else
 * `<forge>` for the person to fill in.
 */
function recordedForge(context: DoctorContext, local: LocalFleet): string {
  try {
    const fetched = / of (\S+)$/m.exec(readFileSync(join(local.paths.sourceDir, '.git', 'FETCH_HEAD'), 'utf8'))?.[1]
    if (fetched) return shellCommand(redactUrl(fetched))
  } catch {
    // never fetched, or not a git repository
  }
  return existsSync(context.paths.defaultForge) ? pathWord(context, context.paths.defaultForge) : '<forge>'
}

// Tools.

const gitTool: DoctorCheck = {
  id: 'tools.git',
  group: 'Tools',
  async run(context, signal) {
    let output: string
    try {
      output = (await run('git', ['--version'], {timeout: 10_000, signal})).stdout
    } catch (error) {
      return failure(context, error, checkAgain('tools.git'))
    }
    const path = executablesOnPath('git', context.env)[0]
    const where = path ? ` at ${context.tilde(path)}` : ''
    const version = parseVersion(output)
    if (!version) return warn(`Could not read git's version${where} from: ${output.trim()}`, 'Install git 2.38 or later (see the README, "Install").')
    const text = version.join('.')
    if (compareVersions(version, MIN_GIT_VERSION) < 0) {
      return fail(
        `git ${text}${where} is too old: fleet needs ${MIN_GIT_VERSION.join('.')} or later (a sync merges with git merge-tree --write-tree).`,
        'Upgrade git: brew upgrade git (macOS), or a newer package from your distribution (see the README, "Install").',
      )
    }
    return ok(`git ${text}${where}.`)
  },
}

const chezmoiTool: DoctorCheck = {
  id: 'tools.chezmoi',
  group: 'Tools',
  async run(context, signal) {
    const binary = chezmoiBinary(context.env)
    const path = binary.includes('/') ? resolve(binary) : executablesOnPath(binary, context.env)[0]
    if (context.env.FLEET_CHEZMOI && (path === undefined || !existsSync(path))) {
      const onPath = executablesOnPath('chezmoi', context.env)[0]
      return fail(
        `FLEET_CHEZMOI names ${binary.includes('/') ? context.tilde(path) : binary}, which ${binary.includes('/') ? 'does not exist' : 'is not on PATH'}.`,
        onPath
          ? `Correct FLEET_CHEZMOI, or unset it to use the chezmoi on PATH (${context.tilde(onPath)}): \`unset FLEET_CHEZMOI\``
          : 'Correct FLEET_CHEZMOI to name a chezmoi 2.71 or later, or unset it and install chezmoi (see the README, "Install")',
      )
    }
    let version: string
    try {
      version = await chezmoiUsable(context, signal)
    } catch (error) {
      return failure(context, error, checkAgain('tools.chezmoi'))
    }
    const others = executablesOnPath('chezmoi', context.env).filter((other) => path === undefined || realpathOr(other) !== realpathOr(path))
    // Which chezmoi fleet uses, and why that one, when there is more than one to choose from.
    const why = context.env.FLEET_CHEZMOI
      ? ' (FLEET_CHEZMOI names it)'
      : others.length > 0
        ? ` (the first on PATH, before ${someOf(others.map((other) => context.tilde(other)))})`
        : ''
    return ok(`chezmoi ${version} at ${path ? context.tilde(path) : binary}${why}.`)
  },
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

const ageTool: DoctorCheck = {
  id: 'tools.age',
  group: 'Tools',
  async run(context, signal) {
    const builtIn = 'fleet and chezmoi encrypt and decrypt with their built-in age'
    const found = await run('age', ['--version'], {timeout: 10_000, allowFailure: true, signal}).catch(() => undefined)
    if (!found || found.exitCode !== 0) {
      return ok(
        `The age command is not installed, and fleet does not need it: ${builtIn}. Install it (brew install age, apt install age) to decrypt a file by hand.`,
      )
    }
    const path = executablesOnPath('age', context.env)[0]
    return ok(`age ${found.stdout.trim()}${path ? ` at ${context.tilde(path)}` : ''}, for decrypting by hand: ${builtIn}.`)
  },
}

const nodeTool: DoctorCheck = {
  id: 'tools.node',
  group: 'Tools',
  async run(context) {
    const version = process.versions.node
    if (Number(version.split('.')[0]) < MIN_NODE_MAJOR) {
      return fail(
        `Node ${version} is too old: fleet needs Node ${MIN_NODE_MAJOR} or later.`,
        'Install a newer Node.js: brew install node (macOS), or see https://nodejs.org.',
      )
    }
    return ok(`Node ${version} at ${context.tilde(process.execPath)}.`)
  },
}

// The source repo.

const sourceRepo: DoctorCheck = {
  id: 'source.repo',
  group: 'Source repo',
  async run(context, signal) {
    let local: LocalFleet
    try {
      local = await context.local()
    } catch (error) {
      return failure(context, error, checkAgain('source.repo'))
    }
    const dir = context.tilde(local.paths.sourceDir)
    const forge = recordedForge(context, local)
    if (!local.repo.isRepo()) {
      return fail(
        `${dir} holds a fleet manifest but is not a git repository.`,
        `Move it aside (mv ${dir} ${dir}.aside) and run \`fleet enroll --forge ${forge} --name ${local.machine}\` to clone the fleet again.`,
      )
    }
    const url = await forgeUrl(local, signal)
    if (url === undefined) {
      return fail(`${dir} has no remote named origin: it cannot reach the forge.`, `Name the forge: git -C ${dir} remote add origin ${forge}`)
    }
    return ok(`${dir} is this fleet's source repo (${local.machine}); its forge is ${redactUrl(url)}.`)
  },
}

const sourceClean: DoctorCheck = {
  id: 'source.clean',
  group: 'Source repo',
  async run(context, signal) {
    const local = await needLocal(context)
    const status = await gitIn(local, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'], signal)
    if (status.exitCode !== 0) return fail(`git status failed in ${context.tilde(local.paths.sourceDir)}: ${firstLine(status.stderr)}`)
    const changed = status.stdout
      .split('\0')
      .filter((entry) => entry.length > 3)
      .map((entry) => entry.slice(3))
    if (changed.length === 0) return ok('Nothing uncommitted.')
    return bySync(
      context,
      signal,
      'warn',
      `${plural(changed.length, 'uncommitted change')} in ${context.tilde(local.paths.sourceDir)}: ${someOf(changed)}.`,
      `${SYNC_FIX}: it commits them as they are and pushes them.`,
    )
  },
  repair: repairBySync,
  repairNeedsForge: true,
}

const sourceOperation: DoctorCheck = {
  id: 'source.operation',
  group: 'Source repo',
  async run(context, signal) {
    const local = await needLocal(context)
    const {repo} = local
    const recorded = repo.recordedOperation()
    const inProgress = repo.operationInProgress()
    if (recorded) {
      const since = Number.isNaN(Date.parse(recorded.at)) ? '' : ` (${duration(Date.now() - Date.parse(recorded.at))} ago)`
      return bySync(
        context,
        signal,
        'warn',
        `fleet's ${recorded.operation} did not finish${since}${inProgress ? `, and left a ${inProgress} in progress` : ''}.`,
        `${SYNC_FIX}: it goes back to this machine's last commit (nothing committed is lost) and syncs again.`,
      )
    }
    if (inProgress) return failure(context, operationInProgressError(local.paths.sourceDir, inProgress), 'fleet sync')
    const lock = await indexLock(context, local)
    if (lock.state === 'busy') {
      const dir = local.paths.sourceDir
      const {message, fix} = gitBusyError(dir, lock, {dir: context.tilde(dir), lockWord: pathWord(context, join(dir, '.git', 'index.lock'))})
      return warn(message, fix)
    }
    if (lock.state === 'stale') {
      return bySync(
        context,
        signal,
        'warn',
        `A killed git process left .git/index.lock in the source repo (${duration(lock.ageMs)} ago; no git process works there now).`,
        `${SYNC_FIX}: it removes it.`,
      )
    }
    return ok('No rebase or merge in progress.')
  },
  repair: repairBySync,
  repairNeedsForge: true,
}

const sourceBranch: DoctorCheck = {
  id: 'source.branch',
  group: 'Source repo',
  async run(context, signal) {
    const local = await needLocal(context)
    const {branch} = (await needManifest(context)).settings
    const inProgress = local.repo.operationInProgress()
    if (inProgress) return skipped(`Skipped: a ${inProgress} is in progress (see source.operation).`)
    const head = await gitIn(local, ['symbolic-ref', '--quiet', '--short', 'HEAD'], signal)
    const current = head.exitCode === 0 ? head.stdout.trim() : undefined
    if (current === branch) return ok(`On ${branch}, the fleet's branch.`)
    return failure(context, wrongBranchError(local.paths.sourceDir, current, branch), 'fleet sync')
  },
}

const sourceAheadBehind: DoctorCheck = {
  id: 'source.ahead-behind',
  group: 'Source repo',
  async run(context, signal) {
    const local = await needLocal(context)
    const upstream = upstreamRef((await needManifest(context)).settings.branch)
    const counted = await gitIn(local, ['rev-list', '--left-right', '--count', `${upstream}...HEAD`], signal)
    if (counted.exitCode !== 0)
      return bySync(context, signal, 'warn', `This machine has not fetched from the forge yet (there is no ${upstream}).`, `${SYNC_FIX}.`)
    const [behind, ahead] = counted.stdout.trim().split(/\s+/).map(Number)
    const asOf = `(as of the last fetch or push, ${upstream})`
    if (ahead > 0) {
      return bySync(
        context,
        signal,
        'warn',
        `${plural(ahead, 'commit')} here not on the forge yet${behind > 0 ? `, and ${behind} from the forge not here yet` : ''} ${asOf}.`,
        `${SYNC_FIX}: it pushes them (an approve, revoke or enroll whose commit never reached the forge is finished this way).`,
      )
    }
    if (behind > 0) {
      return bySync(
        context,
        signal,
        'warn',
        `${plural(behind, 'commit')} fetched from the forge, not brought in here yet ${asOf}.`,
        `${SYNC_FIX}: it brings them in.`,
      )
    }
    return ok(`Even with the forge ${asOf}.`)
  },
  repair: repairBySync,
  repairNeedsForge: true,
}

const sourceConflicts: DoctorCheck = {
  id: 'source.conflicts',
  group: 'Source repo',
  async run(context, signal) {
    const local = await needLocal(context)
    const {conflicts} = await context.syncState()
    const parked = (await gitIn(local, ['branch', '--list', '--format=%(refname:short)', 'fleet/parked/*'], signal)).stdout.split('\n').filter(Boolean)
    if (conflicts.length === 0) {
      const kept =
        parked.length > 0 ? ` (${plural(parked.length, 'parked branch')} ${parked.length === 1 ? 'keeps' : 'keep'} earlier versions: ${someOf(parked)})` : ''
      return ok(`No conflicts${kept}.`)
    }
    const files = conflicts.map((c) => `~/${c.path} (this machine's version kept on ${c.parkedBranch})`)
    const paths = conflicts.map((c) => homeShellPath(c.path))
    const fix =
      paths.length === 1
        ? `Run \`fleet resolve ${paths[0]} --mine\` to keep this machine's version, or \`--theirs\` to take the fleet's.`
        : `Run \`fleet resolve <path> --mine\` (keep this machine's version) or \`--theirs\` (take the fleet's) for each: ${someOf(paths, SHOWN)}.`
    return fail(`${plural(conflicts.length, 'file')} changed here and on another machine in the same place: ${someOf(files, SHOWN)}.`, fix)
  },
}

// The forge.

/** How long doctor waits for the forge: FLEET_FORGE_TIMEOUT when it is set (a forge slow by nature), else FORGE_CHECK_TIMEOUT_MS. */
export function forgeCheckLimitMs(env: NodeJS.ProcessEnv): number {
  if (!env.FLEET_FORGE_TIMEOUT) return FORGE_CHECK_TIMEOUT_MS
  try {
    return forgeTimeoutMs(env)
  } catch {
    return FORGE_CHECK_TIMEOUT_MS // the check itself says what is wrong with the variable
  }
}

const forgeReachable: DoctorCheck = {
  id: 'forge.reachable',
  group: 'Forge',
  /** The forge's limit, and time for the git that compares what it answered with what this machine has. */
  get timeoutMs() {
    return forgeCheckLimitMs(process.env) + 2_000
  },
  async run(context, signal) {
    const local = await needLocal(context)
    const url = await forgeUrl(local, signal)
    if (url === undefined) return skipped('Skipped: the source repo names no forge (see source.repo).')
    let refs: Map<string, string>
    try {
      forgeTimeoutMs(context.env) // a FLEET_FORGE_TIMEOUT that is not a number of seconds is this check's failure
      refs = await lsRemote(url, {timeoutMs: forgeCheckLimitMs(context.env), signal})
    } catch (error) {
      return failure(context, error, checkAgain('forge.reachable'))
    }
    const forge = redactUrl(url)
    const fleet = await context.manifest().catch(() => undefined)
    if (!fleet) return ok(`${forge} answered.`)
    const {branch} = fleet.settings
    const head = refs.get(`refs/heads/${branch}`)
    if (head === undefined) return bySync(context, signal, 'warn', `${forge} answered, but has no branch ${branch}.`, `${SYNC_FIX}: it pushes this machine's.`)
    const upstream = upstreamRef(branch)
    const known = await gitIn(local, ['rev-parse', '--verify', '--quiet', `${upstream}^{commit}`], signal)
    if (known.exitCode === 0 && known.stdout.trim() === head) return ok(`${forge} answered; its ${branch} is where the last fetch or push left it.`)
    // The forge's new commits can be counted only when this machine has them already (fetched since, by another way).
    const counted = await gitIn(local, ['rev-list', '--count', `${upstream}..${head}`], signal)
    const news = counted.exitCode === 0 && Number(counted.stdout) > 0 ? plural(Number(counted.stdout), 'new commit') : 'new commits'
    return bySync(
      context,
      signal,
      'warn',
      `${forge} has ${news} on ${branch} since the last fetch; the next sync brings them.`,
      `${SYNC_FIX} to bring them now.`,
    )
  },
  repair: repairBySync,
  repairNeedsForge: true,
}

// The manifest and the roster, as the source repo has them.

const manifestValid: DoctorCheck = {
  id: 'manifest.valid',
  group: 'Manifest',
  async run(context) {
    const local = await needLocal(context)
    let fleet: Fleet
    try {
      fleet = await context.manifest()
    } catch (error) {
      return manifestFailure(context, error)
    }
    const file = context.tilde(manifestPath(local.paths.sourceDir))
    return ok(`${file}: ${plural(fleet.machines.length, 'machine')}, ${plural(fleet.paths.length, 'managed path')}, branch ${fleet.settings.branch}.`)
  },
}

/**
 * A manifest that cannot be read, in a line: each field's problem after the file, joined with "; "; the fix names the
 * line of a YAML syntax error, or the fields, and the command to run after.
 */
function manifestFailure(context: DoctorContext, error: unknown): CheckFinding {
  if (!(error instanceof ManifestError)) return failure(context, error, checkAgain('manifest.valid'))
  const [head, ...fields] = errorMessage(error)
    .split('\n')
    .map((line) => line.trim())
  const message = fields.length > 0 ? `${head} ${fields.join('; ')}` : head
  const file = context.tilde(manifestPath(context.paths.sourceDir))
  const line = /\bat line (\d+)/.exec(head)?.[1]
  const what = / is not valid YAML: /.test(head)
    ? `Correct the YAML syntax ${line ? `at line ${line} of` : 'in'} ${file}`
    : `Correct the field${fields.length > 1 ? 's' : ''} in ${file}`
  return fail(
    withTilde(context.paths.home, message),
    `${what}, then run \`fleet doctor --check manifest.valid\` to look again (\`fleet sync\` says which commit brought this version and how to undo it).`,
  )
}

const rosterMachine: DoctorCheck = {
  id: 'roster.machine',
  group: 'Roster',
  async run(context) {
    const local = await needLocal(context)
    const fleet = await needManifest(context)
    const name = local.machine
    const me = findMachine(fleet, name)
    const approvers = activeMachines(fleet)
      .map((m) => m.name)
      .filter((other) => other !== name)
    const onActive = approvers.length > 0 ? `on ${approvers.join(' or ')}` : 'on an active machine'
    if (!me) {
      return fail(
        `This machine (${name}) is not on the fleet's roster.`,
        `Run \`fleet enroll --name ${name} --yes\` here to join it again, then \`fleet machines approve ${name}\` ${onActive}.`,
      )
    }
    if (me.state === 'pending') {
      return warn(
        `This machine (${name}) waits for approval: until an active machine approves it, it gets none of the fleet's encrypted files.`,
        `Run \`fleet machines approve ${name}\` ${onActive}, then \`fleet sync\` here.`,
      )
    }
    if (me.state === 'revoked') {
      return fail(
        `This machine (${name}) was revoked from the fleet: its key opens none of the encrypted files any more.`,
        `To join again: move ${context.tilde(local.paths.identityFile)} aside, run \`fleet enroll --name <new-name>\`, then \`fleet machines approve <new-name>\` ${onActive}.`,
      )
    }
    return ok(`This machine (${name}) is active${me.approvedBy ? ` (approved by ${me.approvedBy})` : ''}.`)
  },
}

const rosterPending: DoctorCheck = {
  id: 'roster.pending',
  group: 'Roster',
  async run(context) {
    const local = await needLocal(context)
    const fleet = await needManifest(context)
    const pending = fleet.machines.filter((m) => m.state === 'pending' && m.name !== local.machine)
    if (pending.length === 0) return ok('No machine waits for approval.')
    const named = pending.map((m) => `${m.name} (${m.hostname}, enrolled ${duration(Date.now() - Date.parse(m.enrolledAt))} ago)`)
    const commands = (verb: string) => pending.map((m) => `\`fleet machines ${verb} ${m.name}\``).join(', ')
    const where = findMachine(fleet, local.machine)?.state === 'active' ? 'Run' : 'On an active machine, run'
    return warn(
      `${plural(pending.length, 'machine')} ${pending.length === 1 ? 'waits' : 'wait'} for approval: ${named.join(', ')}.`,
      `${where} ${commands('approve')} once you know ${pending.length === 1 ? 'it is' : 'they are'} yours (or ${commands('revoke')} ${pending.length === 1 ? 'if it is not' : 'for one that is not'}).`,
    )
  },
}

// The last sync and the lock.

const syncLast: DoctorCheck = {
  id: 'sync.last',
  group: 'Sync',
  async run(context, signal) {
    const local = await needLocal(context)
    const state = await context.syncState()
    if (state.running) {
      const lockDir = lockDirFor(context.paths)
      const holder = readOwner(lockDir)
      const started = `${duration(Date.now() - Date.parse(state.running.at))} ago`
      if (holder && holder.pid === state.running.pid && !isStale(lockDir, holder))
        return ok(`A sync is running now (${state.running.reason}, started ${started}).`)
      return bySync(
        context,
        signal,
        'fail',
        `A sync (${state.running.reason}, ${started}) did not finish: it was stopped, or it could not write its record (a full disk?).`,
        `${SYNC_FIX}: it recovers what the stopped one left half done.`,
      )
    }
    const last = state.lastSync
    if (!last) return neverSynced(context, signal, local)
    const ageMs = Date.now() - Date.parse(last.at)
    const what = `The last sync (${duration(ageMs)} ago, ${last.reason})`
    const recordedFix = (fallback: string) => withTilde(context.paths.home, namedAgain(last.fix ?? fallback, 'fleet sync'))
    switch (last.outcome) {
      case 'error': {
        const message = `${what} failed: ${withTilde(context.paths.home, firstLine(last.error ?? 'no reason was recorded'))}`
        // What stops a sync now is the person's to clear, and the recorded fix says how; else (its cause repaired, or
        // passing) the one sync of --fix clears it.
        if (await syncBlocker(context, signal)) return fail(message, recordedFix(`${SYNC_FIX} to see the whole error and its fix.`))
        return fail(message, recordedFix(`${SYNC_FIX} again.`), true)
      }
      case 'offline':
        return bySync(
          context,
          signal,
          'warn',
          `${what} could not reach the forge; this machine's work waits here for it.`,
          recordedFix('Check the network and the forge (see forge.reachable), then run `fleet sync` again.'),
        )
      case 'conflict':
        if (state.conflicts.length === 0) return ok(`${what} ended in a conflict, resolved since.`)
        return warn(`${what} ended in a conflict (see source.conflicts).`, 'Run `fleet resolve <path> --mine` or `--theirs` for each file in conflict.')
      default:
        if (ageMs > SYNC_AGE_WARN_MS) {
          return bySync(
            context,
            signal,
            'warn',
            `${what} went well, but that was long ago.`,
            `${SYNC_FIX}; the agents sync by themselves (\`fleet agents list\` shows whether they run).`,
          )
        }
        return ok(`${what} went well (${last.outcome}, ${formatSeconds(last.durationMs)}).`)
    }
  },
  repair: repairBySync,
  repairNeedsForge: true,
}

/** How long after enrolling a machine that has not synced yet is as expected: its agents' first sync comes within minutes. */
const FIRST_SYNC_GRACE_MS = 10 * 60_000

/** No sync recorded: as expected just after enrolling; worth a word (and a sync) once the agents should have run one. */
async function neverSynced(context: DoctorContext, signal: AbortSignal, local: LocalFleet): Promise<CheckFinding> {
  const enrolledAt = Date.parse((await context.manifest().catch(() => undefined))?.machines.find((m) => m.name === local.machine)?.enrolledAt ?? '')
  if (Number.isNaN(enrolledAt)) return bySync(context, signal, 'warn', 'This machine has not synced yet.', `${SYNC_FIX}.`)
  const since = `enrolled ${duration(Math.max(0, Date.now() - enrolledAt))} ago`
  if (Date.now() - enrolledAt < FIRST_SYNC_GRACE_MS) return ok(`This machine has not synced since it was enrolled (${since}).`)
  return bySync(
    context,
    signal,
    'warn',
    `This machine has not synced since it was enrolled (${since}).`,
    `${SYNC_FIX}; the agents sync by themselves (\`fleet agents list\` shows whether they run).`,
  )
}

const syncLock: DoctorCheck = {
  id: 'sync.lock',
  group: 'Sync',
  async run(context) {
    const lockDir = lockDirFor(context.paths)
    if (!existsSync(lockDir)) return ok('The lock is free.')
    const owner = readOwner(lockDir)
    if (isStale(lockDir, owner)) {
      return warn(
        `A stale lock: ${owner ? `its holder (${describeHolder(owner)}) is gone` : 'it never recorded a holder'}.`,
        'Remove it, after checking again that its holder is gone (the next sync does it too).',
        true,
      )
    }
    if (owner && isStuck(lockDir, owner)) return failure(context, stuckLockError(owner), 'fleet sync')
    return ok(owner ? `Held by ${describeHolder(owner)}.` : 'A fleet process is taking the lock now.')
  },
  async repair(context) {
    const lockDir = lockDirFor(context.paths)
    if (!existsSync(lockDir)) return 'nothing left to do: the lock is free now (a sync took the stale one over)'
    const owner = readOwner(lockDir)
    // tryLock removes a lock only once it has checked again that nobody alive holds it; this one lets go at once.
    const lock = tryLock(lockDir, 'doctor --fix')
    if (!lock) {
      const holder = readOwner(lockDir)
      throw new FleetError(`The lock was left alone: its holder is alive${holder ? ` (${describeHolder(holder)})` : ''}.`, {
        code: 'LOCKED',
        fix: 'Wait for it to finish, then run `fleet doctor` again.',
      })
    }
    lock.release()
    return owner ? `removed the stale lock of pid ${owner.pid} (${owner.purpose}), which is gone` : 'removed a lock that never recorded a holder'
  },
}

// This machine's directories and disk.

/** The directory itself, or the nearest one above it that exists. */
function nearestExisting(path: string): string {
  let dir = path
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** Why fleet may not write in `dir` (tried with a file made and removed at once), or undefined when it may. */
async function notWritable(dir: string): Promise<{dir: string; why: string} | undefined> {
  const probe = join(dir, `.fleet-doctor-${process.pid}-${Date.now()}`)
  try {
    await writeFile(probe, '', {flag: 'wx', mode: 0o600})
    await rm(probe, {force: true})
    return undefined
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      // Not made yet: fleet makes it at first use, in the nearest directory above it that exists.
      const parent = nearestExisting(dir)
      return access(parent, constants.W_OK).then(
        () => undefined,
        () => ({dir: parent, why: 'permission denied'}),
      )
    }
    return {dir, why: code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : 'permission denied'}
  }
}

const machineDirs: DoctorCheck = {
  id: 'machine.dirs',
  group: 'This machine',
  async run(context) {
    const dirs = [...new Set([context.paths.stateDir, context.paths.logDir])]
    const problems = (await Promise.all(dirs.map((dir) => notWritable(dir)))).filter((problem) => problem !== undefined)
    if (problems.length === 0) return ok(`${dirs.map((dir) => context.tilde(dir)).join(' and ')} can be written.`)
    const [{dir, why}] = problems
    const word = pathWord(context, dir)
    return fail(
      `fleet may not write ${context.tilde(dir)} (${why}): it keeps its lock, its sync state and its logs there.`,
      why === 'permission denied'
        ? `Make it writable for you: chmod u+w ${word} (ls -ld ${word} shows who owns it).`
        : `Free some space there, or make it writable (df -h ${word}).`,
    )
  },
}

const machineDisk: DoctorCheck = {
  id: 'machine.disk',
  group: 'This machine',
  async run(context) {
    const {sourceDir} = context.paths
    const where = nearestExisting(sourceDir)
    const stats = statfsSync(where)
    // Not enrolled yet: the disk that will hold the source repo, named as the source repo.
    if (where !== sourceDir) return diskFinding(stats.bavail * stats.bsize, context.tilde(sourceDir), pathWord(context, where), 'will hold')
    return diskFinding(stats.bavail * stats.bsize, context.tilde(where), pathWord(context, where))
  },
}

/**
 * What the free space where the source repo lives (`where`, as shown; `word`, for the shell) says: ok, a warning, or
 * a failure. `holds`: "will hold" for a source repo not made yet.
 */
export function diskFinding(freeBytes: number, where: string, word = where, holds = 'holds'): CheckFinding {
  const free = `${formatBytes(freeBytes)} free on the disk that ${holds} ${where}`
  const fix = `Free some space there (df -h ${word} shows how much is left).`
  if (freeBytes < DISK_FAIL_BYTES) return fail(`Only ${free}: a sync may not be able to write its commits.`, fix)
  if (freeBytes < DISK_WARN_BYTES) return warn(`Only ${free}.`, fix)
  return ok(`${free}.`)
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`
  return `${Math.floor(bytes / 1e6)} MB`
}

/** The checks of this machine: tools, source repo, forge, manifest, roster, the last sync and the lock, directories and disk. */
export const machineChecks: DoctorCheck[] = [
  gitTool,
  chezmoiTool,
  ageTool,
  nodeTool,
  sourceRepo,
  sourceClean,
  sourceOperation,
  sourceBranch,
  sourceAheadBehind,
  sourceConflicts,
  forgeReachable,
  manifestValid,
  rosterMachine,
  rosterPending,
  syncLast,
  syncLock,
  machineDirs,
  machineDisk,
]
