// A simulated machine: its own HOME (and so its own XDG directories, chezmoi state, age key and fleet state),
// running the real fleet, git, chezmoi and age.
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {execa} from 'execa'

import type AddPath from '../../src/commands/add-path.ts'
import type AgentsInstall from '../../src/commands/agents/install.ts'
import type AgentsList from '../../src/commands/agents/list.ts'
import type AgentsRender from '../../src/commands/agents/render.ts'
import type AgentsUninstall from '../../src/commands/agents/uninstall.ts'
import type Doctor from '../../src/commands/doctor.ts'
import type Enroll from '../../src/commands/enroll.ts'
import type MachinesApprove from '../../src/commands/machines/approve.ts'
import type MachinesList from '../../src/commands/machines/list.ts'
import type MachinesRevoke from '../../src/commands/machines/revoke.ts'
import type Paths from '../../src/commands/paths.ts'
import type RemovePath from '../../src/commands/remove-path.ts'
import type Resolve from '../../src/commands/resolve.ts'
import type RotateKeys from '../../src/commands/rotate-keys.ts'
import type {FleetView} from '../../src/lib/status/fleet-view.ts'
import type {StatusReport} from '../../src/lib/status/status.ts'
import type Sync from '../../src/commands/sync.ts'
import {lockDirFor} from '../../src/lib/lock/fleet-lock.ts'
import {MANIFEST_RELATIVE_PATH} from '../../src/lib/manifest/store.ts'
import {type FleetPaths, fleetPaths} from '../../src/lib/platform/paths.ts'
import {statePaths} from '../../src/lib/sync/state.ts'
import {CommandRun, type FleetRun, printed, type ResultOf, runFleet} from './cli.ts'

export const NODE_BIN_DIR = join(dirname(process.execPath))

/** How a verb runs: by default with --json, expecting exit 0. */
export interface VerbOptions {
  /** The exit code the story expects (0 unless told), or 'any' when the test looks at it itself; another fails, showing what fleet printed. */
  exit?: number | 'any'
  /** false: without --json, as a person reads it (`stdout` holds the text; there is no `result`). */
  json?: boolean
  env?: NodeJS.ProcessEnv
  timeout?: number
}

/** Fail, showing what fleet printed, unless the run exited as expected. */
function expectExit(run: {exitCode: number; stdout: string; stderr: string}, command: string, expected: number): void {
  if (run.exitCode !== expected) throw new Error(`${command} exited ${run.exitCode}${expected === 0 ? '' : `, not ${expected}`}\n${printed(run)}`)
}

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

  /** Where fleet and chezmoi keep things on this machine, as fleet itself computes them. */
  get locations(): FleetPaths {
    return fleetPaths({HOME: this.home})
  }

  get sourceDir(): string {
    return this.locations.sourceDir
  }

  /** A file in the source repo, by its name there. */
  sourceFile(name: string): string {
    return join(this.sourceDir, name)
  }

  /** The fleet's manifest in this machine's source repo. */
  get manifestFile(): string {
    return this.sourceFile(MANIFEST_RELATIVE_PATH)
  }

  /** What an enroll staged beside the source repo and left there: nothing, once an enroll has ended, however it ended. */
  stagingClones(): string[] {
    const parent = dirname(this.sourceDir)
    return existsSync(parent) ? readdirSync(parent).filter((name) => name.includes('enrolling')) : []
  }

  /** The fleet lock's directory. */
  get lockDir(): string {
    return lockDirFor(this.locations)
  }

  /** The last sync's state, the mark that a sync is due again, and the log of every sync. */
  get syncFiles(): {state: string; again: string; log: string} {
    return statePaths(this.locations)
  }

  get identityFile(): string {
    return this.locations.identityFile
  }

  get defaultForge(): string {
    return this.locations.defaultForge
  }

  fleet(args: string[], options: {timeout?: number; input?: string; env?: NodeJS.ProcessEnv} = {}): Promise<FleetRun> {
    return runFleet(args, {env: {...this.env, ...options.env}, cwd: this.home, timeout: options.timeout, input: options.input})
  }

  /** fleet, expecting exit 0; the failure message shows what fleet printed. */
  async ok(args: string[], options: {timeout?: number; env?: NodeJS.ProcessEnv} = {}): Promise<FleetRun> {
    const run = await this.fleet(args, options)
    expectExit(run, `fleet ${args.join(' ')} on ${this.name}`, 0)
    return run
  }

  // fleet's verbs: each runs the real command (with --json unless told) and returns its run, whose `result` is what
  // the command's run() returned. Paths given to addPath and removePath are relative to this machine's HOME (or absolute).

  /** fleet enroll: start a fleet or join it (forge), or enroll again (no forge: --yes); without agents unless told. */
  enroll(forge?: string, options: VerbOptions & {agents?: boolean; adopt?: boolean; keyType?: string} = {}): Promise<CommandRun<ResultOf<typeof Enroll>>> {
    const {agents, adopt, keyType, ...verb} = options
    const flags = [
      agents ? '--agents' : '--no-agents',
      ...(forge ? ['--forge', forge] : ['--yes']),
      ...(adopt ? ['--adopt'] : []),
      ...(keyType ? ['--key-type', keyType] : []),
    ]
    return this.verb(['enroll', '--name', this.name, ...flags], verb)
  }

  sync(options: VerbOptions & {full?: boolean} = {}): Promise<CommandRun<ResultOf<typeof Sync>>> {
    const {full, ...verb} = options
    return this.verb(['sync', ...(full ? ['--full'] : [])], verb)
  }

  status(options: VerbOptions = {}): Promise<CommandRun<StatusReport>> {
    return this.verb(['status'], options)
  }

  /** fleet status --fleet: every machine of the fleet, from the heartbeats at the forge. */
  fleetStatus(options: VerbOptions = {}): Promise<CommandRun<FleetView>> {
    return this.verb(['status', '--fleet'], options)
  }

  paths(options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof Paths>>> {
    return this.verb(['paths'], options)
  }

  addPath(
    paths: string | string[],
    options: VerbOptions & {encrypt?: boolean; plainText?: boolean; force?: boolean; dryRun?: boolean} = {},
  ): Promise<CommandRun<ResultOf<typeof AddPath>>> {
    const {encrypt, plainText, force, dryRun, ...verb} = options
    const flags = [...(encrypt ? ['--encrypt'] : []), ...(plainText ? ['--plain-text'] : []), ...(force ? ['--force'] : []), ...(dryRun ? ['--dry-run'] : [])]
    return this.verb(['add-path', ...flags, ...this.absolute(paths)], verb)
  }

  removePath(paths: string | string[], options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof RemovePath>>> {
    return this.verb(['remove-path', ...this.absolute(paths)], options)
  }

  /** fleet resolve, the path as a person types it (relative, ~/…, or absolute). */
  resolve(path: string, side: 'mine' | 'theirs', options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof Resolve>>> {
    return this.verb(['resolve', path, `--${side}`], options)
  }

  approve(name: string, options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof MachinesApprove>>> {
    return this.verb(['machines', 'approve', name], options)
  }

  revoke(name: string, options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof MachinesRevoke>>> {
    return this.verb(['machines', 'revoke', name], options)
  }

  /** fleet machines list: the roster. */
  listMachines(options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof MachinesList>>> {
    return this.verb(['machines', 'list'], options)
  }

  installAgents(options: VerbOptions & {manager?: 'launchd' | 'systemd'} = {}): Promise<CommandRun<ResultOf<typeof AgentsInstall>>> {
    const {manager, ...verb} = options
    return this.verb(['agents', 'install', ...(manager ? ['--manager', manager] : [])], verb)
  }

  uninstallAgents(options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof AgentsUninstall>>> {
    return this.verb(['agents', 'uninstall'], options)
  }

  listAgents(options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof AgentsList>>> {
    return this.verb(['agents', 'list'], options)
  }

  renderAgents(manager: 'launchd' | 'systemd', out: string, options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof AgentsRender>>> {
    return this.verb(['agents', 'render', '--manager', manager, '--out', out], options)
  }

  private async verb<T>(args: string[], options: VerbOptions): Promise<CommandRun<T>> {
    const {exit = 0, json = true, ...fleetOptions} = options
    const argv = json ? [...args, '--json'] : args
    const run = new CommandRun<T>(`fleet ${argv.join(' ')} on ${this.name}`, await this.fleet(argv, fleetOptions))
    if (exit !== 'any') expectExit(run, run.command, exit)
    return run
  }

  private absolute(paths: string | string[]): string[] {
    return (Array.isArray(paths) ? paths : [paths]).map((relative) => this.path(relative))
  }

  /** A path relative to this machine's HOME (an absolute one, such as `sourceDir` or a `locations` entry, stays as it is). */
  path(relative: string): string {
    return resolve(this.home, relative)
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

  /** Change a file the way an editor does: read it, change the text, write it back. */
  edit(relative: string, change: (text: string) => string): void {
    this.write(relative, change(this.read(relative)))
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

  /** Run a command as a person pastes it into a shell on this machine, in its HOME: a fix fleet printed, say. */
  async shell(command: string): Promise<void> {
    await execa('sh', ['-c', command], {env: this.env, extendEnv: false, cwd: this.home})
  }

  async chezmoi(args: string[]): Promise<string> {
    return String((await execa('chezmoi', args, {env: this.env, extendEnv: false})).stdout)
  }

  async git(args: string[]): Promise<string> {
    return String((await execa('git', ['-C', this.sourceDir, ...args], {env: this.env, extendEnv: false})).stdout)
  }

  // SSH keys: this machine's own, and the fleet's block in its ~/.ssh/authorized_keys.

  /** fleet enroll --ssh-key FILE on an enrolled machine: records (or replaces) its SSH public key in the roster. */
  recordSshKey(file: string, options: VerbOptions = {}): Promise<CommandRun<ResultOf<typeof Enroll>>> {
    return this.verb(['enroll', '--name', this.name, '--yes', '--no-agents', '--ssh-key', this.path(file)], options)
  }

  /** A new ed25519 key pair made by ssh-keygen (no passphrase) at `file` (~/.ssh/id_ed25519 unless told); returns the public key line. */
  async makeSshKey(file = '.ssh/id_ed25519'): Promise<string> {
    const path = this.path(file)
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    rmSync(path, {force: true})
    rmSync(`${path}.pub`, {force: true})
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${this.name}@fleet-test`, '-f', path])
    return readFileSync(`${path}.pub`, 'utf8').trim()
  }

  /** The lines of ~/.ssh/authorized_keys (undefined when there is no such file). */
  authorizedKeys(): string[] | undefined {
    return this.exists('.ssh/authorized_keys')
      ? this.read('.ssh/authorized_keys')
          .split('\n')
          .filter((line) => line !== '')
      : undefined
  }

  // fleet secrets: `args` after `secrets` (list, get KEY, set KEY, …); a value goes in on stdin (`input`), never in argv.
  secrets<T = unknown>(args: string[], options: VerbOptions & {input?: string} = {}): Promise<CommandRun<T>> {
    return this.verb(['secrets', ...args], options)
  }

  // Key rotation.

  /**
   * fleet rotate-keys (with --yes unless a dry run): this machine's key; `all`: every machine's at its next sync;
   * `compromised`: revoke that machine and re-encrypt without it.
   */
  rotateKeys(options: VerbOptions & {all?: boolean; compromised?: string; dryRun?: boolean} = {}): Promise<CommandRun<ResultOf<typeof RotateKeys>>> {
    const {all, compromised, dryRun, ...verb} = options
    const flags = [...(all ? ['--all'] : []), ...(compromised ? ['--machine', compromised, '--compromised'] : []), ...(dryRun ? ['--dry-run'] : ['--yes'])]
    return this.verb(['rotate-keys', ...flags], verb)
  }

  // Doctor.

  /** fleet doctor: every check, or one (`check`); `fix` applies the safe fixes; `fleet` shows every machine. Exit 0 unless told. */
  doctor(options: VerbOptions & {check?: string; fix?: boolean; fleet?: boolean} = {}): Promise<CommandRun<ResultOf<typeof Doctor>>> {
    const {check, fix, fleet, ...verb} = options
    return this.verb(['doctor', ...(check ? ['--check', check] : []), ...(fix ? ['--fix'] : []), ...(fleet ? ['--fleet'] : [])], verb)
  }
}
