// The one way fleet starts a process: execa with an argument array (never a shell string) and a timeout.
import {execa} from 'execa'

import {FleetError} from '../errors/index.ts'

export interface RunOptions {
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
}

export interface RunResult {
  command: string
  exitCode: number
  stdout: string
  stderr: string
  /** Standard output as bytes, with `binary`. */
  stdoutBytes?: Buffer
  timedOut: boolean
}

export const DEFAULT_TIMEOUT_MS = 120_000

/** A process that failed; the message names the command and what it printed. */
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

export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const child = await execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    timeout: options.timeout ?? DEFAULT_TIMEOUT_MS,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
    stripFinalNewline: false,
    encoding: options.binary ? 'buffer' : 'utf8',
  })
  const stdoutBytes = options.binary && child.stdout instanceof Uint8Array ? Buffer.from(child.stdout) : undefined
  const result: RunResult = {
    command: [file, ...args.slice(0, 3)].join(' ') + (args.length > 3 ? ' …' : ''),
    exitCode: child.exitCode ?? (child.timedOut ? 124 : 1),
    stdout: typeof child.stdout === 'string' ? child.stdout : (stdoutBytes?.toString('utf8') ?? ''),
    stderr: typeof child.stderr === 'string' ? child.stderr : child.stderr instanceof Uint8Array ? Buffer.from(child.stderr).toString('utf8') : '',
    stdoutBytes,
    timedOut: Boolean(child.timedOut),
  }
  if (child.failed && (child as {code?: string}).code === 'ENOENT') {
    throw new FleetError(`${file} was not found on PATH`, {code: 'NOT_FOUND', fix: `Install ${file} (see the README, "Install"), or put it on PATH.`})
  }
  if (result.exitCode !== 0 && !options.allowFailure) throw new ProcessError(result)
  return result
}
