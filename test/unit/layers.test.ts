// The folders of src/ depend on each other one way, lowest first (see "Where things live" in the README):
// a folder may import from its own layer or a lower one, never from a higher one, and no folders import each
// other in a circle, even within a layer.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** Layers, lowest first. Each name is a folder of src/lib, or `commands`, `hooks`, `index` (src/index.ts). */
const LAYERS: string[][] = [
  ['errors'],
  ['process'],
  ['platform'],
  ['git', 'chezmoi', 'forge', 'lock'],
  ['manifest', 'keys', 'secrets', 'heartbeat'],
  ['fleet', 'backups', 'sync', 'managed', 'machines', 'agents', 'status', 'enroll', 'plugins', 'secrets-file'],
  ['rotation'],
  ['doctor'],
  ['runners'],
  ['cli'],
  ['commands', 'hooks', 'index'],
]

interface Edge {
  from: string
  to: string
  file: string
  specifier: string
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** The folder a file of src/ belongs to. */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split('/')
  if (parts[0] === 'lib') return parts[1]
  if (parts.length === 1) return parts[0].replace(/\.ts$/, '')
  return parts[0]
}

/** Every import (static, dynamic, type-only, re-export) from one folder of src/ into another. */
function folderEdges(): Edge[] {
  const edges: Edge[] = []
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      const target = resolve(dirname(file), match[1])
      if (!target.startsWith(SRC)) continue
      const from = folderOf(file)
      const to = folderOf(target)
      if (from !== to) edges.push({from, to, file: relative(SRC, file), specifier: match[1]})
    }
  }
  return edges
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder))
}

/** The folder cycles: each a list of folders where each imports the next and the last imports the first. */
function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, Set<string>>()
  for (const {from, to} of edges) next.set(from, (next.get(from) ?? new Set()).add(to))
  const found = new Map<string, string[]>()
  const walk = (start: string, node: string, path: string[]) => {
    for (const to of next.get(node) ?? []) {
      if (to === start) {
        const key = [...path].sort().join(' ')
        if (!found.has(key)) found.set(key, path)
      } else if (!path.includes(to) && to > start) walk(start, to, [...path, to])
    }
  }
  for (const start of next.keys()) walk(start, start, [start])
  return [...found.values()]
}

describe('layers of src/', () => {
  const edges = folderEdges()

  it('puts every folder of src/ in a layer, and lists no folder that is gone', () => {
    const folders = new Set(sourceFiles(SRC).map(folderOf))
    const unplaced = [...folders].filter((folder) => layerOf(folder) === -1)
    assert.deepEqual(
      LAYERS.flat().filter((folder) => !folders.has(folder)),
      [],
      'remove each folder that no longer exists from LAYERS in test/unit/layers.test.ts',
    )
    assert.deepEqual(unplaced, [], 'add each new folder to LAYERS in test/unit/layers.test.ts, where its imports put it')
  })

  it('imports only from the same layer or a lower one', () => {
    const upward = edges.filter((e) => layerOf(e.to) > layerOf(e.from)).map((e) => `${e.file} imports ${e.specifier} (${e.from} → ${e.to}, a higher layer)`)
    assert.deepEqual(upward, [], 'move the code to the layer it belongs to, or pass what it needs in from above')
  })

  it('has no folders importing each other in a circle', () => {
    // An import into a higher layer is reported above; the circles it closes would only repeat it.
    const level = edges.filter((e) => layerOf(e.to) <= layerOf(e.from))
    const described = cycles(level).map((cycle) => {
      const hops = cycle.map((from, i) => {
        const to = cycle[(i + 1) % cycle.length]
        return `${from} → ${to} (${level.find((e) => e.from === from && e.to === to)!.file})`
      })
      return hops.join(', ')
    })
    assert.deepEqual(described, [], 'break each circle: move the shared code down a layer, or invert the call')
  })

  it('finds an import against the order, so the checks above can fail', () => {
    // A self-check of the reader: the commands import services, which sit lower.
    assert.ok(edges.some((e) => e.from === 'commands' && layerOf(e.to) < layerOf('commands')))
    assert.equal(
      cycles([
        {from: 'a', to: 'b', file: 'a.ts', specifier: ''},
        {from: 'b', to: 'a', file: 'b.ts', specifier: ''},
      ]).length,
      1,
    )
  })
})
