// Installing agents into the OS's service manager: definitions written atomically, and the manager told only
// about the ones whose content changed. launchctl and systemctl are reached through ServiceControl alone.
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, rm} from 'node:fs/promises'
import {delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import writeFileAtomic from 'write-file-atomic'

import {FleetError, UsageError} from '../errors/index.ts'
import {currentPlatform, type FleetPaths, fleetPaths} from '../platform/paths.ts'
import {run, type RunResult} from '../process/run.ts'
import {executablesOnPath} from '../process/which.ts'
import {type ManagerKind, render, type RenderContext, type RenderedFile} from './render.ts'
import {type ContributedAgent, CORE_SOURCE, coreAgents} from './spec.ts'
import type {AgentSettings} from '../manifest/schema.ts'

/** The one door to launchctl / systemctl --user (tests put a recording stand-in first on PATH). */
export interface ServiceControl {
  run(args: string[]): Promise<RunResult>
}

/**
 * The service manager's command; `signal` stops each call when aborted (a doctor check's), in a process group of its
 * own so that whatever the call started stops with it.
 */
export function serviceControl(kind: ManagerKind, signal?: AbortSignal): ServiceControl {
  const processGroup = signal !== undefined
  return kind === 'launchd'
    ? {run: (args) => run('launchctl', args, {allowFailure: true, timeout: 30_000, signal, processGroup})}
    : {run: (args) => run('systemctl', ['--user', ...args], {allowFailure: true, timeout: 60_000, signal, processGroup})}
}

/** The systemd unit that runs an agent: its service when it is resident, else the timer that starts it. */
export function systemdUnit(agent: {label: string; resident?: boolean}): string {
  return agent.resident ? `${agent.label}.service` : `${agent.label}.timer`
}

/** Where `kind` reads this user's agent definitions (see FleetPaths). */
export function managerDir(kind: ManagerKind, paths: FleetPaths): string {
  return kind === 'launchd' ? paths.launchAgentsDir : paths.systemdUserDir
}

/** The service manager here: launchd on macOS; systemd when a user manager answers; otherwise none. */
export async function detectManager(): Promise<ManagerKind | undefined> {
  if (currentPlatform() === 'darwin') return 'launchd'
  const probe = await run('systemctl', ['--user', 'show-environment'], {allowFailure: true, timeout: 10_000}).catch(() => undefined)
  return probe?.exitCode === 0 ? 'systemd' : undefined
}

/** The directory of the `command` a shell would run, if any. */
function which(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const [file] = executablesOnPath(command, env)
  return file ? dirname(file) : undefined
}

/** The tools agents run by name (fleet runs git and chezmoi, chezmoi runs age, git runs ssh). */
const AGENT_TOOLS = ['git', 'chezmoi', 'age', 'ssh', 'node']
/** Where a service manager's minimal PATH leaves out what a person's shell has (Homebrew on macOS). */
const FALLBACK_DIRS = ['/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']

/**
 * The agents' PATH: the person's PATH, keeping the directories where it finds each tool and the usual ones, in
 * the person's order, so each tool resolves to the same binary (a directory that comes before a tool's own holds
 * no such tool on the person's PATH, and so none here). Directories the person's PATH lacks (node's,
 * FLEET_CHEZMOI's, the usual ones) come after, where they cannot shadow a tool found earlier. Rendered again from
 * an agent's own PATH, it is the same.
 */
export function agentPath(env: NodeJS.ProcessEnv, chezmoi: string | undefined): string {
  const after = [...(chezmoi ? [dirname(chezmoi)] : []), dirname(process.execPath), ...FALLBACK_DIRS]
  const kept = new Set([...AGENT_TOOLS.map((tool) => which(tool, env)).filter((dir): dir is string => dir !== undefined), ...after])
  const personal = (env.PATH ?? '').split(delimiter).filter((dir) => kept.has(dir))
  return [...new Set([...personal, ...after])].join(delimiter)
}

/** FLEET_CHEZMOI as an absolute path (agents start in another directory), when it is set. */
function pinnedChezmoi(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.FLEET_CHEZMOI
  if (!value) return undefined
  if (value.includes('/')) return resolve(value)
  const dir = which(value, env)
  return dir ? join(dir, value) : value
}

/** Captured now, so agents run the same node, fleet, git, chezmoi and age as this command. */
export function renderContext(paths: FleetPaths, env: NodeJS.ProcessEnv = process.env): RenderContext {
  const chezmoi = pinnedChezmoi(env)
  const agentEnv: Record<string, string> = {PATH: agentPath(env, chezmoi)}
  for (const name of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) if (env[name]) agentEnv[name] = env[name]!
  if (chezmoi) agentEnv.FLEET_CHEZMOI = chezmoi
  // The plugin manager's directory: an agent finds the plugins (and their data) this command found.
  if (env.FLEET_DATA_DIR) agentEnv.FLEET_DATA_DIR = resolve(env.FLEET_DATA_DIR)
  // The SSH key plugins reach peers with (a path, never the key): agents use the one this command was given.
  if (env.FLEET_SSH_IDENTITY) agentEnv.FLEET_SSH_IDENTITY = resolve(env.FLEET_SSH_IDENTITY)
  return {
    node: process.execPath,
    entry: fileURLToPath(new URL('../../../bin/run.js', import.meta.url)),
    env: agentEnv,
    launchdLogDir: fleetPaths({...env, HOME: paths.home}, 'darwin').logDir,
  }
}

/** What `fleet agents install` installed here, kept in the state directory: the manager, and each agent's files. */
export interface InstalledRecord {
  manager: ManagerKind
  agents: Record<string, {label: string; files: string[]; hash: string; resident: boolean; spec: ContributedAgent}>
}

/** The agents installed here (undefined when none are: never installed, or uninstalled). */
export async function readInstalledAgents(paths: FleetPaths): Promise<InstalledRecord | undefined> {
  try {
    return JSON.parse(await readFile(paths.installedAgentsFile, 'utf8')) as InstalledRecord
  } catch {
    return undefined
  }
}

function hashFiles(files: RenderedFile[]): string {
  return createHash('sha256')
    .update(files.map((f) => `${f.name}\0${f.content}`).join('\0'))
    .digest('hex')
}

export interface InstallReport {
  manager: ManagerKind
  dir: string
  /** Agents whose definitions were written and reloaded. */
  changed: string[]
  unchanged: string[]
  removed: string[]
  /** Every launchctl / systemctl call made, for the person to see. */
  calls: string[][]
}

/** This user's id: its launchd domain is `gui/<uid>`. */
export async function uid(): Promise<number> {
  return process.getuid?.() ?? 0
}

/** Tell the manager about changed agents (and only those). */
async function activate(
  kind: ManagerKind,
  control: ServiceControl,
  dir: string,
  changed: Array<{agent: ContributedAgent; files: RenderedFile[]}>,
  calls: string[][],
): Promise<void> {
  const call = async (args: string[], mustSucceed: boolean) => {
    calls.push(args)
    const result = await control.run(args)
    if (mustSucceed && result.exitCode !== 0) {
      throw new FleetError(`${kind === 'launchd' ? 'launchctl' : 'systemctl --user'} ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`, {
        code: 'SERVICE_MANAGER',
        fix:
          kind === 'systemd'
            ? 'Check `systemctl --user status` (on a machine without a login session: loginctl enable-linger $USER).'
            : 'Check `launchctl print gui/$(id -u)`.',
      })
    }
  }
  if (changed.length === 0) return
  if (kind === 'launchd') {
    const domain = `gui/${await uid()}`
    for (const {agent, files} of changed) {
      await call(['bootout', `${domain}/${agent.label}`], false)
      await call(['bootstrap', domain, join(dir, files[0].name)], true)
    }
    return
  }
  await call(['daemon-reload'], true)
  for (const {agent} of changed) {
    const unit = systemdUnit(agent)
    await call(['enable', unit], true)
    await call(['restart', unit], true)
  }
}

async function deactivate(kind: ManagerKind, control: ServiceControl, label: string, resident: boolean, calls: string[][]): Promise<void> {
  const args = kind === 'launchd' ? ['bootout', `gui/${await uid()}/${label}`] : ['disable', '--now', systemdUnit({label, resident})]
  calls.push(args)
  await control.run(args)
}

export async function installAgents(
  paths: FleetPaths,
  agents: ContributedAgent[],
  kind: ManagerKind,
  control = serviceControl(kind),
  ctx = renderContext(paths),
): Promise<InstallReport> {
  const dir = managerDir(kind, paths)
  await mkdir(dir, {recursive: true})
  if (kind === 'launchd') await mkdir(ctx.launchdLogDir, {recursive: true, mode: 0o700})
  const previous = await readInstalledAgents(paths)
  if (previous && previous.manager !== kind) {
    throw new UsageError(
      `Agents are installed with ${previous.manager} here; uninstall them first.`,
      'fleet agents uninstall, then fleet agents install.',
      'OTHER_MANAGER',
    )
  }
  const report: InstallReport = {manager: kind, dir, changed: [], unchanged: [], removed: [], calls: []}
  const record: InstalledRecord = {manager: kind, agents: {}}
  const changed: Array<{agent: ContributedAgent; files: RenderedFile[]}> = []
  for (const agent of agents) {
    const files = render(kind, agent, ctx)
    let same = true
    for (const file of files) {
      const path = join(dir, file.name)
      const current = existsSync(path) ? await readFile(path, 'utf8') : undefined
      if (current !== file.content) {
        same = false
        await writeFileAtomic(path, file.content, {mode: 0o644})
      }
    }
    record.agents[agent.id] = {label: agent.label, files: files.map((f) => f.name), hash: hashFiles(files), resident: Boolean(agent.resident), spec: agent}
    if (same) report.unchanged.push(agent.id)
    else {
      report.changed.push(agent.id)
      changed.push({agent, files})
    }
  }
  for (const [id, old] of Object.entries(previous?.agents ?? {})) {
    if (record.agents[id]) continue
    await deactivate(kind, control, old.label, old.resident, report.calls)
    for (const name of old.files) await rm(join(dir, name), {force: true})
    report.removed.push(id)
  }
  await activate(kind, control, dir, changed, report.calls)
  if (kind === 'systemd' && report.removed.length > 0 && changed.length === 0) {
    report.calls.push(['daemon-reload'])
    await control.run(['daemon-reload'])
  }
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  await writeFileAtomic(paths.installedAgentsFile, JSON.stringify(record, null, 1) + '\n')
  return report
}

/**
 * After a sync brought a changed manifest: the core agents are rendered again with the fleet's settings (the
 * plugins' agents as they were installed), and only those whose definition changed are reloaded. Nothing
 * happens where no agents are installed.
 */
export async function refreshInstalledAgents(paths: FleetPaths, settings: AgentSettings): Promise<InstallReport | undefined> {
  const record = await readInstalledAgents(paths)
  if (!record) return undefined
  const installed = Object.values(record.agents).map((a) => a.spec)
  const core = coreAgents(settings).map((spec) => ({...spec, source: CORE_SOURCE}))
  const plugins = installed.filter((a) => a && !core.some((c) => c.id === a.id))
  const report = await installAgents(paths, [...core, ...plugins], record.manager)
  return report.changed.length > 0 || report.removed.length > 0 ? report : undefined
}

export async function uninstallAgents(paths: FleetPaths, control?: ServiceControl): Promise<InstallReport | undefined> {
  const previous = await readInstalledAgents(paths)
  if (!previous) return undefined
  const kind = previous.manager
  const ctl = control ?? serviceControl(kind)
  const dir = managerDir(kind, paths)
  const report: InstallReport = {manager: kind, dir, changed: [], unchanged: [], removed: [], calls: []}
  for (const [id, agent] of Object.entries(previous.agents)) {
    await deactivate(kind, ctl, agent.label, agent.resident, report.calls)
    for (const name of agent.files) await rm(join(dir, name), {force: true})
    report.removed.push(id)
  }
  if (kind === 'systemd') {
    report.calls.push(['daemon-reload'])
    await ctl.run(['daemon-reload'])
  }
  await rm(paths.installedAgentsFile, {force: true})
  return report
}

/**
 * The core's agents and every agent fleet installed here, each with whether its definition files are all in place:
 * read from fleet's own record, without asking the service manager (the sync's heartbeat carries it).
 */
export async function recordedAgents(paths: FleetPaths, settings: AgentSettings): Promise<Array<{id: string; installed: boolean}>> {
  const record = await readInstalledAgents(paths)
  const ids = [...new Set([...coreAgents(settings).map((agent) => agent.id), ...Object.keys(record?.agents ?? {})])]
  return ids.map((id) => {
    const entry = record?.agents[id]
    return {id, installed: Boolean(record && entry && entry.files.every((name) => existsSync(join(managerDir(record.manager, paths), name))))}
  })
}

export interface AgentListing {
  id: string
  label: string
  source: string
  description: string
  kind: 'resident' | 'interval'
  intervalSeconds?: number
  installed: boolean
  /** launchd: loaded; systemd: active. Unknown when no service manager answers. */
  running?: boolean
  /** The installed definition is what fleet would write now. */
  current?: boolean
}

/** One agent's state in the service manager `kind` (none: only what the agent is). */
export async function listAgent(
  paths: FleetPaths,
  agent: ContributedAgent,
  kind: ManagerKind | undefined,
  control?: ServiceControl,
  ctx = renderContext(paths),
): Promise<AgentListing> {
  const listing: AgentListing = {
    id: agent.id,
    label: agent.label,
    source: agent.source,
    description: agent.description,
    kind: agent.resident ? 'resident' : 'interval',
    intervalSeconds: agent.intervalSeconds,
    installed: false,
  }
  if (!kind) return listing
  const dir = managerDir(kind, paths)
  const files = render(kind, agent, ctx)
  const present = await Promise.all(files.map(async (f) => (existsSync(join(dir, f.name)) ? readFile(join(dir, f.name), 'utf8') : undefined)))
  listing.installed = present.every((c) => c !== undefined)
  listing.current = listing.installed && present.every((c, i) => c === files[i].content)
  const ctl = control ?? serviceControl(kind)
  if (kind === 'launchd') listing.running = (await ctl.run(['print', `gui/${await uid()}/${agent.label}`])).exitCode === 0
  else listing.running = (await ctl.run(['is-active', '--quiet', systemdUnit(agent)])).exitCode === 0
  return listing
}

/** Write the definitions without installing them (for reading them, and for tests). */
export async function renderAgentsTo(outDir: string, agents: ContributedAgent[], kind: ManagerKind, ctx: RenderContext): Promise<string[]> {
  await mkdir(outDir, {recursive: true})
  const written: string[] = []
  for (const agent of agents) {
    for (const file of render(kind, agent, ctx)) {
      await writeFileAtomic(join(outDir, file.name), file.content)
      written.push(join(outDir, file.name))
    }
  }
  return written
}
