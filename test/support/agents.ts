// Real agents for a scenario: `fleet agents run` as a background process of a machine, its output collected;
// and helpers to wait for an outcome and to change the fleet's agent settings.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa, type ResultPromise} from 'execa'
import {parseDocument} from 'yaml'

import {FLEET_BIN, NODE} from './cli.ts'
import type {Machine} from './machine.ts'

export class RunningAgents {
  readonly machine: Machine
  readonly process: ResultPromise
  output = ''

  constructor(machine: Machine, args: string[] = []) {
    this.machine = machine
    this.process = execa(NODE, [FLEET_BIN, 'agents', 'run', ...args], {env: machine.env, extendEnv: false, reject: false, stdin: 'ignore', all: true})
    this.process.all?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString()
    })
  }

  /** SIGTERM, as a service manager sends it; resolves with the exit code. */
  async stop(): Promise<number | undefined> {
    this.process.kill('SIGTERM')
    const result = await this.process
    return result.exitCode
  }
}

/** Poll until `check` returns true, or fail after `timeoutMs` with `what`. Returns the milliseconds it took. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

export function readOr(machine: Machine, relative: string): string | undefined {
  try {
    return readFileSync(machine.path(relative), 'utf8')
  } catch {
    return undefined
  }
}

/** Change the fleet's agent settings in the manifest (as a person editing it would); the next sync shares them. */
export async function setAgentSettings(machine: Machine, settings: Record<string, number>): Promise<void> {
  const file = machine.manifestFile
  const document = parseDocument(readFileSync(file, 'utf8'))
  for (const [key, value] of Object.entries(settings)) document.setIn(['fleet', 'settings', 'agents', key], value)
  writeFileSync(file, document.toString())
  await machine.sync()
}

/** Fast settings for tests: the same code paths, shorter waits. */
export const FAST_AGENTS = {debounceMs: 300, maxDelayMs: 2000, remoteCheckSeconds: 1, pullIntervalSeconds: 10}

/** A recording stand-in for launchctl or systemctl: appends its arguments (one call per line) and succeeds. */
export function recordingShim(dir: string, command: 'launchctl' | 'systemctl'): {log: string; calls: () => string[][]} {
  const log = join(dir, `${command}.calls`)
  const script = join(dir, command)
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\037' "$@" >> '${log}'\nprintf '\\n' >> '${log}'\nexit 0\n`, {mode: 0o755})
  return {
    log,
    calls: () => {
      try {
        return readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\u001f').filter(Boolean))
      } catch {
        return []
      }
    },
  }
}
