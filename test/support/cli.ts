// Runs the built `fleet` as a real subprocess, the way a person or an agent runs it.
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const FLEET_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** Node ≥ 22 (the `node` package in a development checkout, else the node running the tests). */
export const NODE = process.execPath

export interface FleetRun {
  exitCode: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON, for commands run with --json. */
  json<T = unknown>(): T
}

export async function runFleet(args: string[], options: {env: NodeJS.ProcessEnv; cwd?: string; timeout?: number; input?: string}): Promise<FleetRun> {
  const result = await execa(NODE, [FLEET_BIN, ...args], {
    env: options.env,
    extendEnv: false,
    cwd: options.cwd,
    timeout: options.timeout ?? 120_000,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
  })
  const stdout = String(result.stdout)
  return {
    exitCode: result.exitCode ?? -1,
    stdout,
    stderr: String(result.stderr),
    json: () => JSON.parse(stdout),
  }
}

/** What a command run with --json prints when it fails with a FleetError (src/lib/cli/base-command.ts). */
export interface JsonError {
  code: string
  message: string
  fix?: string
  exitCode: number
}

/** What a command class's run() returns: the command's own result, which is its --json output. */
export type ResultOf<Command extends {prototype: {run(): Promise<unknown>}}> = Awaited<ReturnType<Command['prototype']['run']>>

/** What a run printed, for failure messages. */
export function printed(run: {stdout: string; stderr: string}): string {
  return `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`
}

/** One run of a fleet command: its exit code, what it printed, and (run with --json) the command's own result. */
export class CommandRun<T> {
  /** The command as typed, and where: `fleet sync --json on beta`. */
  readonly command: string
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  private parsed: {value: unknown} | undefined

  constructor(command: string, run: FleetRun) {
    this.command = command
    this.exitCode = run.exitCode
    this.stdout = run.stdout
    this.stderr = run.stderr
  }

  /** The command's result, parsed from what it printed; fails, showing the output, when it printed an error or no JSON. */
  get result(): T {
    const value = this.json()
    const error = errorOf(value)
    if (error) throw new Error(`${this.command} printed an error, not its result (exit ${this.exitCode}): ${error.message}\n${printed(this)}`)
    return value as T
  }

  /** The error it printed with --json, or undefined when it printed its result. */
  get error(): JsonError | undefined {
    return errorOf(this.json())
  }

  private json(): unknown {
    if (!this.parsed) {
      try {
        this.parsed = {value: JSON.parse(this.stdout)}
      } catch {
        throw new Error(`${this.command} printed no JSON (exit ${this.exitCode})\n${printed(this)}`)
      }
    }
    return this.parsed.value
  }
}

/** The error of an error report (`{error: {code, message, …}}`); a sync's result has an `error` too, but as a string. */
function errorOf(value: unknown): JsonError | undefined {
  if (typeof value !== 'object' || value === null || !('error' in value)) return undefined
  return typeof value.error === 'object' && value.error !== null ? (value.error as JsonError) : undefined
}
