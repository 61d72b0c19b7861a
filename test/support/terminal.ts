// A real terminal for a scenario: one command runs in a tmux pane, keys are typed into it and the screen is read
// back, the way a person sees it. Each Terminal has its own tmux server on a private socket in its own temporary
// directory, so a test never touches a user's tmux, and stop() removes every trace of it.
//
// The pane runs a small launcher script (tmux takes a command string for a pane; nothing else here goes through a
// shell): it starts the command under `env -i` with exactly the environment given, and records its exit status.
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

/** One argument for a POSIX shell, single-quoted: 'it'\''s'. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface TerminalOptions {
  columns?: number
  rows?: number
}

export interface WaitOptions {
  /** Milliseconds; 20 s unless told. */
  timeout?: number
  /** Match against the scrollback as well as the visible screen. */
  history?: boolean
}

export class Terminal {
  readonly columns: number
  readonly rows: number
  /** The temporary directory holding the socket, the launcher and the exit status. */
  readonly dir: string
  private readonly socket: string
  private readonly target = 'fleet-test'
  private readonly exitFile: string
  private started = false

  constructor(options: TerminalOptions = {}) {
    this.columns = options.columns ?? 200
    this.rows = options.rows ?? 50
    // Short, so the socket path stays well under the length limit for Unix sockets.
    this.dir = mkdtempSync(join(tmpdir(), 'fleet-tty-'))
    this.socket = join(this.dir, 'tmux.sock')
    this.exitFile = join(this.dir, 'exit-status')
  }

  /** Start argv in a fresh pane with exactly env (plus TERM from tmux, unless env sets it), in cwd. */
  async start(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
    if (this.started) throw new Error('this Terminal has already started a command')
    if (argv.length === 0) throw new Error('start needs a command')
    const assignments: string[] = []
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) continue
      if (!ENV_NAME.test(key)) throw new Error(`not an environment variable name: ${JSON.stringify(key)}`)
      assignments.push(shellQuote(`${key}=${value}`))
    }
    // tmux sets TERM for the pane; `env -i` would drop it, and the prompts need it.
    if (env.TERM === undefined) assignments.push('"TERM=${TERM:-screen}"')
    const launcher = join(this.dir, 'launch.sh')
    const status = shellQuote(this.exitFile)
    writeFileSync(
      launcher,
      [
        '#!/bin/sh',
        '# Written by test/support/terminal.ts: runs one command with exactly the given environment, records its exit status.',
        `cd ${shellQuote(cwd)} || { echo 127 > ${status}.tmp; mv ${status}.tmp ${status}; exit 127; }`,
        `env -i ${[...assignments, ...argv.map(shellQuote)].join(' ')}`,
        `echo $? > ${status}.tmp`,
        `mv ${status}.tmp ${status}`,
        '',
      ].join('\n'),
    )
    chmodSync(launcher, 0o700)
    // The server reads this before it creates the session: the pane stays on screen after the command exits.
    const config = join(this.dir, 'tmux.conf')
    writeFileSync(config, ['set -g remain-on-exit on', 'set -g status off', 'set -g history-limit 10000', ''].join('\n'))
    await this.tmux([
      '-f',
      config,
      'new-session',
      '-d',
      '-s',
      this.target,
      '-x',
      String(this.columns),
      '-y',
      String(this.rows),
      '-c',
      cwd,
      shellQuote(launcher),
    ])
    this.started = true
  }

  /** Press keys by tmux name: 'Enter', 'Down', 'Up', 'Space', 'BSpace', 'C-u', 'C-c', 'y'. */
  async send(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, ...keys])
  }

  /** Type text literally, character by character as a person would (no key names). */
  async type(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, '-l', '--', text])
  }

  /** What the pane shows now (with history: the scrollback too), trailing blank lines dropped. */
  async screen(options: {history?: boolean} = {}): Promise<string> {
    const args = ['capture-pane', '-p', '-J', '-t', this.target]
    if (options.history) args.push('-S', '-')
    const {stdout} = await this.tmux(args)
    return stdout.replace(/\s+$/, '')
  }

  /** Wait until the screen matches; returns the screen. Fails with the screen when it times out or the command exits first. */
  async waitFor(pattern: RegExp, options: WaitOptions = {}): Promise<string> {
    const deadline = Date.now() + (options.timeout ?? 20_000)
    for (;;) {
      const exited = this.exitCode !== undefined
      const screen = await this.screen({history: options.history})
      if (pattern.test(screen)) return screen
      if (exited)
        throw new Error(`the command exited (status ${this.exitCode}) before the screen showed ${pattern}\n--- screen\n${await this.screen({history: true})}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}\n--- screen\n${screen}`)
      await sleep(50)
    }
  }

  /** The command's exit status, or undefined while it runs. */
  get exitCode(): number | undefined {
    if (!existsSync(this.exitFile)) return undefined
    return Number(readFileSync(this.exitFile, 'utf8').trim())
  }

  /** Wait for the command to exit; returns its exit status. */
  async waitForExit(timeout = 60_000): Promise<number> {
    const deadline = Date.now() + timeout
    while (this.exitCode === undefined) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for the command to exit\n--- screen\n${await this.screen({history: true})}`)
      await sleep(50)
    }
    return this.exitCode
  }

  /** Kill the tmux server (and with it the command, if it still runs) and remove the temporary directory. */
  async stop(): Promise<void> {
    if (this.started) await this.tmux(['kill-server'], false)
    this.started = false
    if (!process.env.FLEET_TEST_KEEP) rmSync(this.dir, {recursive: true, force: true})
  }

  private async tmux(args: string[], reject = true): Promise<{stdout: string}> {
    // Not the test runner's own tmux, if it runs inside one.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'TMUX' && key !== 'TMUX_PANE'))
    const result = await execa('tmux', ['-S', this.socket, ...args], {env, extendEnv: false, reject: false, timeout: 10_000})
    if (reject && result.exitCode !== 0) throw new Error(`tmux ${args.join(' ')} exited ${result.exitCode}: ${String(result.stderr)}`)
    return {stdout: String(result.stdout)}
  }
}
