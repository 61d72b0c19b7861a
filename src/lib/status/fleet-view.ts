// The fleet-wide view (`fleet status --fleet`, `fleet doctor --fleet`): every machine of the roster as its heartbeat
// at the forge tells it — last seen, last sync, on the current key, able to decrypt, conflicts, agents, doctor. This
// machine's own row is told from its own state now. Another machine's heartbeat is its word, read with care (see
// parseHeartbeat): a clock ahead of this one's is said, never taken for a fresh heartbeat.
import {errorMessage, ExitCode, ForgeUnreachableError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {type DoctorSummary, fetchHeartbeats, type HeartbeatReading, heartbeatsFetchedAt, readHeartbeats} from '../heartbeat/heartbeat.ts'
import {heartbeatSettings, type Machine} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {age, clause, plural, safeLine, someOf} from '../platform/text.ts'
import {currentHeartbeat} from '../sync/heartbeat.ts'
import {readSyncState} from '../sync/state.ts'

/** How long the view waits for the forge's heartbeats: it is a look, and shows the last ones fetched otherwise. */
const FETCH_TIMEOUT_MS = 8_000
/** How far ahead of this machine's clock another's may be before its heartbeat's time is not believed. */
const CLOCK_SKEW_MS = 5 * 60_000
/** How many names of a list (conflicts, failing checks) a line shows before `and N more`. */
const SHOWN = 3

/** One machine of the roster, as its heartbeat tells it. */
export interface FleetMachineView {
  name: string
  state: Machine['state']
  /**
   * `never`: no heartbeat yet; `unknown`: this machine never fetched the heartbeats (and the forge did not answer);
   * `unreadable`: one this fleet cannot read (see problem); `ahead`: dated in the future, its clock is ahead (see
   * problem); `stale`: older than staleAfterSeconds.
   */
  seen: 'fresh' | 'stale' | 'never' | 'unknown' | 'unreadable' | 'ahead'
  /** When its heartbeat was published. */
  lastSeen?: string
  lastSync?: {at: string; outcome: string; error?: string; code?: string}
  /** The key it holds is the one the roster names for it. */
  onCurrentKey?: boolean
  keyRotation?: string
  /** It can open the fleet's encrypted files: never a pending or revoked machine. */
  canDecrypt?: boolean
  conflicts: string[]
  agents: Array<{id: string; installed: boolean}>
  doctor?: DoctorSummary
  fleetVersion?: string
  /** What is wrong with its heartbeat (unreadable, or its clock ahead). */
  problem?: string
}

export interface FleetView {
  /** The machine looking. */
  machine: string
  at: string
  staleAfterSeconds: number
  /** The heartbeats came from the forge just now; when not, `offline` says why and they are the last ones fetched. */
  fetched: boolean
  /** When this machine last fetched the heartbeats (absent: never). */
  fetchedAt?: string
  offline?: string
  machines: FleetMachineView[]
}

/**
 * Fetch every machine's heartbeat (a short wait; an unreachable forge leaves the last ones fetched) and line them up
 * with the roster; this machine's row comes from its own state now (its last sync, its last doctor run).
 */
export async function fleetView(local: LocalFleet, now = new Date()): Promise<FleetView> {
  const fleet = await readManifest(local.paths.sourceDir)
  let offline: string | undefined
  try {
    await fetchHeartbeats(local.repo, local.paths, FETCH_TIMEOUT_MS, now)
  } catch (error) {
    if (!(error instanceof ForgeUnreachableError)) throw error
    offline = errorMessage(error)
  }
  const [readings, fetchedAt, own] = await Promise.all([readHeartbeats(local.repo), heartbeatsFetchedAt(local.paths), ownHeartbeat(local, fleet)])
  if (own) readings.set(local.machine, {machine: local.machine, heartbeat: own})
  const staleAfterSeconds = heartbeatSettings(fleet.settings).staleAfterSeconds
  const context = {staleAfterMs: staleAfterSeconds * 1000, now, everFetched: fetchedAt !== undefined}
  return {
    machine: local.machine,
    at: now.toISOString(),
    staleAfterSeconds,
    fetched: offline === undefined,
    ...(fetchedAt ? {fetchedAt} : {}),
    offline,
    machines: fleet.machines.map((machine) => machineView(machine, readings.get(machine.name), context)),
  }
}

/** This machine's heartbeat as it would publish it now, or undefined when it cannot be told (then the fetched one stands). */
async function ownHeartbeat(local: LocalFleet, fleet: Awaited<ReturnType<typeof readManifest>>) {
  try {
    const state = await readSyncState(local.paths)
    const last = state.lastSync
    return await currentHeartbeat(local, state, last && {at: last.at, outcome: last.outcome, ...(last.error ? {error: last.error} : {})}, fleet)
  } catch {
    return undefined
  }
}

/**
 * One machine of the roster as its heartbeat (or its reading's problem) tells it, at `now`: pending and revoked
 * machines as the roster says they are, a heartbeat dated ahead of this clock as its problem.
 */
export function machineView(
  machine: Machine,
  reading: HeartbeatReading | undefined,
  {staleAfterMs, now, everFetched}: {staleAfterMs: number; now: Date; everFetched: boolean},
): FleetMachineView {
  const base = {name: machine.name, state: machine.state, conflicts: [], agents: []}
  if (!reading) return {...base, seen: everFetched ? 'never' : 'unknown'}
  const heartbeat = reading.heartbeat
  if (!heartbeat) return {...base, seen: 'unreadable', problem: reading.problem}
  const ahead = Date.parse(heartbeat.at) - now.getTime()
  const seen = ahead > CLOCK_SKEW_MS ? 'ahead' : now.getTime() - Date.parse(heartbeat.at) > staleAfterMs ? 'stale' : 'fresh'
  const clock = seen === 'ahead' ? {problem: `its clock is ahead: its heartbeat is dated ${age(ahead)} from now`} : {}
  // A revoked machine has no say in the fleet: what it last published about its key and files no longer holds.
  if (machine.state === 'revoked') return {...base, seen, lastSeen: heartbeat.at, canDecrypt: false, ...clock}
  return {
    ...base,
    seen,
    lastSeen: heartbeat.at,
    lastSync: heartbeat.lastSync,
    onCurrentKey: heartbeat.recipient === undefined ? undefined : heartbeat.recipient === machine.recipient,
    keyRotation: heartbeat.keyRotation,
    // A pending machine is not a recipient yet, whatever its heartbeat says.
    canDecrypt: machine.state === 'active' && heartbeat.canDecrypt,
    conflicts: heartbeat.conflicts,
    agents: heartbeat.agents,
    doctor: heartbeat.doctor,
    fleetVersion: heartbeat.fleetVersion,
    ...clock,
  }
}

/** What `fleet doctor --fleet` reports: problems (each fails it) and warnings, one line per machine each. */
export interface FleetFindings {
  /** Stale, its last sync failed, conflicts waiting for a person, its last doctor run had failing checks. */
  problems: string[]
  /** Its heartbeat cannot be read, or its clock is ahead. */
  warnings: string[]
}

/**
 * What `fleet doctor --fleet` finds, machine by machine (see FleetFindings). A revoked machine is not looked at; one
 * never seen is shown, not failed (it may be new).
 */
export function fleetFindings(view: FleetView): FleetFindings {
  const problems: string[] = []
  const warnings: string[] = []
  for (const m of view.machines) {
    if (m.state === 'revoked') continue
    if (m.problem) warnings.push(`${m.name}: its heartbeat ${m.seen === 'ahead' ? 'cannot be believed' : 'cannot be read'} (${m.problem})`)
    const why: string[] = []
    if (m.seen === 'stale') why.push(`not seen for ${age(Date.parse(view.at) - Date.parse(m.lastSeen!))}`)
    if (m.lastSync?.outcome === 'error') why.push(`its last sync failed${m.lastSync.error ? `: ${clause(m.lastSync.error)}` : ''}`)
    if (m.conflicts.length > 0) why.push(`${plural(m.conflicts.length, 'conflict')} waiting for a person: ${someOf(m.conflicts, SHOWN)}`)
    if (m.doctor && m.doctor.failing.length > 0) why.push(`doctor checks failing${doctorAge(m, view)}: ${someOf(m.doctor.failing, SHOWN)}`)
    if (why.length > 0) problems.push(`${m.name}: ${why.join('; ')}`)
  }
  return {problems, warnings}
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

/**
 * The view as a table's header and rows (for renderTable) and the notes printed under it. `withDoctor` adds each
 * machine's last doctor run, and leaves each machine's details to the findings printed after it (see fleetFindings).
 */
export function describeFleetView(view: FleetView, options: {withDoctor?: boolean} = {}): FleetViewText {
  const header = ['MACHINE', 'STATE', 'LAST SEEN', 'LAST SYNC', 'KEY', 'DECRYPTS', 'CONFLICTS', 'AGENTS', ...(options.withDoctor ? ['DOCTOR'] : [])]
  const rows = view.machines.map((m) => {
    const revoked = m.state === 'revoked'
    return [
      m.name + (m.name === view.machine ? ' *' : ''),
      m.state,
      lastSeen(m, view),
      revoked ? '-' : (m.lastSync?.outcome ?? '-'),
      keyCell(m),
      decryptsCell(m),
      revoked || !m.lastSeen ? '-' : String(m.conflicts.length),
      revoked ? '-' : agentsCell(m),
      ...(options.withDoctor ? [revoked ? '-' : doctorCell(m, view)] : []),
    ]
  })
  const lines: string[] = []
  lines.push(
    `(* this machine, as it stands now; stale after ${age(view.staleAfterSeconds * 1000)} without a heartbeat: settings.heartbeat.staleAfterSeconds; - : no heartbeat tells)`,
  )
  if (!options.withDoctor) {
    for (const m of view.machines) {
      if (m.state === 'revoked') continue
      if (m.problem) lines.push(`${m.name}: its heartbeat ${m.seen === 'ahead' ? 'cannot be believed' : 'cannot be read'} (${m.problem}).`)
      if (m.lastSync?.error) lines.push(`${m.name}: last sync: ${m.lastSync.error}`)
      if (m.conflicts.length > 0) lines.push(`${m.name}: conflicts: ${someOf(m.conflicts, SHOWN)}`)
    }
  }
  if (view.offline) lines.push(offlineNote(view))
  return {header, rows, notes: lines}
}

/** What an unreachable forge means for the view: the heartbeats last fetched (when), or none at all. */
function offlineNote(view: FleetView): string {
  const reason = safeLine(view.offline ?? '', 200)
  if (!view.fetchedAt) return `The forge did not answer, and this machine never fetched the heartbeats: the other machines are unknown. ${reason}`
  const ago = age(Date.parse(view.at) - Date.parse(view.fetchedAt))
  return `The forge did not answer: these are the heartbeats last fetched ${ago} ago, and may be old. ${reason}`
}

function lastSeen(m: FleetMachineView, view: FleetView): string {
  if (m.seen === 'never') return 'never seen'
  if (m.seen === 'unknown') return 'unknown (never fetched)'
  if (m.seen === 'unreadable') return 'unreadable'
  if (m.seen === 'ahead') return 'clock ahead'
  const ago = `${age(Date.parse(view.at) - Date.parse(m.lastSeen!))} ago`
  return m.seen === 'stale' ? `${ago} (stale)` : ago
}

function keyCell(m: FleetMachineView): string {
  if (m.state === 'revoked') return 'revoked'
  if (m.state === 'pending') return 'pending'
  if (m.onCurrentKey === undefined) return m.lastSeen ? 'none' : '-'
  return m.onCurrentKey ? 'current' : 'not current'
}

function decryptsCell(m: FleetMachineView): string {
  if (m.state === 'revoked') return 'no (revoked)'
  if (m.state === 'pending') return 'not yet (pending)'
  if (m.canDecrypt === undefined) return '-'
  return m.canDecrypt ? 'yes' : 'no'
}

function agentsCell(m: FleetMachineView): string {
  if (m.agents.length === 0) return '-'
  const installed = m.agents.filter((a) => a.installed).map((a) => a.id)
  return installed.length === 0 ? 'none installed' : someOf(installed, SHOWN)
}

/**
 * ` 2 d ago` when a machine's last doctor run is much older than its last sync (older than the stale bound), so that an
 * old result is not taken for a current one; empty otherwise.
 */
function doctorAge(m: FleetMachineView, view: FleetView): string {
  if (!m.doctor) return ''
  const since = Date.parse(m.lastSync?.at ?? view.at) - Date.parse(m.doctor.at)
  return since > view.staleAfterSeconds * 1000 ? ` ${age(Date.parse(view.at) - Date.parse(m.doctor.at))} ago` : ''
}

function doctorCell(m: FleetMachineView, view: FleetView): string {
  if (!m.doctor) return m.lastSeen ? 'not run' : '-'
  const when = doctorAge(m, view)
  const result = m.doctor.failing.length > 0 ? `failing ${someOf(m.doctor.failing, SHOWN)}` : `ok (${plural(m.doctor.counts.warn, 'warning')})`
  return when ? `${when.trim()}: ${result}` : result
}
