// `fleet status`: this machine's last sync, how it stands against the forge (as of the last fetch: status itself
// never waits for the network), unresolved conflicts, edits not captured yet, and the roster.
import type {LocalFleet} from '../fleet/local.ts'
import {redactUrl} from '../errors/redact.ts'
import {lockDirFor} from '../lock/fleet-lock.ts'
import {linkedDirectories} from '../chezmoi/linked.ts'
import {isStale, isStuck, type LockOwner, readOwner} from '../lock/lock.ts'
import {existsSync} from 'node:fs'
import {keyRotationPhase, type KeyRotationPhase, machinesOnOldKeys} from '../keys/rotation-state.ts'
import {findMachine} from '../manifest/lookup.ts'
import type {Machine} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import type {AgentListing} from '../agents/install.ts'
import type {ListedAgent} from '../agents/machine-agents.ts'
import type {AgentSpec} from '../agents/spec.ts'
import type {HeldBack} from '../sync/secret-check.ts'
import {type ConflictRecord, readSyncLog, readSyncState, type SyncRecord, type SyncState} from '../sync/state.ts'
import {reportableStatus} from '../chezmoi/entry-types.ts'
import {upstreamRef} from '../git/git.ts'
import {identityProblem} from '../sync/apply-failures.ts'
import {conflictedSecretKeys} from '../secrets-file/history.ts'

export interface StatusReport {
  machine: string
  state: Machine['state'] | 'unknown'
  forge?: string
  lastSync?: SyncRecord
  /** Commits here not on the forge, and on the forge not here (as of the last fetch). */
  ahead: number
  behind: number
  /** With, for the secrets file, the keys in conflict (names only). */
  conflicts: Array<ConflictRecord & {keys?: string[]}>
  /** Targets the last sync held back because they look like they hold a secret (paths and kinds, never values). */
  heldBack: HeldBack[]
  /** Targets the last sync could not capture (too large, a modify_ script, …), with the reason. */
  notCaptured: Array<{path: string; reason: string}>
  /** Managed targets edited (or deleted) here that the next sync will capture. */
  pendingCaptures: string[]
  /** The managed paths (relative to $HOME), which a long list of files in them names instead of each file. */
  managedPaths: string[]
  roster: Array<Pick<Machine, 'name' | 'state' | 'hostname' | 'os'>>
  /** Who holds the fleet lock now, if anyone (a stale one is cleared by the next sync; a stuck one needs a person). */
  lock?: LockOwner & {stale: boolean; stuck: boolean}
  /** This machine's agents, and the last sync each one started (from the sync log). */
  agents: Array<AgentListing & {lastTrigger?: {at: string; reason: string; outcome: string}}>
  /** What is wrong with this machine's age key (missing, not a key, readable by others, not the roster's), and the fix. */
  key?: {code: string; message: string; fix?: string}
  /** Where a rotation of this machine's key stands (`none` when none is under way). */
  keyRotation: KeyRotationPhase
  /** `fleet rotate-keys --all`: when it was asked, and the active machines still on a key older than that. */
  rotationRequest?: {requestedAt: string; onOldKeys: string[]}
}

/** The sync-log reason an agent's syncs carry: its `--reason` argument, else its id (the watcher's are watcher…). */
function reasonOf(agent: AgentSpec): string {
  const index = agent.argv.indexOf('--reason')
  return index >= 0 ? agent.argv[index + 1] : agent.id
}

const redactOptional = (url: string | undefined) => (url === undefined ? undefined : redactUrl(url))

/** This machine's status, with each of `agents` and the last sync it started. */
export async function machineStatus(local: LocalFleet, agents: ListedAgent[] = []): Promise<StatusReport> {
  const fleet = await readManifest(local.paths.sourceDir)
  const state = await readSyncState(local.paths)
  const upstream = upstreamRef(fleet.settings.branch)
  const tracked = (await local.repo.revParse(upstream)) !== undefined
  // A conflict or a file held back as a secret is not "captured at the next sync": each is reported as what it is.
  const conflicted = new Set([...state.conflicts.map((c) => c.path), ...(state.heldBack ?? []).map((h) => h.path), ...(state.skipped ?? []).map((s) => s.path)])
  const linked = linkedDirectories(
    local.paths.home,
    fleet.paths.map((p) => p.path),
  )
  const pending = (await reportableStatus(local.chezmoi, local.paths.home, linked))
    .filter((e) => e.sinceLastWrite !== ' ' && !conflicted.has(e.path) && !linked.has(e.path))
    .map((e) => e.path)
  return {
    machine: local.machine,
    state: findMachine(fleet, local.machine)?.state ?? 'unknown',
    forge: redactOptional(await local.repo.remoteUrl()),
    lastSync: lastSyncOf(state, local),
    ahead: tracked ? await local.repo.countAhead('HEAD', upstream) : await local.repo.commitCount('HEAD'),
    behind: tracked ? await local.repo.countAhead(upstream, 'HEAD') : 0,
    conflicts: await Promise.all(state.conflicts.map(async (c) => ({...c, ...(await secretKeysOf(local, c))}))),
    heldBack: state.heldBack ?? [],
    notCaptured: state.skipped ?? [],
    pendingCaptures: pending,
    managedPaths: fleet.paths.map((p) => p.path),
    roster: fleet.machines.map(({name, state, hostname, os}) => ({name, state, hostname, os})),
    agents: await withLastTriggers(local, agents),
    lock: lockHolder(local),
    key: await keyProblem(local),
    keyRotation: await keyRotationPhase(local.paths, findMachine(fleet, local.machine)).catch(() => 'none' as const),
    rotationRequest: fleet.settings.rotationRequestedAt ? {requestedAt: fleet.settings.rotationRequestedAt, onOldKeys: machinesOnOldKeys(fleet)} : undefined,
  }
}

async function keyProblem(local: LocalFleet): Promise<StatusReport['key']> {
  const problem = await identityProblem(local)
  return problem && {code: problem.code, message: problem.message, fix: problem.fix}
}

/** The keys a conflict of the secrets file is about, when there are any to name. */
async function secretKeysOf(local: LocalFleet, conflict: ConflictRecord): Promise<{keys?: string[]}> {
  const keys = await conflictedSecretKeys(local, conflict)
  return keys.length > 0 ? {keys} : {}
}

/** The last sync, told truly: one that started and never recorded its end (killed; a full disk) is an error. */
function lastSyncOf(state: SyncState, local: LocalFleet): SyncRecord | undefined {
  const running = state.running
  const holder = lockHolder(local)
  if (!running || (holder && !holder.stale && holder.pid === running.pid)) return state.lastSync
  return {
    at: running.at,
    reason: running.reason,
    outcome: 'error',
    durationMs: 0,
    captured: [],
    received: 0,
    pushed: 0,
    applied: [],
    error: 'This sync did not finish: it was stopped, or it could not write its record (a full disk?). The next sync recovers.',
  }
}

function lockHolder(local: LocalFleet): StatusReport['lock'] {
  const dir = lockDirFor(local.paths)
  const owner = existsSync(dir) ? readOwner(dir) : undefined
  if (!owner) return undefined
  const stale = isStale(dir, owner)
  return {...owner, stale, stuck: !stale && isStuck(dir, owner)}
}

async function withLastTriggers(local: LocalFleet, agents: ListedAgent[]): Promise<StatusReport['agents']> {
  if (agents.length === 0) return []
  const log = await readSyncLog(local.paths, 500)
  return agents.map(({agent, listing}) => {
    const reason = reasonOf(agent)
    const last = log.findLast((entry) => entry.reason === reason || entry.reason.startsWith(`${reason}-`) || entry.reason.startsWith(`${reason} (`))
    return {...listing, lastTrigger: last ? {at: last.at, reason: last.reason, outcome: last.outcome} : undefined}
  })
}
