import assert from 'node:assert/strict'

import {commandLine, environmentAssignment, plainValue, quoteArgument, serializeUnit} from '../../src/lib/agents/unit-file.ts'

describe('systemd unit serializer', function () {
  it('quotes arguments the way systemd reads them: escapes, specifiers and variables', function () {
    assert.equal(quoteArgument('plain'), '"plain"')
    assert.equal(quoteArgument('a "b" \\c'), '"a \\"b\\" \\\\c"')
    assert.equal(quoteArgument('50% $HOME'), '"50%% $$HOME"')
    assert.equal(quoteArgument('line\nbreak\ttab'), '"line\\nbreak\\ttab"')
  })

  it('leaves the executable without variable escapes, and routes one systemd refuses through /usr/bin/env', function () {
    assert.equal(commandLine(['/opt/my $dir/node', 'x$y']), '"/opt/my $dir/node" "x$$y"')
    assert.equal(commandLine(["/opt/it's/node", 'run.js']), '"/usr/bin/env" "/opt/it\'s/node" "run.js"')
    assert.equal(commandLine(['/opt/a"b/node']), '"/usr/bin/env" "/opt/a\\"b/node"')
  })

  it('writes Environment= as one quoted word, without variable escapes, and refuses a bad name', function () {
    assert.equal(environmentAssignment('PATH', '/a b:/c$d'), '"PATH=/a b:/c$d"')
    assert.throws(() => environmentAssignment('BAD NAME', 'x'), /invalid environment variable name/)
  })

  it('refuses a value that would span lines, and escapes specifiers in plain values', function () {
    assert.throws(() => plainValue('two\nlines'), /span lines/)
    assert.equal(plainValue('100% done'), '100%% done')
  })

  it('serializes sections, repeated keys and booleans', function () {
    const text = serializeUnit(
      [
        ['Unit', [['Description', 'd']]],
        [
          'Service',
          [
            ['Environment', ['"A=1"', '"B=2"']],
            ['RemainAfterExit', true],
          ],
        ],
      ],
      'header',
    )
    assert.equal(text, '# header\n\n[Unit]\nDescription=d\n\n[Service]\nEnvironment="A=1"\nEnvironment="B=2"\nRemainAfterExit=yes\n')
  })
})
