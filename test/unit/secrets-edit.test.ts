import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {editorArgv, sweepEditDirectories} from '../../src/lib/secrets-file/edit.ts'

describe('fleet secrets edit: the editor command and what a killed fleet leaves', function () {
  it('splits $EDITOR into words as a shell would, with no shell: quotes, backslashes, arguments', function () {
    assert.deepEqual(editorArgv('vi'), ['vi'])
    assert.deepEqual(editorArgv('  code --wait  '), ['code', '--wait'])
    assert.deepEqual(editorArgv("'/Applications/My Editor/bin/edit' -w"), ['/Applications/My Editor/bin/edit', '-w'])
    assert.deepEqual(editorArgv('"/opt/an \\"odd\\" one/e" a\\ b'), ['/opt/an "odd" one/e', 'a b'])
    assert.deepEqual(editorArgv('emacs -nw $(rm -rf ~) ; ls'), ['emacs', '-nw', '$(rm', '-rf', '~)', ';', 'ls'])
    assert.throws(() => editorArgv("'never closed"), /never closed/)
  })

  it("removes the edit directories of fleet processes that are gone, and leaves a running one's", function () {
    const parent = mkdtempSync(join(tmpdir(), 'sweep-'))
    try {
      const dead = join(parent, 'fleet-secrets-999999999-abc')
      const live = join(parent, `fleet-secrets-${process.pid}-def`)
      const other = join(parent, 'something-else')
      for (const dir of [dead, live, other]) mkdirSync(dir)
      assert.equal(sweepEditDirectories(parent), 1)
      assert.deepEqual([dead, live, other].map(existsSync), [false, true, true])
    } finally {
      rmSync(parent, {recursive: true, force: true})
    }
  })
})
