// The watcher: a resident process that watches every managed path recursively and syncs a moment after a save
// (a debounce that waits for quiet, with a ceiling so a file written continuously still syncs), and asks the
// forge cheaply (git ls-remote) every few seconds, syncing when it moved. Writes made by its own sync's apply
// are recognised and ignored. On SIGTERM or SIGINT it stops watching and lets a running sync finish.
// It stays small: each sync runs in a process of its own (see step-process.ts and watcher-step.ts), so this one
// never loads the sync engine and keeps nothing per file. Its parts are the modules beside this one (debouncer,
// forge-poller, watch-set, own-writes, step-process); this one wires them.
import {errorMessage} from '../errors/index.ts'
import {forgeBranchHead, lastLookStartedProcess} from '../forge/forge.ts'
import {GitRepo} from '../git/git.ts'
import {holdSharedConnections, releaseSharedConnections} from '../git/ssh.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {Debouncer} from './debouncer.ts'
import {type BranchHeads, ForgePoller} from './forge-poller.ts'
import {OwnWrites} from './own-writes.ts'
import type {WatcherSteps} from './step-process.ts'
import {WatchSet} from './watch-set.ts'
import type {WatchPlan} from './watcher-step.ts'

/** A running watcher (startWatcher). */
export interface WatcherHandle {
  /** Resolves once the watcher has stopped (after any running sync finished). */
  stopped: Promise<void>
  /** Stop watching and asking the forge; resolves once a running sync has finished. */
  stop(): Promise<void>
}

/**
 * Start watching what `steps.plan()` says; resolves once the paths are watched (the first sync, `watcher-start`, is
 * then under way). A machine that is not enrolled fails here, with fleet's message.
 */
export async function startWatcher(paths: FleetPaths, steps: WatcherSteps, log: (line: string) => void): Promise<WatcherHandle> {
  const note = (line: string) => log(`${new Date().toISOString()} ${line}`)
  // An SSH forge is asked every few seconds: through one connection the watcher keeps open (see git/ssh.ts).
  holdSharedConnections()
  let plan = await steps.plan()
  const failed = (error: unknown) => note(`sync failed: ${errorMessage(error)}`)
  const debouncer = new Debouncer(
    async (reason) => {
      const report = await steps.sync(reason)
      for (const line of report.lines) note(line)
      if (report.plan) plan = followPlan(plan, report.plan, watchSet, poller)
      ownWrites.syncEnded()
    },
    () => ({quietMs: plan.agents.debounceMs, ceilingMs: plan.agents.maxDelayMs}),
    failed,
  )
  // An event during a sync, or just after it, counts only if it is not the sync's own write (see OwnWrites).
  const changed = (path: string) => {
    if (!debouncer.stopped && !ownWrites.held(path, debouncer.running)) debouncer.event('watcher')
  }
  const ownWrites = new OwnWrites(paths, changed)
  const poller = new ForgePoller(
    branchHeads(new GitRepo(paths.sourceDir)),
    () => debouncer.running || debouncer.waiting,
    (reason) => debouncer.runNow(reason),
    {note},
  )
  poller.follow(plan.remoteUrl, plan.branch)
  const watchSet = await WatchSet.open(paths, plan.managedPaths, changed, note)
  note(
    `watching ${watchSet.size} managed path(s); asking the forge every ${plan.agents.remoteCheckSeconds} s while the fleet is active, every ${plan.agents.quietCheckSeconds} s once it is quiet`,
  )
  poller.schedule(plan.agents)
  debouncer.runNow('watcher-start').catch(failed) // whatever changed while no watcher ran
  const {promise: stopped, resolve: resolveStopped} = Promise.withResolvers<void>()
  const stop = async () => {
    if (!debouncer.stopped) await stopParts(debouncer, poller, watchSet, steps).then(resolveStopped)
    return stopped
  }
  return {stopped, stop}
}

/** No sync starts and no forge check any more, nothing is watched; then a sync that runs is waited for. */
async function stopParts(debouncer: Debouncer, poller: ForgePoller, watchSet: WatchSet, steps: WatcherSteps): Promise<void> {
  const finished = debouncer.stop()
  poller.stop()
  steps.stop()
  await watchSet.close()
  await finished
  await releaseSharedConnections()
}

/** The heads the forge check compares: the forge's, and the source repo's read without starting git. */
function branchHeads(repo: GitRepo): BranchHeads {
  return {
    forge: forgeBranchHead,
    here: async (branch) => repo.readBranchHead(branch) ?? (await repo.revParse('HEAD')),
    startedProcess: lastLookStartedProcess,
  }
}

/** The sync may have changed the manifest: follow its managed paths, forge address and settings. */
function followPlan(plan: WatchPlan, next: WatchPlan, watchSet: WatchSet, poller: ForgePoller): WatchPlan {
  poller.follow(next.remoteUrl, next.branch)
  watchSet.follow(next.managedPaths)
  if (JSON.stringify(plan.agents) !== JSON.stringify(next.agents)) poller.schedule(next.agents)
  return next
}
