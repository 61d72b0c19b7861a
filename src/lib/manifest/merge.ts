// A three-way merge of the manifest, for when two machines changed it at once (two add-paths, an approve beside an
// enroll): each side's additions and removals are kept, so such changes never need a person.
import type {Fleet, Machine, ManagedPath} from './schema.ts'

function byKey<T>(items: T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]))
}

/** Merge keyed lists: start from theirs, then apply what mine added, changed or removed since base. */
function mergeList<T>(base: T[], mine: T[], theirs: T[], key: (item: T) => string, prefer: (a: T, b: T) => T): T[] {
  const baseMap = byKey(base, key)
  const mineMap = byKey(mine, key)
  const result = byKey(theirs, key)
  for (const [k, item] of mineMap) {
    const other = result.get(k)
    if (other === undefined) {
      if (!baseMap.has(k)) result.set(k, item) // added by mine
    } else if (JSON.stringify(item) !== JSON.stringify(baseMap.get(k))) {
      result.set(k, prefer(item, other)) // changed by mine (and perhaps by theirs)
    }
  }
  for (const k of baseMap.keys()) if (!mineMap.has(k)) result.delete(k) // removed by mine
  return [...result.values()]
}

const laterMachine = (a: Machine, b: Machine) => (a.updatedAt >= b.updatedAt ? a : b)
const minePath = (a: ManagedPath) => a

export function mergeFleets(base: Fleet, mine: Fleet, theirs: Fleet): Fleet {
  return {
    ...theirs,
    settings: JSON.stringify(mine.settings) !== JSON.stringify(base.settings) ? mine.settings : theirs.settings,
    paths: mergeList(base.paths, mine.paths, theirs.paths, (p) => p.path, minePath),
    machines: mergeList(base.machines, mine.machines, theirs.machines, (m) => m.name, laterMachine),
    plugins: mergeList(base.plugins, mine.plugins, theirs.plugins, (p) => p, minePath as unknown as (a: string) => string),
  }
}
