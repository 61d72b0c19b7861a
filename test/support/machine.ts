// A simulated machine: its own HOME (and so its own XDG directories, chezmoi state, age key and fleet state),
// running the real fleet, git, chezmoi and age.
import {chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {execa} from 'execa'

import {type FleetRun, runFleet} from './cli.ts'

export const NODE_BIN_DIR = join(dirname(process.execPath))

export class Machine {
  readonly name: string
  readonly home: string
  readonly extraEnv: NodeJS.ProcessEnv

  constructor(root: string, name: string, extraEnv: NodeJS.ProcessEnv = {}) {
    this.name = name
    this.home = join(root, name)
    this.extraEnv = extraEnv
    mkdirSync(this.home, {recursive: true})
  }

  get env(): NodeJS.ProcessEnv {
    return {
      HOME: this.home,
      USER: process.env.USER ?? 'root',
      PATH: `${NODE_BIN_DIR}:${process.env.PATH}`,
      LANG: 'C.UTF-8',
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      // Nothing from the host's git configuration leaks in.
      GIT_CONFIG_NOSYSTEM: '1',
      NO_COLOR: '1',
      CI: '1',
      ...this.extraEnv,
    }
  }

  get sourceDir(): string {
    return join(this.home, '.local/share/chezmoi')
  }

  get identityFile(): string {
    return join(this.home, '.config/fleet/identity.txt')
  }

  get defaultForge(): string {
    return join(this.home, '.local/share/fleet/forge.git')
  }

  fleet(args: string[], options: {timeout?: number; input?: string; env?: NodeJS.ProcessEnv} = {}): Promise<FleetRun> {
    return runFleet(args, {env: {...this.env, ...options.env}, cwd: this.home, timeout: options.timeout, input: options.input})
  }

  /** fleet, expecting exit 0; the failure message shows what fleet printed. */
  async ok(args: string[], options: {timeout?: number; env?: NodeJS.ProcessEnv} = {}): Promise<FleetRun> {
    const result = await this.fleet(args, options)
    if (result.exitCode !== 0) throw new Error(`fleet ${args.join(' ')} on ${this.name} exited ${result.exitCode}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`)
    return result
  }

  enroll(forge: string | undefined, extra: string[] = []): Promise<FleetRun> {
    return this.ok(['enroll', '--name', this.name, '--no-agents', ...(forge ? ['--forge', forge] : ['--yes']), ...extra])
  }

  path(relative: string): string {
    return join(this.home, relative)
  }

  write(relative: string, content: string | Buffer, mode?: number): void {
    const file = this.path(relative)
    mkdirSync(dirname(file), {recursive: true})
    writeFileSync(file, content)
    if (mode !== undefined) chmodSync(file, mode)
  }

  read(relative: string): string {
    return readFileSync(this.path(relative), 'utf8')
  }

  exists(relative: string): boolean {
    return existsSync(this.path(relative))
  }

  mode(relative: string): number {
    return statSync(this.path(relative)).mode & 0o777
  }

  remove(relative: string): void {
    rmSync(this.path(relative), {recursive: true, force: true})
  }

  async chezmoi(args: string[]): Promise<string> {
    return String((await execa('chezmoi', args, {env: this.env, extendEnv: false})).stdout)
  }

  async git(args: string[]): Promise<string> {
    return String((await execa('git', ['-C', this.sourceDir, ...args], {env: this.env, extendEnv: false})).stdout)
  }
}
