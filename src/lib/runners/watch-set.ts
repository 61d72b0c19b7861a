// What the watcher watches: every managed path, recursively, and the source repo; followed as the manifest changes.
import {watchablePath} from '../chezmoi/linked.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {PathWatch, type PathWatchEvents} from './path-watch.ts'

/**
 * The managed paths (absolute; a link to a directory as the directory it names, since links are not followed) and
 * the source repo without its .git, so that an edit made there by hand (`chezmoi edit`) travels too. Every change
 * under them is passed to `changed`, except chezmoi's temporary files while it writes. Each path is watched by
 * directory (see PathWatch): what is kept does not grow with the number of files.
 */
export class WatchSet {
  readonly #home: string
  readonly #events: PathWatchEvents
  readonly #source: PathWatch
  readonly #log: (line: string) => void
  #managed = new Map<string, PathWatch>()

  private constructor(paths: FleetPaths, changed: (path: string) => void, log: (line: string) => void) {
    this.#home = paths.home
    this.#log = log
    this.#events = {
      changed,
      // .git: the source repo's history (the sync commits there); .renameio-*: chezmoi's temporary files while it writes.
      ignored: (name) => name === '.git' || name.startsWith('.renameio-'),
      failed: (line) => log(`watch error: ${line}`),
    }
    this.#source = new PathWatch(paths.sourceDir, this.#events)
  }

  /** Watch these managed paths (relative to $HOME) and the source repo; resolves once every one is watched. */
  static async open(paths: FleetPaths, managedPaths: string[], changed: (path: string) => void, log: (line: string) => void): Promise<WatchSet> {
    const set = new WatchSet(paths, changed, log)
    await Promise.all([set.#source.start(), ...set.#follow(managedPaths).started])
    return set
  }

  /** How many managed paths are watched. */
  get size(): number {
    return this.#managed.size
  }

  /** Watch these managed paths from now on (the manifest changed), and say so when the set changed. */
  follow(managedPaths: string[]): void {
    const {started, stopped} = this.#follow(managedPaths)
    if (started.length + stopped > 0) this.#log(`watching ${this.#managed.size} managed path(s)`)
  }

  /** Start watching the paths not watched yet, and stop watching those no longer managed. */
  #follow(managedPaths: string[]): {started: Array<Promise<void>>; stopped: number} {
    const next = new Set(managedPaths.map((path) => watchablePath(this.#home, path)))
    const gone = [...this.#managed.keys()].filter((path) => !next.has(path))
    for (const path of gone) {
      this.#managed.get(path)?.close()
      this.#managed.delete(path)
    }
    const started = [...next]
      .filter((path) => !this.#managed.has(path))
      .map((path) => {
        const watch = new PathWatch(path, this.#events)
        this.#managed.set(path, watch)
        return watch.start()
      })
    return {started, stopped: gone.length}
  }

  close(): Promise<void> {
    this.#source.close()
    for (const watch of this.#managed.values()) watch.close()
    return Promise.resolve()
  }
}
