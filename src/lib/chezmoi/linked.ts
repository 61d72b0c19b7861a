// A managed directory that is a symbolic link here (stow-style: ~/.config/nvim → ~/dotfiles/nvim) travels as the
// directory's contents: the source holds a real directory, other machines get real files, and on this machine the
// link stays and every file is read and written through it. chezmoi itself sees only a link where its source has a
// directory, and neither lists nor applies through it: these helpers say where that is so.
import {lstatSync, readdirSync, readlinkSync, realpathSync, statSync} from 'node:fs'
import {isAbsolute, join, resolve} from 'node:path'

/** A symbolic link to a directory, here. */
export function isLinkToDirectory(absolute: string): boolean {
  return lstatSync(absolute, {throwIfNoEntry: false})?.isSymbolicLink() === true && statSync(absolute, {throwIfNoEntry: false})?.isDirectory() === true
}

/** The managed paths and the directories above them (relative to $HOME) that are links to directories here. */
export function linkedDirectories(home: string, managedPaths: string[]): Set<string> {
  const linked = new Set<string>()
  for (const path of managedPaths) {
    const parts = path.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (isLinkToDirectory(join(home, prefix))) linked.add(prefix)
    }
  }
  return linked
}

/**
 * What chezmoi is asked to list for new files under a managed path: the path itself, or — where it is a link to a
 * directory, which chezmoi does not descend — what the directory holds (chezmoi looks through the link from there).
 */
export function listableRoots(home: string, path: string): string[] {
  const absolute = join(home, path)
  if (!isLinkToDirectory(absolute)) return [absolute]
  return readdirSync(absolute).map((entry) => join(absolute, entry))
}

/**
 * Symbolic links at or below a path that name an absolute target: another machine may not have it (outside $HOME)
 * or has it elsewhere (its own home directory). Relative to $HOME, with their targets.
 */
export function absoluteLinksBelow(home: string, path: string): Array<{path: string; target: string}> {
  const found: Array<{path: string; target: string}> = []
  const walk = (relative: string, top: boolean) => {
    const absolute = join(home, relative)
    const info = lstatSync(absolute, {throwIfNoEntry: false})
    if (info === undefined) return
    if (info.isSymbolicLink() && !(top && isLinkToDirectory(absolute))) {
      const target = readlinkSync(absolute)
      if (isAbsolute(target)) found.push({path: relative, target: resolve(target)})
      return
    }
    if (info.isDirectory() || top) {
      if (!statSync(absolute, {throwIfNoEntry: false})?.isDirectory()) return
      for (const entry of readdirSync(absolute)) walk(`${relative}/${entry}`, false)
    }
  }
  walk(path, true)
  return found
}

/** Where to watch a managed path: for a link to a directory, the directory itself (a watcher does not follow it). */
export function watchablePath(home: string, path: string): string {
  const absolute = join(home, path)
  return isLinkToDirectory(absolute) ? realpathSync(absolute) : absolute
}
