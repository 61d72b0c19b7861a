// What the watcher watches: every managed path, recursively, and the source repo; followed as the manifest changes.
import {basename} from 'node:path'

import {watch, type FSWatcher} from 'chokidar'

import {errorMessage} from '../errors/index.ts'
import {watchablePath} from '../chezmoi/linked.ts'
import type {FleetPaths} from '../platform/paths.ts'

/**
 * The managed paths (absolute; a link to a directory as the directory it names, since chokidar does not follow
 * links) and the source repo without its .git, so that an edit made there by hand (`chezmoi edit`) travels too.
 * Every change under them is passed to `changed`, except chezmoi's temporary files while it writes.
 */
export class WatchSet {
  readonly #home: string
  readonly #watcher: FSWatcher
  readonly #log: (line: string) => void
  #managed: Set<string>

  private constructor(home: string, managed: Set<string>, watcher: FSWatcher, log: (line: string) => void) {
    this.#home = home
    this.#managed = managed
    this.#watcher = watcher
    this.#log = log
  }

  /** Watch these managed paths (relative to $HOME) and the source repo; resolves once chokidar is ready. */
  static async open(paths: FleetPaths, managedPaths: string[], changed: (path: string) => void, log: (line: string) => void): Promise<WatchSet> {
    const managed = new Set(managedPaths.map((path) => watchablePath(paths.home, path)))
    const watcher = watch([...managed, paths.sourceDir], {
      ignoreInitial: true,
      followSymlinks: false,
      ignorePermissionErrors: true,
      atomic: true,
      ignored: (path: string) => path.includes('/.git/') || path.endsWith('/.git'),
    })
    watcher.on('all', (_event, path) => {
      if (!basename(path).startsWith('.renameio-')) changed(path) // chezmoi's temporary files while it writes
    })
    watcher.on('error', (error) => log(`watch error: ${errorMessage(error)}`))
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()))
    return new WatchSet(paths.home, managed, watcher, log)
  }

  /** How many managed paths are watched. */
  get size(): number {
    return this.#managed.size
  }

  /** Watch these managed paths from now on (the manifest changed), and say so when the set changed. */
  follow(managedPaths: string[]): void {
    const next = new Set(managedPaths.map((path) => watchablePath(this.#home, path)))
    const added = [...next].filter((path) => !this.#managed.has(path))
    const removed = [...this.#managed].filter((path) => !next.has(path))
    if (added.length > 0) this.#watcher.add(added)
    if (removed.length > 0) this.#watcher.unwatch(removed)
    if (added.length + removed.length > 0) this.#log(`watching ${next.size} managed path(s)`)
    this.#managed = next
  }

  close(): Promise<void> {
    return this.#watcher.close()
  }
}
