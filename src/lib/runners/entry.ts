// What the resident processes started without oclif (watcher-main.ts, runner-main.ts) share: fleet's errors said
// as FleetCommand says them, stop signals taken as a request to finish, and the one-shot fleet commands they hand
// their work to.
import {type ChildProcess, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {errorMessage, FleetError} from '../errors/index.ts'

/** This fleet's CLI (bin/run.js), run with the node that runs this process: the same fleet, whatever PATH says. */
const ENTRY = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

/** A fleet command running in a process of its own (see fleetProcess). */
export interface FleetProcess {
  child: ChildProcess
  /** Resolves once it has ended, with what it printed on stdout (its stderr goes to this process's). */
  ended: Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string}>
}

/** Run `fleet <args>` (this fleet, this node), in this process's group, its stdout read and its stderr passed on. */
export function fleetProcess(args: string[]): FleetProcess {
  const child = spawn(process.execPath, [ENTRY, ...args], {stdio: ['ignore', 'pipe', 'inherit']})
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string}>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({code, signal, stdout: Buffer.concat(chunks).toString('utf8')}))
  })
  return {child, ended}
}

/** Say `error` on stderr as FleetCommand does (`Error: …`, `Fix: …`); returns the exit code it calls for. */
export function reportFailure(error: unknown): number {
  const fix = error instanceof FleetError && error.fix ? `Fix: ${error.fix}\n` : ''
  process.stderr.write(`Error: ${errorMessage(error)}\n${fix}`)
  return error instanceof FleetError ? error.exitCode : 1
}

/** Run `stop` on every Ctrl-C (SIGINT) or SIGTERM, never Node's default of ending at once. */
export function onStopSignal(stop: () => void): void {
  // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener is left to handle.
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
