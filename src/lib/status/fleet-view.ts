// The fleet-wide view (`fleet status --fleet`, `fleet doctor --fleet`): every machine of the roster as its heartbeat
// at the forge tells it — last seen, last sync, on the current key, able to decrypt, conflicts, agents, doctor.
import {errorMessage, ExitCode, ForgeUnreachableError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {type DoctorSummary, fetchHeartbeats, type HeartbeatReading, readHeartbeats} from '../heartbeat/heartbeat.ts'
import {duration} from '../lock/fleet-lock.ts'
import {heartbeatSettings, type Machine} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'

/** How long the view waits for the forge's heartbeats: it is a look, and shows the last ones fetched otherwise. */
const FETCH_TIMEOUT_MS = 8_000

/** One machine of the roster, as its heartbeat tells it. */
export interface FleetMachineView {
  name: string
  state: Machine['state']
  /** `never`: no heartbeat yet; `unreadable`: one this fleet cannot read (see problem); `stale`: older than staleAfterSeconds. */
  seen: 'fresh' | 'stale' | 'never' | 'unreadable'
  /** When its heartbeat was published. */
  lastSeen?: string
  lastSync?: {at: string; outcome: string; error?: string; code?: string}
  /** The key it holds is the one the roster names for it. */
  onCurrentKey?: boolean
  keyRotation?: string
  canDecrypt?: boolean
  conflicts: string[]
  agents: Array<{id: string; installed: boolean}>
  doctor?: DoctorSummary
  fleetVersion?: string
  /** Why its heartbeat could not be read. */
  problem?: string
}

export interface FleetView {
  /** The machine looking. */
  machine: string
  at: string
  staleAfterSeconds: number
  /** The heartbeats came from the forge just now; when not, `offline` says why and they are the last ones fetched. */
  fetched: boolean
  offline?: string
  machines: FleetMachineView[]
}

/** Fetch every machine's heartbeat (a short wait; an unreachable forge leaves the last ones fetched) and line them up with the roster. */
export async function fleetView(local: LocalFleet, now = new Date()): Promise<FleetView> {
  const fleet = await readManifest(local.paths.sourceDir)
  let offline: string | undefined
  try {
    await fetchHeartbeats(local.repo, FETCH_TIMEOUT_MS)
  } catch (error) {
    if (!(error instanceof ForgeUnreachableError)) throw error
    offline = errorMessage(error)
  }
  const readings = await readHeartbeats(local.repo)
  const staleAfterSeconds = heartbeatSettings(fleet.settings).staleAfterSeconds
  return {
    machine: local.machine,
    at: now.toISOString(),
    staleAfterSeconds,
    fetched: offline === undefined,
    offline,
    machines: fleet.machines.map((machine) => machineView(machine, readings.get(machine.name), staleAfterSeconds * 1000, now)),
  }
}

function machineView(machine: Machine, reading: HeartbeatReading | undefined, staleAfterMs: number, now: Date): FleetMachineView {
  const base = {name: machine.name, state: machine.state, conflicts: [], agents: []}
  if (!reading) return {...base, seen: 'never'}
  const heartbeat = reading.heartbeat
  if (!heartbeat) return {...base, seen: 'unreadable', problem: reading.problem}
  return {
    ...base,
    seen: now.getTime() - Date.parse(heartbeat.at) > staleAfterMs ? 'stale' : 'fresh',
    lastSeen: heartbeat.at,
    lastSync: heartbeat.lastSync,
    onCurrentKey: heartbeat.recipient === undefined ? undefined : heartbeat.recipient === machine.recipient,
    keyRotation: heartbeat.keyRotation,
    canDecrypt: heartbeat.canDecrypt,
    conflicts: heartbeat.conflicts,
    agents: heartbeat.agents,
    doctor: heartbeat.doctor,
    fleetVersion: heartbeat.fleetVersion,
  }
}

/**
 * What `fleet doctor --fleet` fails for, one line per machine: stale, its last sync failed, or its last doctor run
 * had failing checks. A revoked machine is not looked at; one never seen is shown, not failed (it may be new).
 */
export function fleetProblems(view: FleetView): string[] {
  const problems: string[] = []
  for (const m of view.machines) {
    if (m.state === 'revoked') continue
    const why: string[] = []
    if (m.seen === 'stale') why.push(`not seen for ${duration(Date.parse(view.at) - Date.parse(m.lastSeen!))}`)
    if (m.lastSync?.outcome === 'error') why.push(`its last sync failed${m.lastSync.error ? `: ${m.lastSync.error}` : ''}`)
    if (m.doctor && m.doctor.failing.length > 0) why.push(`doctor checks failing: ${m.doctor.failing.join(', ')}`)
    if (why.length > 0) problems.push(`${m.name}: ${why.join('; ')}`)
  }
  return problems
}

/** The exit code the view calls for: 3 when the heartbeats could not be fetched (the view may be old), else 0. */
export function fleetViewExitCode(view: FleetView): number {
  return view.fetched ? ExitCode.ok : ExitCode.forgeUnreachable
}

/** The view in a person's words: a short table (one machine a row; `withDoctor` adds its last doctor run) and notes below it. */
export interface FleetViewText {
  header: string[]
  rows: string[][]
  notes: string[]
}

/** The view as a table's header and rows (for renderTable) and the notes printed under it. */
export function describeFleetView(view: FleetView, options: {withDoctor?: boolean} = {}): FleetViewText {
  const header = ['MACHINE', 'STATE', 'LAST SEEN', 'LAST SYNC', 'KEY', 'DECRYPTS', 'CONFLICTS', 'AGENTS', ...(options.withDoctor ? ['DOCTOR'] : [])]
  const rows = view.machines.map((m) => [
    m.name + (m.name === view.machine ? ' *' : ''),
    m.state,
    lastSeen(m, view),
    m.lastSync?.outcome ?? '-',
    m.onCurrentKey === undefined ? '-' : m.onCurrentKey ? 'current' : 'not current',
    m.canDecrypt === undefined ? '-' : m.canDecrypt ? 'yes' : 'no',
    String(m.conflicts.length),
    agentsCell(m),
    ...(options.withDoctor ? [doctorCell(m)] : []),
  ])
  const lines: string[] = []
  lines.push(`(* this machine; stale after ${duration(view.staleAfterSeconds * 1000)} without a heartbeat: settings.heartbeat.staleAfterSeconds)`)
  for (const m of view.machines) {
    if (m.problem) lines.push(`${m.name}: its heartbeat cannot be read (${m.problem}).`)
    if (m.lastSync?.error) lines.push(`${m.name}: last sync: ${m.lastSync.error}`)
    if (m.conflicts.length > 0) lines.push(`${m.name}: conflicts: ${m.conflicts.join(', ')}`)
  }
  if (view.offline) lines.push(`The forge did not answer: these are the heartbeats last fetched, and may be old. ${view.offline}`)
  return {header, rows, notes: lines}
}

function lastSeen(m: FleetMachineView, view: FleetView): string {
  if (m.seen === 'never') return 'never seen'
  if (m.seen === 'unreadable') return 'unreadable'
  const ago = `${duration(Math.max(0, Date.parse(view.at) - Date.parse(m.lastSeen!)))} ago`
  return m.seen === 'stale' ? `${ago} (stale)` : ago
}

function agentsCell(m: FleetMachineView): string {
  if (m.agents.length === 0) return '-'
  const installed = m.agents.filter((a) => a.installed).map((a) => a.id)
  return installed.length === 0 ? 'none installed' : installed.join(', ')
}

function doctorCell(m: FleetMachineView): string {
  if (!m.doctor) return 'not run'
  return m.doctor.failing.length > 0 ? `failing: ${m.doctor.failing.join(', ')}` : `ok (${m.doctor.counts.warn} warnings)`
}
