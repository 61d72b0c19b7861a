// The one way fleet starts a process: execa with an argument array (never a shell string) and a timeout.
import {execa} from 'execa'

import {FleetError} from '../errors/index.ts'

/** How to run one process (see run). All optional. */
export interface RunOptions {
  /** Working directory; this process's when not given. */
  cwd?: string
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv
  /** Milliseconds before the process is killed. */
  timeout?: number
  /** Written to the process's standard input (never put secrets in argv: pass them here). */
  input?: string | Uint8Array
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  allowFailure?: boolean
  /** Keep standard output as bytes too (`stdoutBytes`): file contents that may not be UTF-8. */
  binary?: boolean
  /**
   * Run the process in a process group of its own and, when it times out, end the whole group: for a command whose
   * helpers (git's ssh, git-remote-http) would outlive it, holding its output open, and keep the wait from ending.
   */
  processGroup?: boolean
  /**
   * Stops the process (its whole group, with `processGroup`) when aborted, as a timeout does: for work whose caller
   * gave up on it (a doctor check past its own time limit). The result then has `timedOut` set.
   */
  signal?: AbortSignal
}

/** What a process did. */
export interface RunResult {
  /** The program and its first three arguments, for messages (never the whole argument list). */
  command: string
  /** The exit code; 124 when it timed out, 1 when it died without one. */
  exitCode: number
  /** Standard output and standard error as UTF-8 text, with the final newline kept. */
  stdout: string
  stderr: string
  /** Standard output as bytes, with `binary`. */
  stdoutBytes?: Buffer
  /** It ran past its timeout and was killed. */
  timedOut: boolean
}

/** A process's timeout unless RunOptions.timeout says otherwise: 2 minutes. */
export const DEFAULT_TIMEOUT_MS = 120_000
/** How long a process group asked to stop (SIGTERM) has before it is killed (SIGKILL). */
const KILL_GRACE_MS = 2_000

/**
 * What run() throws for a process that exited with another code than 0 or timed out (code PROCESS_FAILED, exit 1): the
 * message names the command and the last lines it printed; `result` is all of it.
 */
export class ProcessError extends FleetError {
  readonly result: RunResult
  constructor(result: RunResult) {
    const why = result.timedOut ? 'timed out' : `exited with ${result.exitCode}`
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-6).join('\n')
    super(`${result.command} ${why}${detail ? `:\n${detail}` : ''}`, {code: 'PROCESS_FAILED'})
    this.name = 'ProcessError'
    this.result = result
  }
}

/**
 * Run `file` (found on PATH) with `args` as an argument array, never through a shell, and wait for it. Resolves with
 * its RunResult. Throws ProcessError (code PROCESS_FAILED, the command and the last lines it printed) when it exits
 * with another code than 0 (unless `allowFailure`) or times out (default timeout DEFAULT_TIMEOUT_MS); FleetError
 * NOT_FOUND when `file` is not on PATH. Never pass a secret in `args`: other users can read a process's arguments;
 * use `input`.
 */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS
  const subprocess = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    // A process group's timeout is kept here (groupTimeout): execa's would end the leader alone.
    timeout: options.processGroup ? undefined : timeout,
    cancelSignal: options.processGroup ? undefined : options.signal,
    detached: options.processGroup,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
    stripFinalNewline: false,
    encoding: options.binary ? 'buffer' : 'utf8',
  })
  const group = options.processGroup && subprocess.pid !== undefined ? groupTimeout(subprocess, timeout, options.signal) : undefined
  const child = await subprocess.finally(() => group?.done())
  const stdoutBytes = options.binary && child.stdout instanceof Uint8Array ? Buffer.from(child.stdout) : undefined
  const result: RunResult = {
    command: [file, ...args.slice(0, 3)].join(' ') + (args.length > 3 ? ' …' : ''),
    exitCode: child.exitCode ?? (child.timedOut || group?.timedOut ? 124 : 1),
    stdout: typeof child.stdout === 'string' ? child.stdout : (stdoutBytes?.toString('utf8') ?? ''),
    stderr: typeof child.stderr === 'string' ? child.stderr : child.stderr instanceof Uint8Array ? Buffer.from(child.stderr).toString('utf8') : '',
    stdoutBytes,
    timedOut: Boolean(child.timedOut) || Boolean(group?.timedOut) || Boolean(child.isCanceled),
  }
  if (child.failed && (child as {code?: string}).code === 'ENOENT') {
    // A path (FLEET_CHEZMOI=/opt/…/chezmoi) names one file: PATH was not searched, so say what was.
    if (file.includes('/'))
      throw new FleetError(`There is no program at ${file}`, {
        code: 'NOT_FOUND',
        fix: 'If a setting names it (FLEET_CHEZMOI names chezmoi), point the setting at the program, or unset it to use the one on PATH.',
      })
    throw new FleetError(`${file} was not found on PATH`, {
      code: 'NOT_FOUND',
      fix: `Install ${file} (brew install ${file} on macOS, sudo apt-get install ${file} on Debian), or put it on PATH.`,
    })
  }
  if (result.exitCode !== 0 && !options.allowFailure) throw new ProcessError(result)
  return result
}

/** Process groups of running processes (their leaders' pids), ended if this process stops first. */
const liveGroups = new Set<number>()

function signalGroup(leader: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-leader, signal)
  } catch {
    // The group is gone.
  }
}

/**
 * Ends a process group that runs past `timeout` (or whose caller aborted `signal`): SIGTERM to every process in it, SIGKILL after a grace period, and
 * then, should a process that left the group still hold the output pipes, stops reading them so the wait ends.
 */
function groupTimeout(subprocess: ReturnType<typeof execa>, timeout: number, signal?: AbortSignal) {
  const leader = subprocess.pid!
  watchGroup(leader)
  const state = {timedOut: false, done: () => {}}
  const timers: NodeJS.Timeout[] = []
  const stop = () => {
    if (state.timedOut) return
    state.timedOut = true
    signalGroup(leader, 'SIGTERM')
    timers.push(
      setTimeout(() => {
        signalGroup(leader, 'SIGKILL')
        timers.push(
          setTimeout(() => {
            subprocess.stdout?.destroy()
            subprocess.stderr?.destroy()
          }, KILL_GRACE_MS),
        )
      }, KILL_GRACE_MS),
    )
  }
  timers.push(setTimeout(stop, timeout))
  if (signal?.aborted) stop()
  else signal?.addEventListener('abort', stop, {once: true})
  state.done = () => {
    for (const timer of timers) clearTimeout(timer)
    signal?.removeEventListener('abort', stop)
    unwatchGroup(leader)
  }
  return state
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function endLiveGroups(): void {
  for (const leader of liveGroups) signalGroup(leader, 'SIGKILL')
}

/**
 * A process in a group of its own no longer gets the terminal's Ctrl-C, nor dies with this process: it is ended on
 * exit, and on a signal that ends this process (one that nothing else here handles).
 */
function endGroupsOnSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return // handled elsewhere: this process lives on, and its groups' timeouts run
  endLiveGroups()
  for (const s of STOP_SIGNALS) process.removeListener(s, endGroupsOnSignal)
  process.kill(process.pid, signal)
}

function watchGroup(leader: number): void {
  if (liveGroups.size === 0) {
    process.on('exit', endLiveGroups)
    for (const signal of STOP_SIGNALS) process.on(signal, endGroupsOnSignal)
  }
  liveGroups.add(leader)
}

function unwatchGroup(leader: number): void {
  if (!liveGroups.delete(leader) || liveGroups.size > 0) return
  process.removeListener('exit', endLiveGroups)
  for (const signal of STOP_SIGNALS) process.removeListener(signal, endGroupsOnSignal)
}
