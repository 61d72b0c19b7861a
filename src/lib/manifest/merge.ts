// A three-way merge of the manifest, for when two machines changed it at once (two add-paths, an approve beside an
// enroll): each side's additions and removals are kept, so such changes never need a person.
import type {Fleet, Machine, ManagedPath, Settings} from './schema.ts'

function byKey<T>(items: T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]))
}

/**
 * Merge keyed lists: start from theirs, then apply what mine added, changed or removed since base. An item that is
 * `permanent` on either side is never removed by the other.
 */
function mergeList<T>(base: T[], mine: T[], theirs: T[], key: (item: T) => string, prefer: (a: T, b: T) => T, permanent = (_item: T) => false): T[] {
  const baseMap = byKey(base, key)
  const mineMap = byKey(mine, key)
  const result = byKey(theirs, key)
  for (const [k, item] of mineMap) {
    const other = result.get(k)
    if (other === undefined) {
      if (!baseMap.has(k) || permanent(item)) result.set(k, item) // added by mine (or kept though theirs removed it)
    } else if (JSON.stringify(item) !== JSON.stringify(baseMap.get(k)) || (permanent(item) && !permanent(other))) {
      result.set(k, prefer(item, other)) // changed by mine (and perhaps by theirs), or permanent here only
    }
  }
  for (const k of baseMap.keys()) if (!mineMap.has(k) && !(result.has(k) && permanent(result.get(k)!))) result.delete(k) // removed by mine
  return [...result.values()]
}

/**
 * The entry to keep for a machine both sides changed: a revoked one whatever the times (a revocation is permanent:
 * no later approval, key or state on the other side undoes it), else the later change.
 */
export function preferredMachine(a: Machine, b: Machine): Machine {
  if ((a.state === 'revoked') !== (b.state === 'revoked')) return a.state === 'revoked' ? a : b
  return a.updatedAt >= b.updatedAt ? a : b
}
const minePath = (a: ManagedPath) => a

/** Each setting from the side that changed it (this machine's when both did): `--all`'s request survives another setting's change. */
function mergeSettings(base: Settings, mine: Settings, theirs: Settings): Settings {
  const merged: Record<string, unknown> = {...theirs}
  for (const key of new Set([...Object.keys(base), ...Object.keys(mine)]) as Set<keyof Settings>) {
    if (JSON.stringify(mine[key]) === JSON.stringify(base[key])) continue
    if (mine[key] === undefined) delete merged[key]
    else merged[key] = mine[key]
  }
  return merged as Settings
}

export function mergeFleets(base: Fleet, mine: Fleet, theirs: Fleet): Fleet {
  return {
    ...theirs,
    settings: mergeSettings(base.settings, mine.settings, theirs.settings),
    paths: mergeList(base.paths, mine.paths, theirs.paths, (p) => p.path, minePath),
    machines: mergeList(
      base.machines,
      mine.machines,
      theirs.machines,
      (m) => m.name,
      preferredMachine,
      (m) => m.state === 'revoked',
    ),
    plugins: mergeList(base.plugins, mine.plugins, theirs.plugins, (p) => p, minePath as unknown as (a: string) => string),
  }
}
