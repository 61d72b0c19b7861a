// The sync's side of the heartbeat (see heartbeat/heartbeat.ts): gathering what this machine says about itself, and
// publishing it — in the same push as the branch when the sync pushes, on its own when it has nothing to push and
// the heartbeat changed or is getting old. Publishing never fails or slows a sync down beyond one short push.
import {stat} from 'node:fs/promises'

import type {LocalFleet} from '../fleet/local.ts'
import {readDoctorSummary} from '../heartbeat/doctor-summary.ts'
import {afterPublishing, buildHeartbeat, type Heartbeat, heartbeatDue, heartbeatRef, heartbeatRefspec} from '../heartbeat/heartbeat.ts'
import {keyRotationPhase} from '../keys/rotation-state.ts'
import {findMachine} from '../manifest/lookup.ts'
import {type Fleet, heartbeatSettings} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {heldIdentity} from './apply-failures.ts'
import type {SyncState} from './state.ts'

/** How long a heartbeat pushed on its own may take: the sync's work is done, and a heartbeat can wait for the next one. */
const PUBLISH_TIMEOUT_MS = 10_000

/** The last sync as the heartbeat tells it: when, how it came out, and why it failed (a line and a code). */
export interface HeartbeatSync {
  at: string
  outcome: string
  error?: string
  code?: string
}

/**
 * This machine's heartbeat now, with `lastSync` as the sync knows it; undefined for a machine the roster revoked,
 * which has no say in the fleet any more and publishes nothing.
 */
export async function currentHeartbeat(
  local: LocalFleet,
  state: SyncState,
  lastSync: HeartbeatSync | undefined,
  known?: Fleet,
): Promise<Heartbeat | undefined> {
  const {paths, machine} = local
  const fleet = known ?? (await readManifest(paths.sourceDir).catch(() => undefined))
  const me = fleet && findMachine(fleet, machine)
  if (me?.state === 'revoked') return undefined
  // Loaded only when a heartbeat is made: the agents' module brings the plist serializer with it.
  const {recordedAgents} = await import('../agents/install.ts')
  const [held, keyRotation, agents, doctor] = await Promise.all([
    heldIdentity(local).catch(() => ({recipient: undefined, problem: undefined})),
    keyRotationPhase(paths, me).catch(() => 'none'),
    fleet ? recordedAgents(paths, fleet.settings.agents).catch(() => []) : [],
    readDoctorSummary(paths),
  ])
  return buildHeartbeat({
    machine,
    home: paths.home,
    lastSync,
    recipient: held.recipient,
    keyRotation,
    identityProblem: held.problem?.code,
    conflicts: state.conflicts.map((c) => c.path),
    agents,
    doctor,
  })
}

/** The refspec that pushes this machine's heartbeat beside the branch (built once per sync), or undefined when it cannot be made. */
export async function heartbeatAlongside(
  local: LocalFleet,
  state: SyncState,
  lastSync: HeartbeatSync,
): Promise<{heartbeat: Heartbeat; refspec: string} | undefined> {
  try {
    const heartbeat = await currentHeartbeat(local, state, lastSync)
    return heartbeat && {heartbeat, refspec: await heartbeatRefspec(local.repo, heartbeat)}
  } catch {
    return undefined // no heartbeat this time: the sync's own push goes on
  }
}

/**
 * At the end of a sync: publish the heartbeat on its own when it is due (see heartbeatDue; refreshed every
 * `staleAfterSeconds / 4`), and keep how it came out in `state.heartbeat`. A forge that does not answer, or anything
 * else that goes wrong, leaves the heartbeat for the next sync: never an error of the sync.
 */
export async function publishHeartbeatIfDue(local: LocalFleet, state: SyncState, lastSync: HeartbeatSync): Promise<void> {
  if (lastSync.outcome === 'offline' || lastSync.outcome === 'deferred') return
  // Refused during this very sync (beside the branch): asking again at once would only be refused again.
  const refused = state.heartbeat?.refused
  if (refused && Date.parse(refused.at) >= Date.parse(lastSync.at)) return
  try {
    const fleet = await readManifest(local.paths.sourceDir)
    const refreshMs = (heartbeatSettings(fleet.settings).staleAfterSeconds * 1000) / 4
    if (await quietSincePublished(local, state, lastSync, refreshMs)) return
    const heartbeat = await currentHeartbeat(local, state, lastSync, fleet)
    if (!heartbeat || !heartbeatDue(state.heartbeat, heartbeat, refreshMs)) return
    const refspec = await heartbeatRefspec(local.repo, heartbeat)
    const updates = await local.repo.pushRefs([refspec], PUBLISH_TIMEOUT_MS)
    state.heartbeat = afterPublishing(
      state.heartbeat,
      heartbeat,
      updates.find((update) => update.ref === heartbeatRef(local.machine)),
    )
  } catch {
    // Unreachable, or not made: nothing is recorded, so the next sync tries again.
  }
}

/**
 * A quick sync changed nothing here and found the forge where it was: unless a doctor run, an agents install or a key
 * change came since the heartbeat was last published, the heartbeat would say the same, so it is not made again
 * (reading the key for its recipient costs tens of milliseconds on every quick sync) until it is due by age. An
 * uninstall of the agents shows at that refresh.
 */
async function quietSincePublished(local: LocalFleet, state: SyncState, lastSync: HeartbeatSync, refreshMs: number): Promise<boolean> {
  const record = state.heartbeat
  if (lastSync.outcome !== 'quick' || !record?.publishedAt || record.refused) return false
  const published = Date.parse(record.publishedAt)
  if (Date.parse(lastSync.at) - published >= refreshMs) return false
  const sources = [local.paths.doctorSummaryFile, local.paths.installedAgentsFile, local.paths.identityFile]
  const changed = await Promise.all(sources.map(async (file) => ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0) > published))
  return !changed.includes(true)
}
