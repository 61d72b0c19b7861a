import assert from 'node:assert/strict'
import {randomInt} from 'node:crypto'

import dotenv from 'dotenv'

import {FleetError} from '../../src/lib/errors/index.ts'
import {parseDotenv, serializeEntry} from '../../src/lib/secrets/dotenv.ts'
import {conflictingKeys, mergeSecrets} from '../../src/lib/secrets/merge.ts'

/** Values a person keeps in a secrets file, the awkward ones included. */
const AWKWARD = [
  'plain',
  '',
  'with spaces inside',
  '  leading and trailing  ',
  "it's",
  'say "hi"',
  'both \' and "',
  'all three \' " `',
  '$(rm -rf ~) `id` ${HOME}',
  'a&b<c>d|e;f',
  'x=y=z',
  'hash # inside',
  '#starts',
  'line one\nline two',
  'line one\nline "two"\nand it\'s three',
  'windows\r\nline',
  'C:\\new\\path',
  'ends with backslash\\',
  'tab\there',
  'ünïcödé ✓',
  'sk-ABCdef0123456789',
  '\\n is not a newline here',
]

function valuesOf(text: string): Record<string, string> {
  return Object.fromEntries(parseDotenv(text, 'test.env').values())
}

function refusal(text: string): FleetError {
  try {
    parseDotenv(text, 'secrets.env')
  } catch (error) {
    assert.ok(error instanceof FleetError, String(error))
    return error
  }
  assert.fail(`parsed: ${JSON.stringify(text)}`)
}

function randomValue(): string {
  const alphabet = ['a', 'Z', '0', ' ', '\t', "'", '"', '`', '#', '=', '$', '(', ')', '\\', 'n', 'r', '\n', '&', '<', '>', 'é', ';', '\r']
  return Array.from({length: randomInt(0, 12)}, () => alphabet[randomInt(alphabet.length)]).join('')
}

describe('the secrets file format (dotenv, read strictly)', function () {
  it('every awkward value is written so that dotenv itself and fleet read it back exactly', function () {
    const lines = AWKWARD.map((value, i) => {
      const line = serializeEntry(`KEY_${i}`, value)
      return line
    })
    const text = ['# secrets', ...lines, ''].join('\n')
    const expected = Object.fromEntries(AWKWARD.map((value, i) => [`KEY_${i}`, value]))
    assert.deepEqual(valuesOf(text), expected)
    assert.deepEqual({...dotenv.parse(text)}, expected)
  })

  it('random values: written, read back identically by dotenv and by fleet, or refused as unwritable', function () {
    let written = 0
    for (let round = 0; round < 300; round++) {
      const values = Array.from({length: 4}, randomValue)
      const lines: string[] = []
      for (const [i, value] of values.entries()) {
        try {
          lines.push(serializeEntry(`K${i}`, value, i % 2 === 1))
        } catch (error) {
          assert.ok(error instanceof FleetError && error.code === 'SECRET_VALUE_UNWRITABLE', String(error))
          values[i] = '\u0000skip'
          continue
        }
        written++
        if (round % 3 === 0) lines.push('# a comment', '')
      }
      const text = lines.join('\n') + '\n'
      const expected = Object.fromEntries(values.flatMap((value, i) => (value === '\u0000skip' ? [] : [[`K${i}`, value]])))
      assert.deepEqual({...dotenv.parse(text)}, expected, text)
      assert.deepEqual(valuesOf(text), expected, text)
    }
    assert.ok(written > 1000)
  })

  it('random documents: whatever fleet accepts, dotenv reads to the same values (the rest is refused with a line number)', function () {
    const fragments = ['A', 'B_2', 'export ', ' ', '=', "'", '"', '`', '#', 'x', 'y z', '\\', '\\n', '\n', '$(', ':', '-']
    let accepted = 0
    for (let round = 0; round < 3000; round++) {
      const text = Array.from({length: randomInt(1, 14)}, () => fragments[randomInt(fragments.length)]).join('')
      let values: Record<string, string>
      try {
        values = valuesOf(text)
      } catch (error) {
        assert.ok(error instanceof FleetError && /, line \d+: /.test(error.message), `${JSON.stringify(text)}: ${String(error)}`)
        continue
      }
      accepted++
      assert.deepEqual(values, {...dotenv.parse(text)}, JSON.stringify(text))
    }
    assert.ok(accepted > 100, `only ${accepted} accepted`)
  })

  it('reads what dotenv reads: export, comments, quotes of three kinds, multi-line double quotes, \\n in double quotes', function () {
    const text = [
      '# a comment',
      'PLAIN=value',
      'export EXPORTED=yes',
      '  SPACED = around the equals   # a comment',
      "SINGLE='it is \\n literal' # comment",
      'DOUBLE="line\\nbreak"',
      'BACKTICK=`say "it\'s"`',
      'MULTI="first',
      'second # not a comment',
      'third"',
      'EMPTY=',
      'EMPTY_QUOTED=""',
      'EQUALS=a=b',
      'URL=https://example.org/?a=1&b=2',
      '',
    ].join('\n')
    const values = valuesOf(text)
    assert.deepEqual(values, {...dotenv.parse(text)})
    assert.equal(values.MULTI, 'first\nsecond # not a comment\nthird')
    assert.equal(values.SPACED, 'around the equals')
    const entries = parseDotenv(text, 't').entries
    assert.deepEqual(
      entries.map((e) => [e.key, e.line, e.lastLine]),
      [
        ['PLAIN', 2, 2],
        ['EXPORTED', 3, 3],
        ['SPACED', 4, 4],
        ['SINGLE', 5, 5],
        ['DOUBLE', 6, 6],
        ['BACKTICK', 7, 7],
        ['MULTI', 8, 10],
        ['EMPTY', 11, 11],
        ['EMPTY_QUOTED', 12, 12],
        ['EQUALS', 13, 13],
        ['URL', 14, 14],
      ],
    )
  })

  it('refuses malformed lines with the file, the line number and the fix', function () {
    const cases: Array<[string, number, RegExp]> = [
      ['A=1\njust some words\n', 2, /not a KEY=value line/],
      ['A=1\n\nB-C=2\n', 3, /not a valid name/],
      ['1ABC=2\n', 1, /not a valid name/],
      ['A=1\nB="never closed\nC=3\n', 2, /never closed/],
      ["A='x' trailing\n", 1, /after the closing/],
      ['A=abc#def\n', 1, /# inside an unquoted value/],
      ['A=1\nA=2\n', 2, /set again \(first on line 1\)/],
      ['A="ends with\\"\n', 1, /backslash/],
      ["A='half quoted\n", 1, /never closed/],
      ["A=x\nB='a'b'\n", 2, /after the closing/],
      ['A: yaml style\n', 1, /not a KEY=value line/],
    ]
    for (const [text, line, problem] of cases) {
      const error = refusal(text)
      assert.match(error.message, new RegExp(`^secrets\\.env, line ${line}: `), text)
      assert.match(error.message, problem, text)
      assert.ok(error.fix && error.fix.length > 10, text)
    }
  })

  it('a change rewrites only its own lines: comments, blank lines, order and the other entries stay as they were', function () {
    const text = "# header\n\nA='one' # why\n\n# B's comment\nexport B=two\nC=\"multi\nline\"\nD=4"
    const document = parseDotenv(text, 't')
    assert.equal(document.set('B', 'new value'), 'changed')
    assert.equal(document.set('A', 'one'), 'unchanged')
    assert.equal(document.unset('C'), true)
    assert.equal(document.set('E', 'five'), 'added')
    assert.equal(document.toString(), "# header\n\nA='one' # why\n\n# B's comment\nexport B='new value'\nD=4\nE=five\n")
    assert.equal(parseDotenv(text, 't').toString(), text)
  })

  it('refuses a key that is not a variable name, with the rule', function () {
    assert.throws(() => serializeEntry('MY-KEY', 'x'), /letters, digits and _, not starting with a digit/)
    assert.throws(() => serializeEntry('9LIVES', 'x'), /not a valid secret name/)
  })
})

describe('the secrets file merged by key', function () {
  const BASE = '# fleet secrets\nA=1\nB=2\nC=3\n'

  it('different keys changed, added and removed on two machines merge', function () {
    const mine = '# fleet secrets\nA=one\nB=2\nC=3\n# the new one\nNEW_HERE=x\n'
    const theirs = '# fleet secrets\nA=1\nB=two\nNEW_THERE=y\n'
    const merged = mergeSecrets(BASE, mine, theirs)
    assert.equal(merged.kind, 'merged')
    const text = merged.kind === 'merged' ? merged.text : ''
    assert.deepEqual(valuesOf(text), {A: 'one', B: 'two', NEW_THERE: 'y', NEW_HERE: 'x'})
    assert.match(text, /# the new one\nNEW_HERE=x/)
  })

  it('the same key changed differently on both, or changed on one and removed on the other, is a conflict naming the keys', function () {
    const merged = mergeSecrets(BASE, 'A=mine\nB=2\nC=changed\n', 'A=theirs\nB=2\n')
    assert.deepEqual(merged, {kind: 'conflict', keys: ['A', 'C']})
    assert.deepEqual(conflictingKeys(BASE, 'A=mine\nB=2\nC=3\n', 'A=theirs\nB=2\nC=3\n'), ['A'])
  })

  it('the same change on both sides is no conflict; a side that does not parse is left to the line merge', function () {
    assert.equal(mergeSecrets(BASE, 'A=same\nB=2\nC=3\n', 'A=same\nB=2\nC=3\n').kind, 'merged')
    assert.equal(mergeSecrets(BASE, 'A=1\nnot a line\n', 'A=2\n').kind, 'unparsable')
  })
})
