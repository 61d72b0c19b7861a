// The Agents checks: this machine's agents (the core's and the plugins') installed, running, their definitions what
// fleet would write now, on launchd a PATH that finds git and chezmoi, and on a headless systemd machine lingering.
// The service manager is the one `fleet agents install` used (its record in the state directory), asked through the
// same adapter. A machine with no agents installed at all is said once, not by every check.
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {userInfo} from 'node:os'

import {parse} from 'plist'

import {
  type AgentListing,
  type InstalledRecord,
  listAgent,
  managerDir,
  readInstalledAgents,
  renderContext,
  serviceControl,
  systemdUnit,
  uid,
} from '../../agents/install.ts'
import {installMachineAgents} from '../../agents/machine-agents.ts'
import type {ContributedAgent} from '../../agents/spec.ts'
import {shellCommand} from '../../errors/shell-command.ts'
import {run} from '../../process/run.ts'
import {executablesOnPath} from '../../process/which.ts'
import {type DoctorCheck, ok, skipped, warn} from '../check.ts'
import {type DoctorContext, SkipCheck} from '../context.ts'
import {withTilde} from '../../platform/text.ts'

const GROUP = 'Agents'

/** The agents installed here: the record of `fleet agents install`, and each agent's state in its manager. */
interface InstalledAgents {
  record: InstalledRecord
  dir: string
  listed: Array<{agent: ContributedAgent; listing: AgentListing}>
}

/** What `fleet agents install` installed, each agent listed in its manager (calls stopped by `signal`); undefined: none. */
function installedAgents(context: DoctorContext, signal: AbortSignal): Promise<InstalledAgents | undefined> {
  return context.once('agents.installed', async () => {
    const record = await readInstalledAgents(context.paths)
    if (!record) return undefined
    const control = serviceControl(record.manager, signal)
    const ctx = renderContext(context.paths, context.env)
    const listed: InstalledAgents['listed'] = []
    for (const agent of context.agents) listed.push({agent, listing: await listAgent(context.paths, agent, record.manager, control, ctx)})
    return {record, dir: managerDir(record.manager, context.paths), listed}
  })
}

/** The installed agents, or SkipCheck when there are none (agents.installed says so, once). */
async function needInstalled(context: DoctorContext, signal: AbortSignal): Promise<InstalledAgents> {
  const installed = await installedAgents(context, signal)
  if (!installed) throw new SkipCheck('Skipped: no agents are installed here (see agents.installed).')
  return installed
}

const INSTALL = '`fleet agents install`'

/** Install this machine's agents again, the way `fleet agents install` does: only what changed is written and reloaded. */
async function reinstall(context: DoctorContext): Promise<string> {
  const record = await readInstalledAgents(context.paths)
  const installation = await installMachineAgents(context.paths, async () => context.agents, {manager: record?.manager, required: true})
  return installation.message
}

const ids = (listed: InstalledAgents['listed']) => listed.map(({agent}) => agent.id).join(', ')

const installedCheck: DoctorCheck = {
  id: 'agents.installed',
  group: GROUP,
  async run(context, signal) {
    await context.need("this machine's fleet", context.local())
    const installed = await installedAgents(context, signal)
    if (!installed) {
      return warn(
        'No agents are installed on this machine: nothing syncs in the background, and `fleet sync` runs only when you run it.',
        `${INSTALL} (or, without a service manager, \`fleet agents run\`)`,
      )
    }
    if (installed.listed.length === 0) return skipped("Skipped: this machine's agents could not be collected (see the plugins' warnings).")
    const missing = installed.listed.filter(({listing}) => !listing.installed)
    const manager = installed.record.manager
    if (missing.length > 0) return warn(`Not installed into ${manager}: ${ids(missing)} (no definition in ${context.tilde(installed.dir)}).`, INSTALL, true)
    return ok(`${ids(installed.listed)} installed into ${manager}.`)
  },
  repair: reinstall,
}

const runningCheck: DoctorCheck = {
  id: 'agents.running',
  group: GROUP,
  async run(context, signal) {
    const {record, dir, listed} = await needInstalled(context, signal)
    const control = serviceControl(record.manager, signal)
    const stopped: string[] = []
    const fixes: string[] = []
    for (const {agent, listing} of listed.filter(({listing}) => listing.installed)) {
      if (record.manager === 'launchd') {
        if (listing.running) continue
        stopped.push(`${agent.id} (not loaded)`)
        fixes.push(withTilde(context.paths.home, shellCommand('launchctl', 'bootstrap', `gui/${await uid()}`, join(dir, `${agent.label}.plist`))))
        continue
      }
      const enabled = (await control.run(['is-enabled', '--quiet', systemdUnit(agent)])).exitCode === 0
      if (listing.running && enabled) continue
      stopped.push(`${agent.id} (${[listing.running ? '' : 'not active', enabled ? '' : 'not enabled'].filter(Boolean).join(', ')})`)
      fixes.push(shellCommand('systemctl', '--user', 'enable', '--now', systemdUnit(agent)))
    }
    if (stopped.length > 0) return warn(`Not running: ${stopped.join(', ')}.`, fixes.map((fix) => `\`${fix}\``).join('; '))
    return ok(record.manager === 'launchd' ? 'Every agent is loaded in launchd.' : 'Every agent is active and enabled in systemd.')
  },
}

/**
 * Agents the record says are installed that nothing contributes any more, because the plugin that did is not installed
 * here (removed by `fleet plugins reset` or by hand): their services run a command that no longer exists. An agent of a
 * plugin still installed is not counted (its hook may have failed this time; the plugins' warnings say so).
 */
function orphaned(context: DoctorContext, record: InstalledRecord): Array<{id: string; source: string}> {
  const core = '@dotfleet/fleet'
  return Object.entries(record.agents)
    .filter(([id]) => !context.agents.some((agent) => agent.id === id))
    .map(([id, installed]) => ({id, source: installed.spec?.source ?? core}))
    .filter(({source}) => source === core || !context.installedPlugins.includes(source))
}

const currentCheck: DoctorCheck = {
  id: 'agents.current',
  group: GROUP,
  async run(context, signal) {
    const {listed, record} = await needInstalled(context, signal)
    const gone = orphaned(context, record)
    if (gone.length > 0) {
      const which = gone.map(({id, source}) => `${id} (from ${source})`).join(', ')
      return warn(
        `Installed, but nothing contributes it any more: ${which}; its service runs a command that is gone.`,
        `${INSTALL} (it removes ${gone.length === 1 ? 'it' : 'them'})`,
        true,
      )
    }
    const stale = listed.filter(({listing}) => listing.installed && !listing.current)
    if (stale.length > 0) {
      return warn(
        `The definition of ${ids(stale)} is not what fleet writes now (fleet was upgraded or moved, a setting changed, or the file was edited).`,
        INSTALL,
        true,
      )
    }
    return ok('Every installed definition is what fleet writes now.')
  },
  repair: reinstall,
}

/** The tools an agent runs by name, and the one it must find: chezmoi through FLEET_CHEZMOI when the definition pins it. */
function toolsNotFound(env: Record<string, string>): string[] {
  const path = {PATH: env.PATH ?? ''}
  const missing = executablesOnPath('git', path).length === 0 ? ['git'] : []
  const chezmoi = env.FLEET_CHEZMOI ? existsSync(env.FLEET_CHEZMOI) : executablesOnPath('chezmoi', path).length > 0
  return chezmoi ? missing : [...missing, 'chezmoi']
}

const pathCheck: DoctorCheck = {
  id: 'agents.path',
  group: GROUP,
  async run(context, signal) {
    const {record, dir, listed} = await needInstalled(context, signal)
    if (record.manager !== 'launchd') return skipped(`Skipped: the agents run under ${record.manager}; this check is for launchd's PATH.`)
    const lacking: string[] = []
    for (const {agent} of listed.filter(({listing}) => listing.installed)) {
      const file = join(dir, `${agent.label}.plist`)
      const plist = parse(await readFile(file, 'utf8')) as {EnvironmentVariables?: Record<string, string>}
      const missing = toolsNotFound(plist.EnvironmentVariables ?? {})
      if (missing.length > 0) lacking.push(`${agent.id} finds no ${missing.join(' and no ')} (${context.tilde(file)})`)
    }
    if (lacking.length > 0) {
      return warn(`The PATH launchd gives the agents: ${lacking.join('; ')}.`, `Run ${INSTALL} from a shell where \`command -v git chezmoi\` finds both.`, true)
    }
    return ok('The PATH launchd gives the agents finds git and chezmoi.')
  },
  repair: reinstall,
}

const lingerCheck: DoctorCheck = {
  id: 'agents.linger',
  group: GROUP,
  async run(context, signal) {
    const {record} = await needInstalled(context, signal)
    if (record.manager !== 'systemd') return skipped(`Skipped: the agents run under ${record.manager}; lingering is systemd's.`)
    if (context.env.DISPLAY || context.env.WAYLAND_DISPLAY) return skipped('Skipped: a graphical session: systemd runs the agents while you are logged in.')
    if (executablesOnPath('loginctl', context.env).length === 0) return skipped('Skipped: there is no loginctl here.')
    const user = context.env.USER ?? userInfo().username
    // A group of its own: the abort of a check past its time ends whatever loginctl started too.
    const shown = await run('loginctl', ['show-user', user, '--property=Linger'], {allowFailure: true, timeout: 4_000, signal, processGroup: true})
    if (shown.exitCode !== 0)
      return skipped(`Skipped: loginctl could not say (${withTilde(context.paths.home, (shown.stderr || shown.stdout).trim().split('\n')[0])}).`)
    if (/^Linger=yes$/m.test(shown.stdout)) return ok('Lingering is on: the agents run without a login session.')
    return warn('Lingering is off and there is no graphical session: systemd stops the agents when you log out.', '`loginctl enable-linger $USER`')
  },
}

/** The Agents group's checks. */
export const agentChecks: DoctorCheck[] = [installedCheck, runningCheck, currentCheck, pathCheck, lingerCheck]
