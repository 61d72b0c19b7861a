// This machine's sync state (last sync, where the forge was, recorded conflicts) and the sync log: one JSON line
// per sync, never a secret value (paths and outcomes only).
import {existsSync} from 'node:fs'
import {appendFile, mkdir, readFile, rename, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'

import type {HeartbeatRecord} from '../heartbeat/heartbeat.ts'
import type {FleetPaths} from '../platform/paths.ts'
import type {HeldBack} from './secret-check.ts'
import type {Snapshot} from './snapshot.ts'

export type SyncOutcome = 'ok' | 'quick' | 'conflict' | 'offline' | 'error' | 'deferred'

export interface SyncRecord {
  at: string
  reason: string
  outcome: SyncOutcome
  durationMs: number
  /** Targets (relative to $HOME) this sync captured from local edits. */
  captured: string[]
  received: number
  pushed: number
  applied: string[]
  /** Targets the apply did not write: the next sync tries again. */
  waiting?: string[]
  error?: string
  /** With an error: what to do about it (the error's fix), for `fleet doctor`. */
  fix?: string
}

export interface ConflictRecord {
  /** Target path, relative to $HOME. */
  path: string
  /** Source file, relative to the source repo. */
  sourcePath: string
  /** This machine's commits, kept reachable until the conflict is resolved. */
  parkedBranch: string
  mine: string
  theirs: string
  at: string
}

export interface SyncState {
  lastSync?: SyncRecord
  /** The forge's branch head after the last full sync. */
  lastRemoteHead?: string
  /** Managed paths (relative to $HOME) at the last sync, and what was on disk then: the quick path's baseline. */
  managedPaths?: string[]
  snapshot?: Snapshot
  /** The source commit the last full sync applied. */
  appliedHead?: string
  /** Set when a sync starts and cleared when its record is written: a sync that never finished (killed, or it could not write its record) shows. */
  running?: {at: string; reason: string; pid: number}
  /** The last full sync left nothing behind (no edit it could not capture): the quick path may trust the snapshot. */
  settled?: boolean
  conflicts: ConflictRecord[]
  /** Targets the last full sync held back because they look like they hold a secret. */
  heldBack?: HeldBack[]
  /** Targets the last full sync could not capture (too large, say), with the reason and the fix. */
  skipped?: Array<{path: string; reason: string}>
  /** A full sync looked for the fleet's ~/.ssh/authorized_keys entry (an older fleet gets it then; see layAuthorizedKeysIfMissing). */
  authorizedKeysChecked?: boolean
  /** This machine's heartbeat at the forge: when it was last published and what it said, or why the forge refused it. */
  heartbeat?: HeartbeatRecord
}

export function statePaths(paths: FleetPaths) {
  return {
    state: join(paths.stateDir, 'sync-state.json'),
    snapshot: join(paths.stateDir, 'sync-snapshot.json'),
    again: join(paths.stateDir, 'sync.again'),
    log: join(paths.logDir, 'sync.jsonl'),
  }
}

/**
 * The snapshot (one entry per file under the managed paths: 290 KB at 5,000 files) lives in a file of its own,
 * written only when a sync made a new one: a quick sync, which writes the state twice, then writes a few hundred
 * bytes. The snapshots read from or written to that file, as they are on disk.
 */
const snapshotsOnDisk = new WeakSet<object>()

export async function readSyncState(paths: FleetPaths): Promise<SyncState> {
  let state: SyncState
  try {
    state = {conflicts: [], ...(JSON.parse(await readFile(statePaths(paths).state, 'utf8')) as Partial<SyncState>)}
  } catch {
    return {conflicts: []}
  }
  // A state written before the snapshot had its own file holds it inline: moved at the next write.
  if (state.snapshot !== undefined) return state
  try {
    state.snapshot = JSON.parse(await readFile(statePaths(paths).snapshot, 'utf8')) as Snapshot
    snapshotsOnDisk.add(state.snapshot)
  } catch {
    // No snapshot yet, or one that cannot be read: the next sync looks at everything and makes one.
  }
  return state
}

export async function writeSyncState(paths: FleetPaths, state: SyncState): Promise<void> {
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  const {snapshot, ...rest} = state
  const files = statePaths(paths)
  if (snapshot === undefined) await rm(files.snapshot, {force: true})
  else if (!snapshotsOnDisk.has(snapshot)) {
    await writeFileAtomic(files.snapshot, JSON.stringify(snapshot) + '\n', {mode: 0o600})
    snapshotsOnDisk.add(snapshot)
  }
  await writeFileAtomic(files.state, JSON.stringify(rest, null, 1) + '\n', {mode: 0o600})
}

const LOG_ROTATE_BYTES = 5 * 1024 * 1024

export async function appendSyncLog(paths: FleetPaths, record: SyncRecord & {machine: string}): Promise<void> {
  const file = statePaths(paths).log
  await mkdir(paths.logDir, {recursive: true, mode: 0o700})
  if (existsSync(file) && (await stat(file)).size > LOG_ROTATE_BYTES) await rename(file, `${file}.1`)
  await appendFile(file, JSON.stringify(record) + '\n', {mode: 0o600})
}

export async function readSyncLog(paths: FleetPaths, limit = 20): Promise<Array<SyncRecord & {machine: string}>> {
  try {
    const lines = (await readFile(statePaths(paths).log, 'utf8')).trim().split('\n')
    return lines.slice(-limit).map((line) => JSON.parse(line) as SyncRecord & {machine: string})
  } catch {
    return []
  }
}
