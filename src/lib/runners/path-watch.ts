// One watched path and everything under it, with the operating system's own notifications on directories: never
// one watch or one kept stat per file. On Linux (inotify) every directory of the tree is watched, as inotify watches
// a directory's entries anyway; on macOS and Windows one recursive watch covers the tree (FSEvents, ReadDirectoryChangesW).
// The path's parent is watched too (or, while the path does not exist, its nearest existing ancestor), so a file
// saved by renaming over it, a path created after start-up, and a directory deleted and made again are all seen.
import {type FSWatcher, watch} from 'node:fs'
import {lstat, readdir} from 'node:fs/promises'
import {basename, dirname, join, relative, sep} from 'node:path'

import {errorMessage} from '../errors/index.ts'

/** One recursive watch covers a tree here; elsewhere (Linux) each directory gets its own. */
const RECURSIVE_WATCH = process.platform === 'darwin' || process.platform === 'win32'

/** What a PathWatch tells and asks its owner. */
export interface PathWatchEvents {
  /** Something at this path (the watched path or one under it) was created, changed or removed. */
  changed(path: string): void
  /** Names neither told nor descended into (a .git directory, an editor's or chezmoi's temporary files). */
  ignored(name: string): boolean
  /** A watch that could not be set up, in a line for the log. */
  failed(line: string): void
}

interface WatchedDirectory {
  watcher: FSWatcher
  /** Which directory it is: one made again under the same name is watched anew. */
  ino: number
}

/**
 * Watches `path` (a file, a directory tree, or a path that does not exist yet) and tells every change under it.
 * Holds one watcher per directory of the tree (Linux) or one for the whole tree, and one on the path's parent.
 */
export class PathWatch {
  readonly path: string
  readonly #events: PathWatchEvents
  /** The tree's directories that are watched, by path (only the top one with a recursive watch). */
  readonly #tree = new Map<string, WatchedDirectory>()
  /** The directory watched for the path itself to appear, change, or go: its parent, or its nearest existing ancestor. */
  #anchor: {dir: string; watcher: FSWatcher} | undefined
  /** Paths in the tree whose type may have changed (a directory made or removed), looked at together. */
  readonly #toCheck = new Set<string>()
  #checkScheduled = false
  /** One look at the path at a time: events come in bursts. */
  #settling: Promise<void> = Promise.resolve()
  #closed = false

  constructor(path: string, events: PathWatchEvents) {
    this.path = path
    this.#events = events
  }

  /** Start watching; resolves once every directory of the tree is watched. */
  start(): Promise<void> {
    return this.#settle(false)
  }

  close(): void {
    this.#closed = true
    this.#closeTree(this.path)
    this.#anchor?.watcher.close()
    this.#anchor = undefined
  }

  /** Look at the path again (it appeared, went, or was replaced) and watch what is there now. */
  #settle(tellWhenThere: boolean): Promise<void> {
    this.#settling = this.#settling.then(async () => {
      if (this.#closed) return
      try {
        const stats = await lstat(this.path).catch(() => undefined)
        if (!stats?.isDirectory() || this.#tree.get(this.path)?.ino !== stats.ino) this.#closeTree(this.path)
        if (stats?.isDirectory() && !this.#tree.has(this.path)) await this.#watchTree(this.path, stats.ino)
        await this.#anchorAt(stats ? dirname(this.path) : await nearestExisting(dirname(this.path)))
        if (tellWhenThere && stats) this.#events.changed(this.path)
      } catch (error) {
        this.#events.failed(`cannot watch ${this.path}: ${errorMessage(error)}`)
      }
    })
    return this.#settling
  }

  /** Watch `dir` for the path's own changes (when it is the parent) or for the next step towards it. */
  async #anchorAt(dir: string): Promise<void> {
    if (this.#closed || this.#anchor?.dir === dir) return
    this.#anchor?.watcher.close()
    this.#anchor = undefined
    const isParent = dir === dirname(this.path)
    // The name in `dir` that leads to the path: the path's own name, or the first directory on the way to it.
    const next = isParent ? basename(this.path) : relative(dir, this.path).split(sep)[0]
    const watcher = this.#watch(dir, false, (type, name) => {
      if (name === next) {
        if (isParent) this.#events.changed(this.path)
        if (type === 'rename') void this.#settle(!isParent)
      } else if (name === basename(dir) && type === 'rename') {
        // The anchor itself may have gone (inotify names a watched directory's own events after it).
        void this.#settle(false)
      }
    })
    if (watcher) this.#anchor = {dir, watcher}
  }

  /** Watch the tree under `dir` (a directory of the path's tree whose inode is `ino`). */
  async #watchTree(dir: string, ino: number): Promise<void> {
    if (this.#closed) return
    if (RECURSIVE_WATCH) {
      const watcher = this.#watch(dir, true, (_type, name) => {
        if (name.split(/[\\/]/).some((part) => this.#events.ignored(part))) return
        this.#events.changed(join(dir, name))
      })
      if (watcher) this.#tree.set(dir, {watcher, ino})
      return
    }
    // Watched before it is read: an entry made meanwhile is both listed and told.
    const watcher = this.#watch(dir, false, (type, name) => this.#directoryEvent(dir, type, name))
    if (!watcher) return
    this.#tree.set(dir, {watcher, ino})
    const entries = await readdir(dir, {withFileTypes: true}).catch(() => [])
    for (const entry of entries) {
      if (!entry.isDirectory() || this.#events.ignored(entry.name)) continue
      const sub = join(dir, entry.name)
      const stats = await lstat(sub).catch(() => undefined)
      if (stats?.isDirectory() && !this.#tree.has(sub)) await this.#watchTree(sub, stats.ino)
    }
  }

  /** An event in one directory of the tree: told, and an entry made or removed is looked at (a new directory is watched). */
  #directoryEvent(dir: string, type: string, name: string): void {
    if (this.#events.ignored(name)) return
    const path = join(dir, name)
    this.#events.changed(path)
    if (type === 'rename') this.#check(path)
  }

  /** Look at `path` soon, with the others of the same burst. */
  #check(path: string): void {
    if (this.#closed) return
    this.#toCheck.add(path)
    if (this.#checkScheduled) return
    this.#checkScheduled = true
    setImmediate(() => void this.#checkEntries().catch((error) => this.#events.failed(`cannot watch under ${this.path}: ${errorMessage(error)}`)))
  }

  /** Each path made or removed since the last look: a directory not yet watched is watched, one gone is let go. */
  async #checkEntries(): Promise<void> {
    this.#checkScheduled = false
    const paths = [...this.#toCheck]
    this.#toCheck.clear()
    for (const path of paths) {
      if (this.#closed) return
      const stats = await lstat(path).catch(() => undefined)
      const watched = this.#tree.get(path)
      if (watched && watched.ino !== stats?.ino) this.#closeTree(path)
      // A directory watched already is not watched twice; one under a tree let go meanwhile is left alone.
      if (stats?.isDirectory() && !this.#tree.has(path) && this.#tree.has(dirname(path))) await this.#watchTree(path, stats.ino)
    }
  }

  /** A watcher that failed: let go, and what it watched looked at again. */
  #lost(dir: string, watcher: FSWatcher): void {
    watcher.close()
    if (this.#anchor?.watcher === watcher) this.#anchor = undefined
    if (this.#tree.get(dir)?.watcher === watcher) this.#closeTree(dir)
    if (dir === this.path || this.#anchor === undefined) void this.#settle(false)
    else this.#check(dir)
  }

  /** Stop watching `dir` and every directory under it. */
  #closeTree(dir: string): void {
    for (const [path, watched] of this.#tree) {
      if (path === dir || path.startsWith(dir + sep)) {
        watched.watcher.close()
        this.#tree.delete(path)
      }
    }
  }

  /** fs.watch, or undefined when `dir` cannot be watched (gone meanwhile, not readable; anything else is told). */
  #watch(dir: string, recursive: boolean, listener: (type: string, name: string) => void): FSWatcher | undefined {
    try {
      const watcher = watch(dir, {recursive, persistent: true}, (type, name) => {
        if (name !== null && !this.#closed) listener(type, name)
      })
      watcher.on('error', (error) => {
        if (!quiet(error)) this.#events.failed(`cannot watch ${dir}: ${errorMessage(error)}`)
        this.#lost(dir, watcher)
      })
      return watcher
    } catch (error) {
      if (!quiet(error)) this.#events.failed(`cannot watch ${dir}: ${describeWatchError(error)}`)
      return undefined
    }
  }
}

/** A directory gone before it was watched, or one this user may not read: not worth a line (as chokidar's ignorePermissionErrors). */
function quiet(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM'
}

function describeWatchError(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
    return 'the limit of watched directories is reached (on Linux: raise fs.inotify.max_user_watches with sysctl)'
  }
  return errorMessage(error)
}

/** The nearest directory at or above `dir` that exists (the root, at worst). */
async function nearestExisting(dir: string): Promise<string> {
  for (let at = dir; ; at = dirname(at)) {
    if ((await lstat(at).catch(() => undefined))?.isDirectory() || dirname(at) === at) return at
  }
}
