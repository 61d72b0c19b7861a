// Lines a person reads stay short however many paths a sync touches: up to ten named, then folders with a count.
import assert from 'node:assert/strict'

import {countedPaths, pathList, plural, someLines} from '../../src/lib/platform/text.ts'

/** `n` paths in `folder`: folder/f0001.json, … */
const files = (folder: string, n: number) => Array.from({length: n}, (_, i) => `${folder}/f${String(i).padStart(4, '0')}.json`)

describe('path lists for a person', function () {
  it('names every path, with ~, when there are ten or fewer', function () {
    assert.equal(pathList(['.zshrc', '.config/app/a.conf']), '~/.zshrc, ~/.config/app/a.conf')
    assert.equal(countedPaths(['.zshrc'], 'file'), '1 file: ~/.zshrc')
    assert.equal(
      countedPaths(files('.big', 10), 'file'),
      `10 files: ${files('.big', 10)
        .map((p) => `~/${p}`)
        .join(', ')}`,
    )
  })

  it('names the one folder of thousands of files, with the count written with thousands separators', function () {
    const line = countedPaths(files('.big', 5052), 'file')
    assert.equal(line, '5,052 files under ~/.big')
    assert.equal(plural(1234567, 'change'), '1,234,567 changes')
  })

  it('names each folder with its count, the largest first, and single files by name', function () {
    const paths = ['.zshrc', ...files('.config/app', 12), ...files('.big', 5052), ...files('.config/other', 3)]
    assert.equal(countedPaths(paths, 'file'), '5,068 files: 5,052 under ~/.big, 15 under ~/.config, ~/.zshrc')
    assert.equal(pathList(paths), '5,052 under ~/.big, 15 under ~/.config, ~/.zshrc')
  })

  it('counts a path towards the managed directory it is in, the deepest one', function () {
    const paths = ['.zshrc', ...files('.config/app', 12), ...files('.config/other', 3), '.config/fleet/secrets.env']
    const roots = ['.zshrc', '.config/app', '.config/other', '.config/fleet/secrets.env', '.config']
    assert.equal(pathList(paths, {roots}), '12 under ~/.config/app, 3 under ~/.config/other, ~/.zshrc, ~/.config/fleet/secrets.env')
  })

  it('names a folder as deep as all its paths go, and a directory listed with what is in it', function () {
    assert.equal(countedPaths(['.big/deep', ...files('.big/deep/er', 20)], 'file'), '21 files under ~/.big/deep')
    assert.equal(countedPaths([...files('.claude/projects/x', 11)], 'change'), '11 changes under ~/.claude/projects/x')
  })

  it('names at most ten things, then says how many paths it left out', function () {
    const paths = Array.from({length: 300}, (_, i) => `.f${i}`)
    const line = pathList(paths)
    assert.equal(
      line,
      `${paths
        .slice(0, 10)
        .map((p) => `~/${p}`)
        .join(', ')} and 290 more`,
    )
    const mixed = [...files('.big', 40), ...Array.from({length: 15}, (_, i) => `.g${i}`)]
    assert.equal(
      countedPaths(mixed, 'file'),
      `55 files: 40 under ~/.big, ${mixed
        .slice(40, 49)
        .map((p) => `~/${p}`)
        .join(', ')} and 6 more`,
    )
  })

  it('shows absolute paths under $HOME with ~, and groups them as the others', function () {
    const home = '/home/u'
    assert.equal(pathList(['/home/u/.zshrc', '/home/u/.big/a', '/home/user2/x'], {home}), '~/.zshrc, ~/.big/a, /home/user2/x')
    assert.equal(countedPaths(['/home/u/.zshrc', ...files('/home/u/.big', 30)], 'file', {home}), '31 files: 30 under ~/.big, ~/.zshrc')
    assert.equal(countedPaths(files('/home/u/.big', 30), 'file', {home, roots: ['.big']}), '30 files under ~/.big')
  })

  it('shows paths that are not under $HOME as they are', function () {
    const show = (p: string) => p
    assert.equal(pathList(files('private_dot_big', 30), {show}), '30 under private_dot_big')
    assert.equal(pathList([...files('/etc/a', 6), ...files('/usr/b', 6)]), '6 under /etc/a, 6 under /usr/b')
  })

  it('keeps a list of detail lines to ten and a line for the rest', function () {
    const lines = Array.from({length: 1200}, (_, i) => `  line ${i}`)
    assert.deepEqual(
      someLines(lines, (n) => `  … and ${n} more`),
      [...lines.slice(0, 10), '  … and 1,190 more'],
    )
    assert.deepEqual(
      someLines(lines.slice(0, 10), (n) => `  … and ${n} more`),
      lines.slice(0, 10),
    )
  })
})
