// The chezmoi adapter: locating a recent enough chezmoi, and the few commands fleet runs through it.
// Every call names the config file and source directory explicitly, the same ones chezmoi finds by itself,
// so a person running chezmoi by hand sees the same state.
import {realpathSync, statSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {FleetError} from '../errors/index.ts'
import {writeCaptureConfig} from './config.ts'
import {hasMisreadDirName, literalizeMisreadDirs, misreadSourceDirs} from './dir-names.ts'
import {ProcessError, run} from '../process/run.ts'
import {executablesOnPath} from '../process/which.ts'
import {relativeWithin} from '../platform/paths.ts'

export const MIN_CHEZMOI_VERSION = '2.71.0'

export interface ChezmoiStatusEntry {
  /** Difference between what chezmoi last wrote and the target now: ' ' none, 'A', 'D', 'M', 'R'. */
  sinceLastWrite: string
  /** Difference between the target now and what applying would make it. */
  onApply: string
  /** Target path relative to $HOME. */
  path: string
}

/** A target chezmoi could not read or apply, with chezmoi's reason. */
export interface TargetFailure {
  /** Relative to $HOME. */
  path: string
  reason: string
}

/** chezmoi's `chezmoi: <target>: <reason>` lines, with targets made relative to $HOME. */
export function parseTargetFailures(stderr: string, home: string): TargetFailure[] {
  const failures: TargetFailure[] = []
  for (const line of stderr.split('\n')) {
    const match = /^chezmoi: (.+?): (.+)$/.exec(line.trim())
    if (!match) continue
    const path = relativeWithin(home, match[1]) ?? match[1]
    if (!path.startsWith('/') && !failures.some((f) => f.path === path)) failures.push({path, reason: match[2]})
  }
  return failures
}

/**
 * `chezmoi status` output. It has no NUL-separated form: a line that does not start with two status columns continues
 * the path above it (a name with a newline in it).
 */
function parseStatus(stdout: string): ChezmoiStatusEntry[] {
  const entries: ChezmoiStatusEntry[] = []
  for (const line of stdout.replace(/\n$/, '').split('\n')) {
    const previous = entries.at(-1)
    if (/^[ ADMR]{2} ./.test(line) || previous === undefined) entries.push({sinceLastWrite: line[0], onApply: line[1], path: line.slice(3)})
    else previous.path += `\n${line}`
  }
  return entries.filter((e) => e.path.length > 0)
}

export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /version v?(\d+)\.(\d+)\.(\d+)/.exec(text)
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/** The chezmoi binary fleet uses: FLEET_CHEZMOI when set, else `chezmoi` on PATH. */
export function chezmoiBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLEET_CHEZMOI || 'chezmoi'
}

const INSTALL_FIX =
  'Install chezmoi 2.71 or later: brew install chezmoi (macOS), or see https://www.chezmoi.io/install/ (the README shows the Debian way). Set FLEET_CHEZMOI to use a chezmoi that is not on PATH.'
/** After the person points fleet at another chezmoi, installed agents must be rendered again to follow. */
const AGENTS_FOLLOW = 'then run `fleet agents install` (if this machine runs agents) so they use it too'

/** Where a chezmoi named without a directory is found on PATH (what a shell would run). */
function onPath(binary: string, env: NodeJS.ProcessEnv): string | undefined {
  if (binary.includes('/')) return resolve(binary)
  return executablesOnPath(binary, env)[0]
}

/**
 * Run options for a chezmoi that `signal` stops (a doctor check's): in a process group of its own, so that the abort
 * ends whatever it started too (a wrapper script's children, a password manager it asked).
 */
function stoppedBy(signal: AbortSignal | undefined): {signal?: AbortSignal; processGroup?: boolean} {
  return signal ? {signal, processGroup: true} : {}
}

async function versionOf(binary: string, signal?: AbortSignal): Promise<[number, number, number] | undefined> {
  const result = await run(binary, ['--version'], {timeout: 15_000, allowFailure: true, ...stoppedBy(signal)}).catch(() => undefined)
  return result?.exitCode === 0 ? parseVersion(result.stdout) : undefined
}

/**
 * The fix for a chezmoi that is too old: the upgrade, and a newer chezmoi already on PATH when there is one.
 * `pinned`: the old one came from FLEET_CHEZMOI, so PATH order does not matter.
 */
async function tooOldFix(path: string, pinned: boolean, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string> {
  const upgrade = `Upgrade chezmoi at ${path}: brew upgrade chezmoi (macOS), or install a newer release (see the README)`
  const minimum = MIN_CHEZMOI_VERSION.split('.').map(Number)
  for (const other of executablesOnPath('chezmoi', env)) {
    if (realpathOr(other) === realpathOr(path)) continue
    const version = await versionOf(other, signal)
    if (version && compareVersions(version, minimum) >= 0) {
      const reorder = pinned ? '' : ` (or put ${dirname(other)} before ${dirname(path)} on PATH)`
      return `${upgrade}; or use the newer chezmoi (${version.join('.')}) at ${other}: \`export FLEET_CHEZMOI=${other}\`${reorder}, ${AGENTS_FOLLOW}.`
    }
  }
  return `${upgrade}; or set FLEET_CHEZMOI to a newer chezmoi, ${AGENTS_FOLLOW}.`
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

/** Find chezmoi and check its version; returns the version string. `signal` stops the chezmoi processes it starts. */
export async function checkChezmoi(binary: string, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<string> {
  let output: string
  try {
    output = (await run(binary, ['--version'], {timeout: 15_000, ...stoppedBy(signal)})).stdout
  } catch (error) {
    throw new FleetError(`chezmoi was not found (${binary}).`, {code: 'CHEZMOI_MISSING', fix: INSTALL_FIX, cause: error})
  }
  const path = onPath(binary, env) ?? binary
  const version = parseVersion(output)
  if (!version) throw new FleetError(`Could not read chezmoi's version (${path}) from: ${output.trim()}`, {code: 'CHEZMOI_VERSION', fix: INSTALL_FIX})
  const minimum = MIN_CHEZMOI_VERSION.split('.').map(Number)
  const text = version.join('.')
  if (compareVersions(version, minimum) < 0) {
    throw new FleetError(`chezmoi ${text} is too old: fleet needs ${MIN_CHEZMOI_VERSION} or later (this one is ${path}).`, {
      code: 'CHEZMOI_TOO_OLD',
      fix: await tooOldFix(path, binary.includes('/'), env, signal),
    })
  }
  return text
}

/** Checked chezmoi binaries of this process: a long-running watcher asks once, not before every sync. */
const checked = new Map<string, Promise<string>>()

/** A chezmoi binary as it is on disk: a new or replaced one (an upgrade, a downgrade) is another. */
function binaryIdentity(binary: string): {path: string; size: number; mtimeMs: number} | undefined {
  const path = onPath(binary, process.env)
  const info = path === undefined ? undefined : statSync(path, {throwIfNoEntry: false})
  return info && path ? {path: realpathOr(path), size: info.size, mtimeMs: info.mtimeMs} : undefined
}

/**
 * checkChezmoi, once per binary per process (a failure is asked again next time: the person may have fixed it).
 * `rememberIn`: a file where a binary that passed is remembered by path, size and time of change, so that each
 * `fleet sync` process does not start chezmoi once more only to ask its version.
 */
export function requireChezmoi(binary: string, rememberIn?: string): Promise<string> {
  let check = checked.get(binary)
  if (!check) {
    check = rememberedCheck(binary, rememberIn)
    checked.set(binary, check)
    check.catch(() => checked.delete(binary))
  }
  return check
}

async function rememberedCheck(binary: string, rememberIn: string | undefined): Promise<string> {
  const identity = binaryIdentity(binary)
  const key = identity && JSON.stringify(identity)
  if (rememberIn && key) {
    const remembered = await readFile(rememberIn, 'utf8').then(
      (text) => JSON.parse(text) as {binary?: string; version?: string},
      () => undefined,
    )
    if (remembered?.binary === key && remembered.version) return remembered.version
  }
  const version = await checkChezmoi(binary)
  if (rememberIn && key) await writeFile(rememberIn, JSON.stringify({binary: key, version})).catch(() => undefined)
  return version
}

export interface ChezmoiFiles {
  binary: string
  configFile: string
  stateFile: string
  captureConfigFile: string
  sourceDir: string
  home: string
}

export class Chezmoi {
  readonly binary: string
  readonly configFile: string
  readonly sourceDir: string
  readonly home: string
  private readonly files: ChezmoiFiles

  constructor(files: ChezmoiFiles) {
    this.files = files
    this.binary = files.binary
    this.configFile = files.configFile
    this.sourceDir = files.sourceDir
    this.home = files.home
  }

  private run(args: string[], options: {timeout?: number; allowFailure?: boolean; config?: string; signal?: AbortSignal} = {}) {
    return run(
      this.binary,
      [
        '--config',
        options.config ?? this.configFile,
        '--persistent-state',
        this.files.stateFile,
        '--source',
        this.sourceDir,
        '--destination',
        this.home,
        '--no-tty',
        '--no-pager',
        '--color=false',
        '--progress=false',
        ...args,
      ],
      {timeout: options.timeout ?? 300_000, allowFailure: options.allowFailure, ...stoppedBy(options.signal)},
    )
  }

  /**
   * Targets whose state differs from the source (`chezmoi status`), leaving out any chezmoi cannot read (see
   * statusWithFailures). `signal` stops chezmoi when aborted (a doctor check's).
   */
  async status(targets: string[] = [], options: {signal?: AbortSignal} = {}): Promise<ChezmoiStatusEntry[]> {
    return (await this.statusWithFailures(targets, options)).entries
  }

  /**
   * `chezmoi status`, and the targets it could not read (a template that fails, a file it cannot decrypt). chezmoi
   * stops the whole listing at one such target: the others are then listed one by one (explicitly, not recursively),
   * so that one bad entry never hides the rest.
   */
  async statusWithFailures(
    targets: string[] = [],
    options: {signal?: AbortSignal; recursive?: boolean} = {},
  ): Promise<{entries: ChezmoiStatusEntry[]; failed: TargetFailure[]}> {
    const status = (args: string[]) =>
      this.run(['status', '--path-style', 'relative', ...(options.recursive === false ? ['--recursive=false'] : []), ...args], {
        allowFailure: true,
        signal: options.signal,
      })
    const first = await status(targets.length > 0 ? ['--', ...targets] : [])
    if (first.exitCode === 0) return {entries: parseStatus(first.stdout), failed: []}
    const failed = parseTargetFailures(first.stderr, this.home)
    if (failed.length === 0) throw new ProcessError(first)
    const candidates = targets.length > 0 ? targets : (await this.managed()).map((path) => `${this.home}/${path}`)
    for (let round = 0; round < 5; round++) {
      const failedTargets = new Set(failed.map((f) => `${this.home}/${f.path}`))
      const rest = candidates.filter((target) => !failedTargets.has(target))
      if (rest.length === 0) return {entries: [], failed}
      const next = await status(['--recursive=false', '--', ...rest])
      if (next.exitCode === 0) return {entries: parseStatus(next.stdout), failed}
      const more = parseTargetFailures(next.stderr, this.home).filter((f) => !failedTargets.has(`${this.home}/${f.path}`))
      if (more.length === 0) throw new ProcessError(next)
      failed.push(...more)
    }
    throw new ProcessError(first)
  }

  /**
   * Apply the source state (all of it, or the given absolute targets). `--error-on-conflict` makes chezmoi refuse,
   * rather than overwrite, a target that changed since chezmoi last wrote it; `--keep-going` applies the rest.
   */
  async apply(options: {force?: boolean; targets?: string[]; recursive?: boolean} = {}): Promise<void> {
    const targets = options.targets ?? []
    await this.run([
      'apply',
      '--keep-going',
      options.force ? '--force' : '--error-on-conflict',
      ...(options.recursive === false ? ['--recursive=false'] : []),
      ...(targets.length > 0 ? ['--', ...targets] : []),
    ])
  }

  /** Add targets to the source state, in one invocation (chezmoi scans each invocation for secrets). */
  async add(absolutePaths: string[], options: {encrypt?: boolean; secrets?: 'error' | 'warning' | 'ignore'; directoryOnly?: boolean} = {}): Promise<string> {
    if (absolutePaths.length === 0) return ''
    const flags = [
      ...(options.encrypt ? ['--encrypt'] : []),
      ...(options.secrets && !options.encrypt ? [`--secrets=${options.secrets}`] : []),
      // The directory a link points to, as a directory, without its contents.
      ...(options.directoryOnly ? ['--follow', '--recursive=false'] : []),
    ]
    // A directory named external_… or remove_… is written as it is and read back as another target: renamed.
    const misread = absolutePaths.some((path) => hasMisreadDirName(this.home, path)) ? new Set(misreadSourceDirs(this.sourceDir)) : undefined
    const {stderr} = await this.run(['add', ...flags, '--', ...absolutePaths])
    if (misread) await literalizeMisreadDirs(misread, this.sourceDir)
    return stderr
  }

  /**
   * Copy edited targets back into the source state, keeping each one's attributes (encryption included).
   * chezmoi's secret scan costs most of a re-add's time and, for a file already managed, only ever warned: fleet
   * runs re-add with a copy of the config that turns the scan off, and checks the edited files itself.
   */
  async reAdd(absolutePaths: string[]): Promise<void> {
    if (absolutePaths.length === 0) return
    await writeCaptureConfig(this.configFile, this.files.captureConfigFile)
    await this.run(['re-add', '--', ...absolutePaths], {config: this.files.captureConfigFile})
  }

  /** Stop managing targets: their source entries go, the files stay. */
  async forget(absolutePaths: string[]): Promise<void> {
    if (absolutePaths.length === 0) return
    await this.run(['forget', '--force', '--', ...absolutePaths])
  }

  /** Source paths (absolute) of managed targets, in the order given. */
  async sourcePaths(absoluteTargets: string[]): Promise<string[]> {
    if (absoluteTargets.length === 0) return []
    return (await this.run(['source-path', '--', ...absoluteTargets])).stdout.split('\n').filter(Boolean)
  }

  /** Target path (absolute) of a source file that exists. */
  async targetPath(sourceFile: string): Promise<string | undefined> {
    const result = await this.run(['target-path', '--', sourceFile], {allowFailure: true})
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  /** Targets chezmoi manages, relative to $HOME. */
  async managed(): Promise<string[]> {
    const result = await this.run(['managed', '--path-style', 'relative', '--nul-path-separator'])
    return result.stdout.split('\0').filter(Boolean)
  }

  /** Entries at or under the given existing paths that chezmoi does not manage (and does not ignore), relative to $HOME. */
  async unmanaged(absoluteDirs: string[]): Promise<string[]> {
    if (absoluteDirs.length === 0) return []
    const result = await this.run(['unmanaged', '--path-style', 'relative', '--nul-path-separator', '--', ...absoluteDirs])
    return result.stdout.split('\0').filter(Boolean)
  }

  /**
   * Managed targets at or under the given absolute paths (all of them when none are given), relative to $HOME, with
   * their source entries (absolute). Read from the source alone: it works whatever the targets are. `signal` stops
   * chezmoi when aborted.
   */
  async managedSources(absolutePaths?: string[], options: {signal?: AbortSignal} = {}): Promise<Map<string, string>> {
    if (absolutePaths?.length === 0) return new Map()
    const result = await this.run(['managed', '--path-style', 'all', '--format', 'json', ...(absolutePaths ? ['--', ...absolutePaths] : [])], options)
    const entries = JSON.parse(result.stdout.trim() || '{}') as Record<string, {sourceAbsolute: string}>
    return new Map(Object.entries(entries).map(([path, entry]) => [path, entry.sourceAbsolute]))
  }

  /** The type of what chezmoi last wrote at each absolute target ('file', 'dir', 'symlink'), from its persistent entry state. */
  async writtenTypes(): Promise<Map<string, string | undefined>> {
    const result = await this.run(['state', 'dump', '--format', 'json'])
    const dump = JSON.parse(result.stdout) as {entryState?: Record<string, {type?: string}>}
    return new Map(Object.entries(dump.entryState ?? {}).map(([path, entry]) => [path, entry.type]))
  }

  /** Absolute targets chezmoi has written at some time (its persistent entry state), with the SHA-256 of the content it wrote to files. */
  async writtenTargets(): Promise<Map<string, string | undefined>> {
    const result = await this.run(['state', 'dump', '--format', 'json'])
    const dump = JSON.parse(result.stdout) as {entryState?: Record<string, {contentsSHA256?: string}>}
    return new Map(Object.entries(dump.entryState ?? {}).map(([path, entry]) => [path, entry.contentsSHA256]))
  }
}
