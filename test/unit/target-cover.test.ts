import assert from 'node:assert/strict'

import {statusTargetsOutside, type ManagedEntry} from '../../src/lib/chezmoi/entry-types.ts'
import {coverTargets} from '../../src/lib/chezmoi/target-cover.ts'

const HOME = '/home/me'

/** A managed tree like ~/.big with `dirs` subdirectories of `files` files each, and ~/.bashrc beside it. */
function tree(dirs: number, files: number): Map<string, ManagedEntry> {
  const entries = new Map<string, ManagedEntry>([
    ['.bashrc', {type: 'file', source: '/src/dot_bashrc'}],
    ['.big', {type: 'dir', source: '/src/dot_big'}],
  ])
  for (let d = 0; d < dirs; d++) {
    entries.set(`.big/d${d}`, {type: 'dir', source: `/src/dot_big/d${d}`})
    for (let f = 0; f < files; f++) entries.set(`.big/d${d}/f${f}.json`, {type: 'file', source: `/src/dot_big/d${d}/f${f}.json`})
  }
  return entries
}

const files = (entries: Map<string, ManagedEntry>) => [...entries].filter(([, e]) => e.type === 'file').map(([path]) => path)

describe('the fewest targets chezmoi is given', function () {
  it('a whole tree to apply is one target, its top managed directory, not 5,000 names', function () {
    const entries = tree(50, 100)
    const wanted = [...entries.keys()].filter((path) => path.startsWith('.big'))
    assert.deepEqual(coverTargets(HOME, entries, wanted), {recursive: [`${HOME}/.big`], named: [], alone: []})
  })

  it('one edited file among 5,000 is named alone, so chezmoi does not read the whole directory', function () {
    const entries = tree(50, 100)
    assert.deepEqual(coverTargets(HOME, entries, ['.big/d3/f7.json']), {recursive: [], named: [`${HOME}/.big/d3/f7.json`], alone: []})
  })

  it('what is left alone is never inside a target: its directories are named without their contents', function () {
    const entries = tree(50, 100)
    const edited = '.big/d7/f1.json'
    const wanted = [...entries.keys()].filter((path) => path.startsWith('.big') && path !== edited)
    const cover = coverTargets(HOME, entries, wanted, [edited])
    // .big and .big/d7 hold the edit: each is applied alone, never recursively.
    assert.deepEqual(cover.alone.sort(), [`${HOME}/.big`, `${HOME}/.big/d7`])
    assert.ok(!cover.named.includes(`${HOME}/${edited}`))
    for (const target of cover.recursive) assert.ok(!`${HOME}/${edited}`.startsWith(`${target}/`) && target !== `${HOME}/${edited}`, target)
    // Everything wanted is covered: the 49 other directories whole, d7's other files by name.
    const covered = (path: string) =>
      [...cover.alone, ...cover.named].includes(`${HOME}/${path}`) ||
      cover.recursive.some((t) => `${HOME}/${path}` === t || `${HOME}/${path}`.startsWith(`${t}/`))
    assert.deepEqual(
      wanted.filter((path) => !covered(path)),
      [],
    )
    assert.equal(cover.recursive.filter((t) => t.split('/').length === 5).length, 49)
  })

  it('a directory is never chosen above a managed path that is not a directory', function () {
    const entries = tree(50, 100)
    const cover = coverTargets(HOME, entries, ['.bashrc', ...files(entries)])
    assert.deepEqual(cover.recursive.sort(), [`${HOME}/.bashrc`, `${HOME}/.big`])
  })

  it('status leaves out a retyped directory and asks about the rest through whole directories', function () {
    const entries = tree(3, 200)
    const targets = statusTargetsOutside(HOME, entries, ['.big/d1'])
    assert.deepEqual(targets?.sort(), [`${HOME}/.bashrc`, `${HOME}/.big/d0`, `${HOME}/.big/d2`])
    assert.equal(statusTargetsOutside(HOME, entries, []), undefined)
  })
})
