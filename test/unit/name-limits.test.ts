import assert from 'node:assert/strict'
import {lstatSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {explainSystemError, FleetError} from '../../src/lib/errors/index.ts'
import {unsyncableName} from '../../src/lib/chezmoi/name-limits.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('names the fleet cannot carry', function () {
  it('takes a name whose source name fits in 255 bytes with every prefix chezmoi may give it', function () {
    assert.equal(unsyncableName('/notes.md', false), undefined)
    assert.equal(unsyncableName(`/${'x'.repeat(221)}`, false), undefined, '221 + private_readonly_executable_empty_ = 255')
    assert.match(unsyncableName(`/${'x'.repeat(222)}`, false)!, /is 222 bytes long; .*rename it to at most 221 bytes/)
  })

  it('counts what chezmoi adds to the name itself: dot_, literal_, .literal, and encryption', function () {
    assert.match(unsyncableName(`/.${'x'.repeat(218)}`, false)!, /rename it to at most 218 bytes/, 'dot_ takes 3 more')
    assert.match(unsyncableName(`/run_${'x'.repeat(210)}`, false)!, /rename it to at most 213 bytes/, 'literal_ takes 8 more')
    assert.match(unsyncableName(`/${'x'.repeat(210)}.tmpl`, false)!, /rename it to at most 213 bytes/, '.literal takes 8 more')
    assert.match(unsyncableName(`/${'x'.repeat(210)}`, true)!, /encrypted_.*rename it to at most 207 bytes/)
    assert.match(unsyncableName(`/${'é'.repeat(111)}`, false)!, /is 222 bytes long/, 'bytes, not characters')
  })

  it('checks every name below the managed path, and refuses line breaks and names that are not UTF-8', function () {
    assert.match(unsyncableName(`/${'d'.repeat(230)}/ok.md`, false)!, /is 230 bytes long/)
    assert.match(unsyncableName('/dir/two\nlines', false)!, /line break/)
    assert.match(unsyncableName('/carriage\rreturn', false)!, /line break/)
    assert.match(unsyncableName('/bad\uFFFDname', false)!, /not valid UTF-8/)
    assert.equal(unsyncableName('', false), undefined, 'the managed path itself')
  })
})

describe('a path in the way, explained', function () {
  let root: string
  before(() => {
    root = makeTempDir('path-errors')
    writeFileSync(join(root, 'file'), 'x')
  })
  after(() => removeTempDir(root))

  const caught = (action: () => unknown): unknown => {
    try {
      action()
    } catch (error) {
      return error
    }
    assert.fail('no error')
  }

  it('names the path, what is wrong and the fix, for node errors and for chezmoi saying the same', function () {
    const notDir = explainSystemError(
      caught(() => lstatSync(join(root, 'file/below'))),
      root,
    )
    assert.ok(notDir instanceof FleetError)
    assert.equal(notDir.message, `fleet could not use ${join(root, 'file/below')}: a part of it is a file where a directory was expected.`)
    assert.match(notDir.fix!, /ls -ld/)
    const tooLong = explainSystemError(
      caught(() => mkdirSync(join(root, 'x'.repeat(300)))),
      root,
    )
    assert.ok(tooLong instanceof FleetError)
    assert.match(tooLong.message, /a name in it is longer than the file system allows/)
    const fromChezmoi = explainSystemError(new Error('chezmoi: .claude/d/f: lstat /home/me/.claude/d/f: not a directory'), root)
    assert.ok(fromChezmoi instanceof FleetError)
    assert.equal(fromChezmoi.message, 'fleet could not use /home/me/.claude/d/f: a part of it is a file where a directory was expected.')
    const other = new Error('something else')
    assert.equal(explainSystemError(other, root), other)
  })
})
