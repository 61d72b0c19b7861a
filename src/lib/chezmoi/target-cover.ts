// chezmoi matches each target named on its command line against the whole source state, so a command given N
// targets in a tree of N entries does N × N work: `chezmoi apply` or `status` with 5,000 files named takes 25–40 s
// where the same command on their directory takes 0.3–5 s. So fleet names the fewest targets that mean the same: a
// managed directory stands for everything in it whenever nothing in it must be left out.
import {dirname, join, relative} from 'node:path'

import type {Chezmoi, ChezmoiStatusEntry, TargetFailure} from './chezmoi.ts'
import type {ManagedEntry} from './entry-types.ts'

/** The targets for one command, absolute (see coverTargets). */
export interface TargetCover {
  /** Directories that stand for themselves and everything managed below them: given recursively. */
  recursive: string[]
  /** Wanted targets named one by one, each for itself alone (`--recursive=false` for a directory). */
  named: string[]
  /** Wanted directories that hold something blocked: given alone, never recursively. */
  alone: string[]
}

/**
 * The fewest targets that cover `wanted` (relative to `home`) and nothing in `blocked`: each wanted target is
 * replaced by its highest managed ancestor directory that holds nothing blocked (or by itself when none does), unless
 * the wanted ones in it are few for its size: then they are named one by one (`named`, see NAMED_PER_ENTRY_READ);
 * a wanted directory that holds something blocked (or is blocked itself) is given `alone`. Entries under a chosen directory that
 * are neither wanted nor blocked come along: they must be ones the command leaves as they are (for `apply`, those
 * already in their source state; for `status`, any, when the caller keeps only the wanted ones of the answer).
 * `entries` is every managed entry (managedEntries). Work: O((entries + wanted + blocked) × depth).
 */
export function coverTargets(home: string, entries: ReadonlyMap<string, ManagedEntry>, wanted: Iterable<string>, blocked: Iterable<string> = []): TargetCover {
  const blockedPaths = new Set(blocked)
  // Every blocked path and every directory that holds one.
  const holdsBlocked = new Set<string>()
  for (const path of blockedPaths) for (let p = path; p !== '.' && p !== '' && !holdsBlocked.has(p); p = dirname(p)) holdsBlocked.add(p)
  const alone = new Set<string>()
  const byTop = new Map<string, string[]>()
  for (const path of wanted) {
    if (holdsBlocked.has(path)) {
      alone.add(path)
      continue
    }
    let top = path
    for (let parent = dirname(top); parent !== '.' && parent !== ''; parent = dirname(parent)) {
      if (entries.get(parent)?.type !== 'dir' || holdsBlocked.has(parent)) break
      top = parent
    }
    const group = byTop.get(top)
    if (group) group.push(path)
    else byTop.set(top, [path])
  }
  // A few targets in a big directory cost chezmoi less named one by one than the directory read whole.
  const size = entriesUnder(entries, byTop)
  const recursive: string[] = []
  const named = new Set<string>()
  for (const [top, paths] of byTop) {
    if (paths.length * entries.size <= NAMED_PER_ENTRY_READ * (size.get(top) ?? 1)) for (const path of paths) named.add(path)
    else recursive.push(top)
  }
  const absolute = (paths: Iterable<string>) => [...paths].map((path) => join(home, path))
  return {recursive: absolute(recursive), named: absolute(named), alone: absolute(alone)}
}

/**
 * chezmoi's status of what a cover stands for: one start when nothing named is a directory, two otherwise (the
 * named and alone ones without recursion). The answer may hold entries beside the wanted ones: the caller keeps
 * those it asked about.
 */
export async function statusOfCover(
  chezmoi: Chezmoi,
  entries: ReadonlyMap<string, ManagedEntry>,
  home: string,
  cover: TargetCover,
): Promise<{entries: ChezmoiStatusEntry[]; failed: TargetFailure[]}> {
  const isDir = (target: string) => entries.get(relative(home, target))?.type === 'dir'
  const single = [...cover.named, ...cover.alone]
  const together = single.some(isDir) ? cover.recursive : [...cover.recursive, ...single]
  const apart = together === cover.recursive ? single : []
  const answers = await Promise.all([
    together.length > 0 ? chezmoi.statusWithFailures(together) : {entries: [], failed: []},
    apart.length > 0 ? chezmoi.statusWithFailures(apart, {recursive: false}) : {entries: [], failed: []},
  ])
  return {entries: answers.flatMap((a) => a.entries), failed: answers.flatMap((a) => a.failed)}
}

/**
 * How many named targets cost chezmoi what reading one entry of a directory does: measured with chezmoi 2.73 at
 * 5,000 entries, a named target costs ~1 µs per entry of the source state, a directory ~100 µs per entry in it;
 * half of that, to stay on the safe side.
 */
const NAMED_PER_ENTRY_READ = 50

/** The number of entries at or under each of `dirs`. */
function entriesUnder(entries: ReadonlyMap<string, ManagedEntry>, dirs: ReadonlyMap<string, unknown>): Map<string, number> {
  const size = new Map<string, number>()
  for (const path of entries.keys()) for (let p = path; p !== '.' && p !== ''; p = dirname(p)) if (dirs.has(p)) size.set(p, (size.get(p) ?? 0) + 1)
  return size
}
