// The watcher: a resident process that watches every managed path recursively and syncs a moment after a save
// (a debounce that waits for quiet, with a ceiling so a file written continuously still syncs), and asks the
// forge cheaply (git ls-remote) every few seconds, syncing when it moved. Writes made by its own sync's apply
// are recognised and ignored. On SIGTERM or SIGINT it stops watching and lets a running sync finish.
// Its parts are the modules beside this one (debouncer, forge-poller, watch-set, own-writes); this one wires them.
import {errorMessage} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {forgeBranchHead, lastLookStartedProcess} from '../forge/forge.ts'
import {holdSharedConnections, releaseSharedConnections} from '../git/ssh.ts'
import type {Fleet} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {rotateIfRequested} from '../rotation/rotate.ts'
import {sync, type SyncResult} from '../sync/engine.ts'
import {Debouncer} from './debouncer.ts'
import {type BranchHeads, ForgePoller} from './forge-poller.ts'
import {OwnWrites} from './own-writes.ts'
import {WatchSet} from './watch-set.ts'

/** A running watcher (startWatcher). */
export interface WatcherHandle {
  /** Resolves once the watcher has stopped (after any running sync finished). */
  stopped: Promise<void>
  /** Stop watching and asking the forge; resolves once a running sync has finished. */
  stop(): Promise<void>
}

/** A sync's result in one line, for the watcher's log. */
export function describeResult(result: SyncResult): string {
  const parts = [`sync (${result.reason}): ${result.outcome}`]
  if (result.captured.length > 0) parts.push(`captured ${result.captured.length}`)
  if (result.pushed > 0) parts.push(`pushed ${result.pushed}`)
  if (result.received > 0) parts.push(`received ${result.received}`)
  if (result.applied.length > 0) parts.push(`applied ${result.applied.length}`)
  if (result.conflicts.length > 0) parts.push(`conflicts: ${result.conflicts.map((c) => c.path).join(', ')}`)
  if (result.error) parts.push(result.error.split('\n')[0])
  return parts.join('; ')
}

/** Start watching; resolves once the paths are watched (the first sync, `watcher-start`, is then under way). */
export async function startWatcher(local: LocalFleet, log: (line: string) => void): Promise<WatcherHandle> {
  const note = (line: string) => log(`${new Date().toISOString()} ${line}`)
  // An SSH forge is asked every few seconds: through one connection the watcher keeps open (see git/ssh.ts).
  holdSharedConnections()
  let fleet = await readManifest(local.paths.sourceDir)
  const agents = () => fleet.settings.agents
  const failed = (error: unknown) => note(`sync failed: ${errorMessage(error)}`)
  const debouncer = new Debouncer(
    async (reason) => {
      await syncAndTell(local, reason, note)
      fleet = await followManifest(local, fleet, watchSet, poller, note)
      ownWrites.syncEnded()
    },
    () => ({quietMs: agents().debounceMs, ceilingMs: agents().maxDelayMs}),
    failed,
  )
  // An event during a sync, or just after it, counts only if it is not the sync's own write (see OwnWrites).
  const changed = (path: string) => {
    if (!debouncer.stopped && !ownWrites.held(path, debouncer.running)) debouncer.event('watcher')
  }
  const ownWrites = new OwnWrites(local.paths, changed)
  const poller = new ForgePoller(
    branchHeads(local),
    () => debouncer.running || debouncer.waiting,
    (reason) => debouncer.runNow(reason),
    {note},
  )
  // Read once (and again after each sync): the forge check runs every few seconds and should spawn only git ls-remote.
  poller.follow(await local.repo.remoteUrl(), fleet.settings.branch)
  const watchSet = await WatchSet.open(
    local.paths,
    fleet.paths.map((p) => p.path),
    changed,
    note,
  )
  note(
    `watching ${watchSet.size} managed path(s); asking the forge every ${agents().remoteCheckSeconds} s while the fleet is active, every ${agents().quietCheckSeconds} s once it is quiet`,
  )
  poller.schedule(agents())
  debouncer.runNow('watcher-start').catch(failed) // whatever changed while no watcher ran
  const {promise: stopped, resolve: resolveStopped} = Promise.withResolvers<void>()
  const stop = async () => {
    if (!debouncer.stopped) await stopParts(debouncer, poller, watchSet).then(resolveStopped)
    return stopped
  }
  return {stopped, stop}
}

/** No sync starts and no forge check any more, nothing is watched; then a sync that runs is waited for. */
async function stopParts(debouncer: Debouncer, poller: ForgePoller, watchSet: WatchSet): Promise<void> {
  const finished = debouncer.stop()
  poller.stop()
  await watchSet.close()
  await finished
  await releaseSharedConnections()
}

/** The heads the forge check compares: the forge's, and the source repo's read without starting git. */
function branchHeads(local: LocalFleet): BranchHeads {
  return {
    forge: forgeBranchHead,
    here: async (branch) => local.repo.readBranchHead(branch) ?? (await local.repo.revParse('HEAD')),
    startedProcess: lastLookStartedProcess,
  }
}

/** One sync, told in one line; a sync that throws is told, and the watcher goes on. */
async function syncAndTell(local: LocalFleet, reason: string, note: (line: string) => void): Promise<void> {
  try {
    const result = await sync(local, {reason})
    note(describeResult(result))
    if (result.outcome === 'ok' || result.outcome === 'quick') await rotateKeyIfRequested(local, note)
  } catch (error) {
    note(`sync (${reason}) failed: ${errorMessage(error)}`)
  }
}

/** The fleet asked every machine to rotate its key (`fleet rotate-keys --all`): rotate this one's, step by step in the log. */
async function rotateKeyIfRequested(local: LocalFleet, note: (line: string) => void): Promise<void> {
  const report = await rotateIfRequested(local, async (steps) => {
    for (const step of steps) note(`rotate-keys: ${step.title}: ${await step.run()}`)
  })
  if (report) note(`rotate-keys: done; ${report.oldKeyRemoved ? 'the old key is removed' : `the old key is kept: ${report.oldKeyKept}`}`)
}

/** The manifest may have changed with the sync: follow its managed paths, forge address and settings. */
async function followManifest(local: LocalFleet, fleet: Fleet, watchSet: WatchSet, poller: ForgePoller, note: (line: string) => void): Promise<Fleet> {
  let next: Fleet
  try {
    next = await readManifest(local.paths.sourceDir)
  } catch (error) {
    note(`cannot read the manifest: ${errorMessage(error)}`)
    return fleet
  }
  try {
    poller.follow(await local.repo.remoteUrl(), next.settings.branch)
  } catch (error) {
    note(`cannot read the forge's address: ${errorMessage(error)}`)
  }
  watchSet.follow(next.paths.map((p) => p.path))
  if (JSON.stringify(fleet.settings.agents) !== JSON.stringify(next.settings.agents)) poller.schedule(next.settings.agents)
  return next
}
