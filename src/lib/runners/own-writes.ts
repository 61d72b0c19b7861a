// The watcher's own writes: its sync's apply writes managed files, and those events must not start another sync.
import {lstatSync} from 'node:fs'

import {type FleetPaths, homeRelative, isWithin} from '../platform/paths.ts'
import {entrySignature} from '../sync/snapshot.ts'
import {readSyncState} from '../sync/state.ts'

/** Events this soon after a sync (milliseconds) are checked against what the sync left, like those during it. */
export const OWN_WRITES_SETTLE_MS = 300

/** A path as the sync's snapshot records it (see sync/snapshot.ts). */
function signature(path: string): string {
  try {
    return entrySignature(lstatSync(path))
  } catch {
    return 'absent'
  }
}

/**
 * Holds the events that come while a sync runs, or within OWN_WRITES_SETTLE_MS after it ended (the system may tell
 * some a moment late). Once the sync has settled, each held path is compared with what the sync left on disk (its
 * snapshot), and only those that differ — edited meanwhile — go on to `changed`. Events in the source repo during a
 * sync are the sync's own (it commits there), and are dropped.
 */
export class OwnWrites {
  readonly #paths: FleetPaths
  readonly #changed: (path: string) => void
  readonly #held = new Set<string>()
  #syncEndedAt = 0

  constructor(paths: FleetPaths, changed: (path: string) => void) {
    this.#paths = paths
    this.#changed = changed
  }

  /** True when the event is held (a sync runs, or just ended), not to be acted on now. */
  held(path: string, syncing: boolean): boolean {
    if (!syncing && Date.now() - this.#syncEndedAt >= OWN_WRITES_SETTLE_MS) return false
    const {sourceDir} = this.#paths
    if (!isWithin(path, sourceDir)) this.#held.add(path)
    return true
  }

  /** A sync ended: its writes still arriving are held for a moment, then everything held is checked. */
  syncEnded(): void {
    this.#syncEndedAt = Date.now()
    setTimeout(() => void this.#recheck(), OWN_WRITES_SETTLE_MS)
  }

  async #recheck(): Promise<void> {
    if (this.#held.size === 0) return
    const snapshot = (await readSyncState(this.#paths)).snapshot ?? {}
    const paths = [...this.#held]
    this.#held.clear()
    for (const path of paths) {
      const relative = homeRelative(this.#paths, path)
      if (relative === undefined || snapshot[relative] !== signature(path)) this.#changed(path)
    }
  }
}
