import {listMachineAgents} from '../lib/agents/machine-agents.ts'
import {FleetCommand} from '../lib/cli/base-command.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeHolder, stuckLockError} from '../lib/lock/fleet-lock.ts'
import {machineStatus, type StatusReport} from '../lib/status/status.ts'
import {describeHeldBack} from '../lib/sync/describe.ts'

export default class Status extends FleetCommand {
  static override summary = "This machine's sync state: last sync, ahead/behind, conflicts, edits waiting, and the roster."
  static override examples = [
    {description: 'How this machine stands', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<StatusReport> {
    await this.parse(Status)
    const local = await openLocalFleet()
    const {agents} = await this.contributedAgents()
    const {manager, agents: listed} = await listMachineAgents(local.paths, agents)
    const report = await machineStatus(local, listed)
    if (this.jsonEnabled()) return report
    const last = report.lastSync
    this.log(`${report.machine} (${report.state}) — forge ${report.forge ?? '(none)'}`)
    this.log(last ? `Last sync: ${last.at} (${last.reason}): ${last.outcome}${last.error ? ` — ${last.error.split('\n')[0]}` : ''}` : 'Last sync: never')
    if (report.lock) {
      const {lock} = report
      if (lock.stuck) {
        const stuck = stuckLockError(lock)
        this.log(`Stuck: ${stuck.message}`)
        this.log(`  Fix: ${stuck.fix}`)
      } else {
        this.log(lock.stale ? `A stale lock from pid ${lock.pid} (${lock.purpose}, ${lock.startedAt}) is cleared by the next sync.` : `Running now: ${describeHolder(lock)}.`)
      }
    }
    this.log(`Ahead of the forge by ${report.ahead} commit(s), behind by ${report.behind} (as of the last fetch).`)
    if (last?.waiting?.length) this.log(`Not applied yet (the next sync tries again): ${last.waiting.join(', ')}`)
    if (report.pendingCaptures.length > 0) this.log(`Edited here, captured at the next sync: ${report.pendingCaptures.join(', ')}`)
    for (const line of describeHeldBack(report.heldBack)) this.log(line)
    for (const {path, reason} of report.notCaptured) this.log(`Not captured: ~/${path} (${reason}).`)
    if (report.conflicts.length > 0) {
      this.log('Conflicts (this machine\'s version stays on disk here; both versions are kept):')
      for (const c of report.conflicts) this.log(`  ${c.path}   (parked on ${c.parkedBranch}; since ${c.at})`)
      this.log('  Resolve with: fleet resolve <path> --mine | --theirs')
    }
    this.log(manager ? `Agents (${manager}):` : 'Agents (no service manager here: `fleet agents run` runs them in the foreground):')
    for (const a of report.agents) {
      const state = manager ? (a.installed ? (a.running ? 'running' : 'installed, not running') : 'not installed') : ''
      const last = a.lastTrigger ? `last sync ${a.lastTrigger.at} (${a.lastTrigger.reason}): ${a.lastTrigger.outcome}` : 'no sync yet'
      this.log(`  ${a.id.padEnd(12)} ${state.padEnd(24)} ${last}`)
    }
    this.log('Roster:')
    for (const m of report.roster) this.log(`  ${m.name.padEnd(16)} ${m.state.padEnd(8)} ${m.hostname} (${m.os})${m.name === report.machine ? '  ← this machine' : ''}`)
    return report
  }
}
