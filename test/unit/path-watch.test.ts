// What the watcher sees, on real directories and the system's own notifications: a save in a deep directory of a big
// tree, a directory made after start-up, a save that renames over a file, a deletion, a path that does not exist
// yet, and a watched directory deleted and made again. Each directory is watched once, never each file.
import assert from 'node:assert/strict'
import {mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {PathWatch} from '../../src/lib/runners/path-watch.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** Poll until some path told so far satisfies `check`, or fail naming `what`. */
async function told(seen: string[], what: string, check: (path: string) => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!seen.some(check)) {
    if (Date.now() - start > timeoutMs) throw new Error(`not told: ${what}; told: ${seen.join(', ') || 'nothing'}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('runners: the watcher watches directories, and sees what happens under them', function () {
  let root: string
  let tree: string
  let seen: string[]
  let failures: string[]
  const watches: PathWatch[] = []
  const open = async (path: string): Promise<PathWatch> => {
    const watch = new PathWatch(path, {
      changed: (changed) => seen.push(changed),
      ignored: (name) => name === '.git' || name.startsWith('.renameio-'),
      failed: (line) => failures.push(line),
    })
    watches.push(watch)
    await watch.start()
    return watch
  }

  before(async function () {
    root = makeTempDir('path-watch')
    tree = join(root, 'home/.big')
    // A tree of 2,000 files in 40 directories, two levels deep.
    for (let i = 0; i < 2000; i++) {
      const dir = join(tree, `d${i % 20}`, `e${i % 40}`)
      mkdirSync(dir, {recursive: true})
      writeFileSync(join(dir, `f${i}.json`), `{"i": ${i}}\n`)
    }
    mkdirSync(join(tree, '.git/objects'), {recursive: true})
    seen = []
    failures = []
    await open(tree)
  })

  beforeEach(() => {
    seen = []
  })

  after(() => {
    for (const watch of watches) watch.close()
    removeTempDir(root)
    assert.deepEqual(failures, [])
  })

  it('tells a save in a deep directory, and nothing about .git or temporary files', async function () {
    writeFileSync(join(tree, '.git/objects/x'), 'x')
    writeFileSync(join(tree, 'd3/.renameio-123'), 'tmp')
    writeFileSync(join(tree, 'd3/e3/f3.json'), '{"i": "edited"}\n')
    await told(seen, 'the edit', (p) => p === join(tree, 'd3/e3/f3.json'))
    assert.deepEqual(
      seen.filter((p) => p.includes('.git') || p.includes('.renameio-')),
      [],
    )
  })

  it('tells a file saved by renaming a new one over it, and a deletion', async function () {
    writeFileSync(join(tree, 'd4/e4/.tmp-save'), '{"i": "saved"}\n')
    renameSync(join(tree, 'd4/e4/.tmp-save'), join(tree, 'd4/e4/f4.json'))
    await told(seen, 'the renamed-over file', (p) => p === join(tree, 'd4/e4/f4.json'))
    rmSync(join(tree, 'd5/e5/f5.json'))
    await told(seen, 'the deletion', (p) => p === join(tree, 'd5/e5/f5.json'))
  })

  it('watches a directory made after start-up, however deep: a save in it is told', async function () {
    mkdirSync(join(tree, 'new/deeper/still'), {recursive: true})
    writeFileSync(join(tree, 'new/deeper/still/first.json'), '{}\n')
    await told(seen, 'the new directory', (p) => p === join(tree, 'new'))
    // Once the new directories are watched, a later save in them is told too.
    await new Promise((resolve) => setTimeout(resolve, 200))
    seen = []
    writeFileSync(join(tree, 'new/deeper/still/second.json'), '{}\n')
    await told(seen, 'a save in the new deep directory', (p) => p === join(tree, 'new/deeper/still/second.json'))
  })

  it('sees the watched directory deleted, then made again, and watches the new one', async function () {
    const small = join(root, 'home/.config/app')
    mkdirSync(small, {recursive: true})
    writeFileSync(join(small, 'a.conf'), 'a\n')
    await open(small)
    rmSync(small, {recursive: true})
    await told(seen, 'the deletion', (p) => p === small)
    seen = []
    mkdirSync(small)
    await told(seen, 'the directory made again', (p) => p === small)
    await new Promise((resolve) => setTimeout(resolve, 200))
    seen = []
    writeFileSync(join(small, 'b.conf'), 'b\n')
    await told(seen, 'a file in the directory made again', (p) => p === join(small, 'b.conf'))
  })

  it('sees a path that does not exist yet appear, its parents made with it', async function () {
    const later = join(root, 'home/.local/share/tool/config.toml')
    await open(later)
    mkdirSync(join(root, 'home/.local/share/tool'), {recursive: true})
    writeFileSync(later, 'x = 1\n')
    await told(seen, 'the new file', (p) => p === later)
    seen = []
    writeFileSync(later, 'x = 2\n')
    await told(seen, 'an edit of it', (p) => p === later)
  })
})
