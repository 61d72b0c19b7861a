// The watcher: a resident process that watches every managed path recursively and syncs a moment after a save
// (a debounce that waits for quiet, with a ceiling so a file written continuously still syncs), and asks the
// forge cheaply (git ls-remote) every few seconds, syncing when it moved. Writes made by its own sync's apply
// are recognised and ignored. On SIGTERM or SIGINT it stops watching and lets a running sync finish.
import {lstatSync} from 'node:fs'
import {basename, join} from 'node:path'

import {watch, type FSWatcher} from 'chokidar'

import {errorMessage} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {forgeBranchHead} from '../forge/forge.ts'
import {watchablePath} from '../managed/linked.ts'
import type {AgentSettings} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {homeRelative} from '../platform/paths.ts'
import {sync, type SyncResult} from '../sync/engine.ts'
import {readSyncState} from '../sync/state.ts'

/** Events this soon after a sync are checked against what the sync left, like those during it. */
const OWN_WRITES_SETTLE_MS = 300

export interface WatcherHandle {
  /** Resolves once the watcher has stopped (after any running sync finished). */
  stopped: Promise<void>
  stop(): Promise<void>
}

function signature(path: string): string {
  try {
    const info = lstatSync(path)
    return info.isDirectory() ? `dir:${info.mode}` : `${info.size}:${info.mtimeMs}:${info.mode}`
  } catch {
    return 'absent'
  }
}

export function describeResult(result: SyncResult): string {
  const parts = [`sync (${result.reason}): ${result.outcome}`]
  if (result.captured.length > 0) parts.push(`captured ${result.captured.length}`)
  if (result.pushed > 0) parts.push(`pushed ${result.pushed}`)
  if (result.received > 0) parts.push(`received ${result.received}`)
  if (result.applied.length > 0) parts.push(`applied ${result.applied.length}`)
  if (result.conflicts.length > 0) parts.push(`conflicts: ${result.conflicts.map((c) => c.path).join(', ')}`)
  if (result.error) parts.push(result.error.split('\n')[0])
  return `${new Date().toISOString()} ${parts.join('; ')}`
}

export async function startWatcher(local: LocalFleet, log: (line: string) => void): Promise<WatcherHandle> {
  let fleet = await readManifest(local.paths.sourceDir)
  let settings: AgentSettings = fleet.settings.agents
  let watched = new Set(fleet.paths.map((p) => watchablePath(local.paths.home, p.path)))
  // Read once (and again after each sync): the forge check runs every few seconds and should spawn only git ls-remote.
  let forgeUrl = (await local.repo.remoteUrl()) ?? 'origin'
  let syncEndedAt = 0
  let stopping = false
  let syncing: Promise<void> | undefined
  let again: string | undefined
  let quietTimer: NodeJS.Timeout | undefined
  let ceilingTimer: NodeJS.Timeout | undefined
  const seenDuringSync = new Set<string>()

  const clearTimers = () => {
    clearTimeout(quietTimer)
    clearTimeout(ceilingTimer)
    quietTimer = undefined
    ceilingTimer = undefined
  }

  const runSync = async (reason: string): Promise<void> => {
    if (stopping) return
    if (syncing) {
      again ??= reason
      return
    }
    syncing = (async () => {
      try {
        log(describeResult(await sync(local, {reason})))
      } catch (error) {
        log(`${new Date().toISOString()} sync (${reason}) failed: ${errorMessage(error)}`)
      }
      await reload()
    })()
    await syncing
    syncing = undefined
    syncEndedAt = Date.now()
    // The sync's own writes may still be arriving (chokidar holds some back briefly): check those a moment later.
    setTimeout(() => void recheckSeenDuringSync(), OWN_WRITES_SETTLE_MS)
    if (again !== undefined && !stopping) {
      const next = again
      again = undefined
      await runSync(next)
    }
  }

  const fire = () => {
    clearTimers()
    void runSync('watcher')
  }

  const inSource = (path: string) => path === local.paths.sourceDir || path.startsWith(`${local.paths.sourceDir}/`)

  const onEvent = (path: string) => {
    if (stopping || basename(path).startsWith('.renameio-')) return // chezmoi's temporary files while it writes
    if (syncing || Date.now() - syncEndedAt < OWN_WRITES_SETTLE_MS) {
      // The sync writes the source repo itself; a target written meanwhile is checked once it is done.
      if (!inSource(path)) seenDuringSync.add(path)
      return
    }
    clearTimeout(quietTimer)
    quietTimer = setTimeout(fire, settings.debounceMs)
    ceilingTimer ??= setTimeout(fire, settings.maxDelayMs)
  }

  /** Events that arrived while our own sync ran: ignore those that match what the sync left on disk. */
  const recheckSeenDuringSync = async () => {
    if (seenDuringSync.size === 0) return
    const snapshot = (await readSyncState(local.paths)).snapshot ?? {}
    const paths = [...seenDuringSync]
    seenDuringSync.clear()
    for (const path of paths) {
      const relative = homeRelative(local.paths, path)
      if (relative === undefined || snapshot[relative] !== signature(path)) onEvent(path)
    }
  }

  /** The manifest may have changed with the sync: follow its managed paths and settings. */
  const reload = async () => {
    try {
      fleet = await readManifest(local.paths.sourceDir)
    } catch (error) {
      log(`${new Date().toISOString()} cannot read the manifest: ${errorMessage(error)}`)
      return
    }
    forgeUrl = (await local.repo.remoteUrl()) ?? forgeUrl
    const next = new Set(fleet.paths.map((p) => watchablePath(local.paths.home, p.path)))
    const added = [...next].filter((p) => !watched.has(p))
    const removed = [...watched].filter((p) => !next.has(p))
    if (added.length > 0) watcher.add(added)
    if (removed.length > 0) watcher.unwatch(removed)
    if (added.length + removed.length > 0) log(`${new Date().toISOString()} watching ${next.size} managed path(s)`)
    watched = next
    if (JSON.stringify(settings) !== JSON.stringify(fleet.settings.agents)) {
      settings = fleet.settings.agents
      clearInterval(remoteTimer)
      remoteTimer = setInterval(checkForge, settings.remoteCheckSeconds * 1000)
    }
  }

  /** One cheap round trip: has the forge's branch moved from where the last sync left it? */
  const checkForge = async () => {
    if (stopping || syncing || quietTimer) return
    try {
      // After a sync this machine's branch is where the forge's was; a forge elsewhere means there is work.
      const branch = fleet.settings.branch
      const remote = await forgeBranchHead(forgeUrl, branch)
      const here = local.repo.readBranchHead(branch) ?? (await local.repo.revParse('HEAD'))
      if (remote !== undefined && remote !== here) await runSync('watcher-forge')
    } catch {
      // The forge is down: the next check, or the puller, tries again.
    }
  }

  // The source repo is watched as well (not its .git), so an edit made there by hand (`chezmoi edit`) travels too.
  const watcher: FSWatcher = watch([...watched, local.paths.sourceDir], {
    ignoreInitial: true,
    followSymlinks: false,
    ignorePermissionErrors: true,
    atomic: true,
    ignored: (path: string) => path.includes('/.git/') || path.endsWith('/.git'),
  })
  watcher.on('all', (_event, path) => onEvent(path))
  watcher.on('error', (error) => log(`${new Date().toISOString()} watch error: ${errorMessage(error)}`))
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()))
  log(`${new Date().toISOString()} watching ${watched.size} managed path(s); asking the forge every ${settings.remoteCheckSeconds} s`)
  let remoteTimer = setInterval(checkForge, settings.remoteCheckSeconds * 1000)
  // Whatever changed while no watcher ran.
  void runSync('watcher-start')

  const {promise: stopped, resolve: resolveStopped} = Promise.withResolvers<void>()
  return {
    stopped,
    async stop() {
      if (stopping) return stopped
      stopping = true
      clearTimers()
      clearInterval(remoteTimer)
      await watcher.close()
      await syncing
      resolveStopped()
      return stopped
    },
  }
}
