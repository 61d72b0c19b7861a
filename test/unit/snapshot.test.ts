import assert from 'node:assert/strict'
import {mkdirSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {refreshEntries, sameSnapshot, snapshotChanges, takeSnapshot} from '../../src/lib/sync/snapshot.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('disk snapshots for the quick path', function () {
  let home: string
  beforeEach(() => {
    home = makeTempDir('snapshot')
    mkdirSync(join(home, 'dir/sub'), {recursive: true})
    writeFileSync(join(home, 'dir/a'), 'a')
    writeFileSync(join(home, 'dir/sub/b'), 'b')
    writeFileSync(join(home, 'file'), 'f')
  })
  afterEach(() => removeTempDir(home))

  it('sees an edit, a new file, a deletion and a touched mtime anywhere below a managed path', function () {
    const managed = ['dir', 'file', 'missing']
    const before = takeSnapshot(home, managed)
    assert.equal(before.missing, 'absent')
    assert.ok(sameSnapshot(before, takeSnapshot(home, managed)))
    const changes: Array<() => void> = [
      () => writeFileSync(join(home, 'dir/sub/b'), 'bb'),
      () => writeFileSync(join(home, 'dir/sub/new'), 'n'),
      () => rmSync(join(home, 'dir/a')),
      () => utimesSync(join(home, 'file'), new Date(2000, 1, 1), new Date(2000, 1, 1)),
      () => writeFileSync(join(home, 'missing'), 'now here'),
    ]
    for (const change of changes) {
      const baseline = takeSnapshot(home, managed)
      change()
      assert.ok(!sameSnapshot(baseline, takeSnapshot(home, managed)))
    }
  })

  it('refreshEntries updates only the given entries, so an edit elsewhere still shows', function () {
    const managed = ['dir']
    const baseline = takeSnapshot(home, managed)
    writeFileSync(join(home, 'dir/a'), 'applied by a sync')
    writeFileSync(join(home, 'dir/sub/b'), 'edited by a person meanwhile')
    refreshEntries(baseline, home, ['dir/a'], managed)
    const now = takeSnapshot(home, managed)
    assert.equal(baseline['dir/a'], now['dir/a'])
    assert.notEqual(baseline['dir/sub/b'], now['dir/sub/b'])
    assert.ok(!sameSnapshot(baseline, now))
  })

  it('snapshotChanges names every path that changed, appeared or vanished, and the new ones outermost only', function () {
    const managed = ['dir', 'file', 'missing']
    const before = takeSnapshot(home, managed)
    writeFileSync(join(home, 'dir/sub/b'), 'edited')
    rmSync(join(home, 'dir/a'))
    mkdirSync(join(home, 'dir/new/deeper'), {recursive: true})
    writeFileSync(join(home, 'dir/new/deeper/c'), 'c')
    writeFileSync(join(home, 'missing'), 'now here')
    const {changed, appeared} = snapshotChanges(before, takeSnapshot(home, managed))
    for (const path of ['dir/sub/b', 'dir/a', 'dir/new', 'dir/new/deeper', 'dir/new/deeper/c', 'missing']) assert.ok(changed.has(path), path)
    assert.ok(!changed.has('file'))
    assert.deepEqual(appeared.sort(), ['dir/new', 'missing'])
  })
})
