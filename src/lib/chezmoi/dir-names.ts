// chezmoi add writes a directory named `external_x` or `remove_x` as it is, then reads that source name as the target
// `x` with the external_ or remove_ attribute: the directory's files would land in ~/…/x on every machine (over a
// person's own x), and never where they came from. Each such directory chezmoi has just written is renamed
// `literal_…`, which chezmoi reads as the name it has.
import {type Dirent, existsSync, readdirSync} from 'node:fs'
import {mkdir, readdir, rename, rmdir} from 'node:fs/promises'
import {basename, dirname, join, relative, sep} from 'node:path'

/** Directory names chezmoi add writes without `literal_` and reads back as attributes. */
const MISREAD_DIR = /^(external|remove)_/

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, {withFileTypes: true})
  } catch {
    return []
  }
}

/** Whether a target below home has a directory with such a name: on its way there, itself, or below it. */
export function hasMisreadDirName(home: string, absolutePath: string): boolean {
  const walk = (dir: string): boolean => entries(dir).some((entry) => entry.isDirectory() && (MISREAD_DIR.test(entry.name) || walk(join(dir, entry.name))))
  return (
    relative(home, absolutePath)
      .split(sep)
      .some((name) => MISREAD_DIR.test(name)) || walk(absolutePath)
  )
}

/** Source directories with such a name (chezmoi's own files and .git left out), deepest first. */
export function misreadSourceDirs(sourceDir: string): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const entry of entries(dir)) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const path = join(dir, entry.name)
      walk(path)
      if (MISREAD_DIR.test(entry.name)) found.push(path)
    }
  }
  walk(sourceDir)
  return found
}

/** Move a directory's contents into another that exists, one entry at a time (a directory's into its twin). */
async function moveInto(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, {withFileTypes: true})) {
    const destination = join(to, entry.name)
    if (entry.isDirectory() && existsSync(destination)) await moveInto(join(from, entry.name), destination)
    else await rename(join(from, entry.name), destination)
  }
  await rmdir(from)
}

/** Renames `literal_…` the directories of that kind that are not in `before` (those the add just wrote). */
export async function literalizeMisreadDirs(before: Set<string>, sourceDir: string): Promise<void> {
  for (const dir of misreadSourceDirs(sourceDir).filter((d) => !before.has(d))) {
    const destination = join(dirname(dir), `literal_${basename(dir)}`)
    if (existsSync(destination)) await moveInto(dir, destination)
    else {
      await mkdir(dirname(destination), {recursive: true})
      await rename(dir, destination)
    }
  }
}
