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
  json<T = any>(): T
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
