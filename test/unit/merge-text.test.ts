import assert from 'node:assert/strict'

import {mergeText} from '../../src/lib/sync/merge-text.ts'

const text = (...lines: string[]) => Buffer.from(lines.join('\n') + '\n')
const BASE = text('a', 'b', 'c', 'd', 'e', 'f', 'g')

describe('three-way merge of one file, in memory', function () {
  it("keeps both sides' edits to different lines, and appends beside an edit", function () {
    const merged = mergeText(BASE, text('A', 'b', 'c', 'd', 'e', 'f', 'g', 'appended'), text('a', 'b', 'c', 'd', 'E', 'f', 'g'))
    assert.equal(merged?.toString(), text('A', 'b', 'c', 'd', 'E', 'f', 'g', 'appended').toString())
  })

  it('the same line changed differently on both sides is a conflict (undefined), as are adjacent lines', function () {
    assert.equal(mergeText(BASE, text('a', 'b', 'MINE', 'd', 'e', 'f', 'g'), text('a', 'b', 'THEIRS', 'd', 'e', 'f', 'g')), undefined)
    assert.equal(mergeText(BASE, text('a', 'B', 'c', 'd', 'e', 'f', 'g'), text('a', 'b', 'C', 'd', 'e', 'f', 'g')), undefined)
  })

  it('one side unchanged takes the other; both sides making the same change is no conflict', function () {
    const edited = text('a', 'b', 'c', 'D', 'e', 'f', 'g')
    assert.equal(mergeText(BASE, BASE, edited)?.toString(), edited.toString())
    assert.equal(mergeText(BASE, edited, BASE)?.toString(), edited.toString())
    assert.equal(mergeText(BASE, edited, edited)?.toString(), edited.toString())
  })

  it('bytes that are not UTF-8 come through unchanged; binary contents changed on both sides do not merge', function () {
    const latin = Buffer.from([0x61, 0x0a, 0xe9, 0x0a, 0x63, 0x0a, 0x64, 0x0a, 0x65, 0x0a])
    const mine = Buffer.from([0x41, 0x0a, 0xe9, 0x0a, 0x63, 0x0a, 0x64, 0x0a, 0x65, 0x0a])
    const theirs = Buffer.from([0x61, 0x0a, 0xe9, 0x0a, 0x63, 0x0a, 0x64, 0x0a, 0x45, 0x0a])
    assert.deepEqual(mergeText(latin, mine, theirs), Buffer.from([0x41, 0x0a, 0xe9, 0x0a, 0x63, 0x0a, 0x64, 0x0a, 0x45, 0x0a]))
    const binary = Buffer.from([0, 1, 2, 3])
    assert.equal(mergeText(binary, Buffer.from([0, 1, 2, 4]), Buffer.from([9, 1, 2, 3])), undefined)
  })

  it('a file without a final newline keeps it that way', function () {
    const merged = mergeText(Buffer.from('a\nb\nc\nd'), Buffer.from('A\nb\nc\nd'), Buffer.from('a\nb\nc\nD'))
    assert.equal(merged?.toString(), 'A\nb\nc\nD')
  })
})
