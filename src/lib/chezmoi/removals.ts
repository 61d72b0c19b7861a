// chezmoi's bookkeeping of deletions in the source state: a `remove_` marker beside a file's entry, and lines of
// `.chezmoiremove` (globs, relative to $HOME) for directories, which have no marker. Kept consistent here: a
// target that exists again must not also be listed as removed, or chezmoi refuses the whole source.
import {existsSync} from 'node:fs'
import {readFile, rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {isWithin} from '../platform/paths.ts'
import type {Chezmoi} from './chezmoi.ts'
import {decodeSourcePath, escapeGlob, removeMarkerName} from './source-names.ts'

const CHEZMOIREMOVE = '.chezmoiremove'

/** List directories (relative to $HOME) in .chezmoiremove, so that every other machine removes them too. */
export async function addRemovals(sourceDir: string, dirs: string[]): Promise<void> {
  await editChezmoiRemove(sourceDir, (lines) => [...lines, ...dirs.map(escapeGlob).filter((l) => !lines.includes(l))])
}

/**
 * A .chezmoiremove line for a path the source manages again (another machine created a file in a directory this
 * one deleted, at the same time) contradicts it, and chezmoi would refuse the whole source: the line goes, and
 * what exists is kept. Returns whether the file changed.
 */
export async function dropContradictedRemovals(sourceDir: string, sourceFiles: string[]): Promise<boolean> {
  const targets = sourceFiles.filter((file) => !file.startsWith('.') && !basename(file).startsWith('remove_')).map((file) => decodeSourcePath(file))
  let changed = false
  await editChezmoiRemove(sourceDir, (lines) => {
    const kept = lines.filter((line) => {
      const path = line.replace(/\\(.)/g, '$1')
      return !targets.some((target) => isWithin(target, path))
    })
    changed = kept.length !== lines.length
    return kept
  })
  return changed
}

async function editChezmoiRemove(sourceDir: string, edit: (lines: string[]) => string[]): Promise<void> {
  const file = join(sourceDir, CHEZMOIREMOVE)
  const lines = existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : []
  const next = edit(lines)
  if (next.join('\n') === lines.join('\n')) return
  if (next.length === 0) await rm(file, {force: true})
  else await writeFile(file, `${next.join('\n')}\n`)
}

/**
 * A target that comes back after it was deleted: drop the `remove_` entry beside it and any .chezmoiremove line
 * for it or a directory above it, which would otherwise contradict the new entry.
 */
export async function clearRemovals(chezmoi: Chezmoi, home: string, sourceDir: string, targets: string[]): Promise<void> {
  const parents = [...new Set(targets.map((t) => dirname(t)).filter((d) => d !== '.'))]
  const parentSources = await chezmoi.sourcePaths(parents.map((p) => join(home, p))).catch(() => [] as string[])
  const sourceOf = new Map(parents.map((p, i) => [p, parentSources[i]]))
  for (const target of targets) {
    const parentSource = dirname(target) === '.' ? sourceDir : sourceOf.get(dirname(target))
    if (parentSource) await rm(join(parentSource, removeMarkerName(basename(target))), {force: true})
  }
  const patterns = new Set(targets.flatMap((t) => t.split('/').map((_, i, parts) => escapeGlob(parts.slice(0, i + 1).join('/')))))
  await editChezmoiRemove(sourceDir, (lines) => lines.filter((line) => !patterns.has(line)))
}
