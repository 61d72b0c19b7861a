// This machine's agents, as every command asks for them: installed into its service manager (the one way
// `fleet enroll` and `fleet agents install` do it, and say it), listed with their state there, or chosen by id.
import {FleetError, UsageError} from '../errors/index.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {type AgentListing, detectManager, type InstallReport, installAgents, listAgent, renderContext} from './install.ts'
import type {ManagerKind} from './render.ts'
import type {ContributedAgent} from './spec.ts'

export interface AgentsInstallation {
  /** The service manager that took the agents; none: nothing was installed. */
  manager?: ManagerKind
  report?: InstallReport
  /** The ids of the agents installed (all of them, once a manager took them). */
  installed: string[]
  /** What happened, in one line. */
  message: string
}

/**
 * Install this machine's agents into `manager`, else the service manager found here, and say what happened in
 * one line. The agents are collected once a manager is known. Without a manager: an error when one is
 * `required`, else nothing is installed and the message says how to run the agents.
 */
export async function installMachineAgents(
  paths: FleetPaths,
  collect: () => Promise<ContributedAgent[]>,
  options: {manager?: ManagerKind; required?: boolean} = {},
): Promise<AgentsInstallation> {
  const manager = options.manager ?? (await detectManager())
  if (!manager && options.required) {
    throw new FleetError('There is no service manager here (no launchd, and no systemd user session).', {
      code: 'NO_SERVICE_MANAGER',
      fix: "Run the agents in the foreground instead: fleet agents run (for example under your container's process manager).",
    })
  }
  const agents = await collect()
  const ids = agents.map((a) => a.id)
  if (!manager) {
    return {
      installed: [],
      message: `not installed: this machine has no service manager (launchd or a systemd user session); run them with \`fleet agents run\` (${ids.join(', ')})`,
    }
  }
  const report = await installAgents(paths, agents, manager)
  return {manager, report, installed: ids, message: describeInstall(report, ids)}
}

/** `watcher and puller installed into systemd`, with what a person needs to know about it. */
function describeInstall(report: InstallReport, ids: string[]): string {
  const inWords = (names: string[]) => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`)
  const notes: string[] = []
  if (report.manager === 'systemd') notes.push(' (on a headless machine: loginctl enable-linger $USER)')
  if (report.changed.length === 0) notes.push(' (already current)')
  else if (report.changed.length < ids.length) notes.push(` (${inWords(report.changed)} new or updated)`)
  if (report.removed.length > 0) notes.push(`; removed ${inWords(report.removed)}`)
  return `${ids.length > 0 ? inWords(ids) : 'no agents'} installed into ${report.manager}${notes.join('')}`
}

/** One agent with its state in the service manager: the agent's own fields beside what the manager says. */
export interface ListedAgent {
  agent: ContributedAgent
  listing: AgentListing
}

/** The service manager here (if any) and each agent's state in it, in the agents' order. */
export async function listMachineAgents(paths: FleetPaths, agents: ContributedAgent[]): Promise<{manager?: ManagerKind; agents: ListedAgent[]}> {
  const manager = await detectManager()
  const ctx = renderContext(paths)
  const listed: ListedAgent[] = []
  for (const agent of agents) listed.push({agent, listing: await listAgent(paths, agent, manager, undefined, ctx)})
  return {manager, agents: listed}
}

/** The agents named by `ids` (all of them without ids); an unknown id is a usage error that lists the known ones. */
export function chooseAgents(agents: ContributedAgent[], ids: string[] | undefined): ContributedAgent[] {
  const unknown = (ids ?? []).filter((id) => !agents.some((a) => a.id === id))
  if (unknown.length > 0) throw new UsageError(`No agent named ${unknown.join(', ')}.`, `Agents: ${agents.map((a) => a.id).join(', ')}`, 'NO_SUCH_AGENT')
  return ids ? agents.filter((a) => ids.includes(a.id)) : agents
}

/** `fleet agents list` in words: the service manager, then one line per agent. */
export function describeListing(manager: ManagerKind | undefined, listings: AgentListing[]): string[] {
  const lines = [manager ? `Service manager: ${manager}` : 'No service manager here: run the agents with `fleet agents run`.']
  // A plugin's agent id may be long (task-durations-pull-fleet): the column is as wide as the longest.
  const idWidth = Math.max(12, ...listings.map((a) => a.id.length))
  for (const a of listings) {
    const how = a.kind === 'resident' ? 'resident' : `every ${a.intervalSeconds} s`
    const state = !manager
      ? ''
      : !a.installed
        ? 'not installed'
        : `${a.running ? (manager === 'launchd' ? 'loaded' : 'active') : 'not running'}${a.current ? '' : ', definition out of date (fleet agents install)'}`
    lines.push(`  ${a.id.padEnd(idWidth)} ${how.padEnd(16)} ${state.padEnd(24)} from ${a.source}`)
  }
  return lines
}
