import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {execa} from 'execa'

import {chezmoiBinary} from '../../src/lib/chezmoi/chezmoi.ts'
import {
  decodeSourcePath,
  encodeTargetName,
  escapeGlob,
  parseSourceFileName,
  privateEncryptedName,
  removeEntryName,
  removeMarkerName,
} from '../../src/lib/chezmoi/source-names.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('managed path names', function () {
  it('gives an encrypted file private_, so that it lands decrypted with mode 0600', function () {
    assert.equal(privateEncryptedName('encrypted_dot_netrc.age'), 'encrypted_private_dot_netrc.age')
    assert.equal(privateEncryptedName('create_encrypted_executable_x.age'), 'create_encrypted_private_executable_x.age')
    assert.equal(privateEncryptedName('encrypted_private_dot_netrc.age'), undefined, 'already private')
    assert.equal(privateEncryptedName('dot_zshrc'), undefined, 'not encrypted')
  })

  it('names the remove_ entry of a source file, dropping every attribute and suffix', function () {
    assert.equal(removeEntryName('dot_zshrc'), 'remove_dot_zshrc')
    assert.equal(removeEntryName('encrypted_private_dot_netrc.age'), 'remove_dot_netrc')
    assert.equal(removeEntryName('private_executable_run.sh.tmpl'), 'remove_run.sh')
    assert.equal(removeEntryName('executable_private_run.sh'), 'remove_literal_private_run.sh', 'chezmoi reads private_ only before executable_')
    assert.equal(removeEntryName('create_readonly_x'), 'remove_x')
    assert.equal(removeEntryName('plain.age'), 'remove_plain.age', 'only an encrypted file loses .age')
  })

  it('decodes a source path into its target path', function () {
    assert.equal(decodeSourcePath('dot_config/private_fleet/encrypted_private_secrets.env.age'), '.config/fleet/secrets.env')
    assert.equal(decodeSourcePath('private_dot_ssh/config.tmpl'), '.ssh/config')
    assert.equal(decodeSourcePath('exact_dot_vim/literal_dot_keep'), '.vim/dot_keep')
    assert.equal(decodeSourcePath(`dot_config/we "q" $(x) &<> é.txt`), `.config/we "q" $(x) &<> é.txt`)
    assert.equal(encodeTargetName('.bashrc'), 'dot_bashrc')
    assert.equal(encodeTargetName('notes.md'), 'notes.md')
  })

  it('escapes glob characters for .chezmoiremove', function () {
    assert.equal(escapeGlob('a*b?[c]{d}\\e'), 'a\\*b\\?\\[c\\]\\{d\\}\\\\e')
    assert.equal(escapeGlob('.config/plain dir'), '.config/plain dir')
  })
})

/** Target names chezmoi could read as attributes or suffixes, for files and directories alike. */
const PREFIXES = [
  'after',
  'before',
  'create',
  'dot',
  'empty',
  'encrypted',
  'exact',
  'executable',
  'external',
  'literal',
  'modify',
  'once',
  'onchange',
  'private',
  'readonly',
  'remove',
  'run',
  'symlink',
]
const TRICKY_FILES = [
  ...PREFIXES.map((p) => `${p}_x`),
  'notes',
  '.hidden',
  '.dot_w',
  'x.tmpl',
  'y.age',
  'z.literal',
  'w.tmpl.literal',
  'literal_dot_v',
  'run_once_before_s.sh',
  'a b.txt',
]
// chezmoi itself writes directories named external_… and remove_… verbatim, and then reads them back as attributes.
const TRICKY_DIRS = [...PREFIXES.filter((p) => p !== 'external' && p !== 'remove').map((p) => `${p}_d`), '.hidden_d', 'd.tmpl', 'd.literal']

describe('managed path names, as real chezmoi reads and writes them', function () {
  let root: string
  let home: string
  let sourceDir: string
  const chezmoi = (...args: string[]) =>
    execa(chezmoiBinary(), [
      '--source',
      sourceDir,
      '--destination',
      home,
      '--config',
      join(root, 'config', 'chezmoi.toml'),
      '--persistent-state',
      join(root, 'config', 'state.boltdb'),
      ...args,
    ])

  before(async function () {
    root = makeTempDir('names')
    home = join(root, 'home')
    sourceDir = join(root, 'source')
    mkdirSync(join(home, 'm'), {recursive: true})
    mkdirSync(sourceDir)
    mkdirSync(join(root, 'config'))
    for (const name of TRICKY_FILES) writeFileSync(join(home, 'm', name), `${name}\n`)
    writeFileSync(join(home, 'm', 'private_key_x'), 'secret\n')
    chmodSync(join(home, 'm', 'private_key_x'), 0o600)
    writeFileSync(join(home, 'm', 'exact_tool'), '#!/bin/sh\n')
    chmodSync(join(home, 'm', 'exact_tool'), 0o755)
    for (const name of TRICKY_DIRS) {
      mkdirSync(join(home, 'm', name))
      writeFileSync(join(home, 'm', name, 'dot_f'), 'f\n')
    }
    await chezmoi('add', join(home, 'm'))
  })
  after(() => removeTempDir(root))

  it('decodes every source path chezmoi writes into the target chezmoi reads from it', async function () {
    const targets = (await chezmoi('managed', '--include', 'files', '--path-style', 'relative')).stdout.split('\n').filter(Boolean)
    assert.ok(targets.length >= TRICKY_FILES.length + TRICKY_DIRS.length, targets.join(', '))
    const sources = (await chezmoi('source-path', ...targets.map((t) => join(home, t)))).stdout.split('\n').filter(Boolean)
    for (const [i, target] of targets.entries()) assert.equal(decodeSourcePath(relative(sourceDir, sources[i])), target, sources[i])
  })

  it('encodes a target name the way chezmoi add does, for files and directories', async function () {
    for (const name of TRICKY_FILES) {
      const [source] = (await chezmoi('source-path', join(home, 'm', name))).stdout.split('\n')
      assert.equal(relative(join(sourceDir, 'm'), source), encodeTargetName(name), name)
    }
    for (const name of TRICKY_DIRS) {
      const [source] = (await chezmoi('source-path', join(home, 'm', name))).stdout.split('\n')
      assert.equal(relative(join(sourceDir, 'm'), source), encodeTargetName(name, 'dir'), name)
    }
  })

  it('names a remove_ marker that chezmoi reads as the target it was written for', async function () {
    const markers = join(sourceDir, 'markers')
    mkdirSync(markers)
    for (const name of [...TRICKY_FILES, ...TRICKY_DIRS, 'private_key_x', 'exact_tool']) {
      const marker = removeMarkerName(name)
      writeFileSync(join(markers, marker), '')
      assert.equal((await chezmoi('target-path', join(markers, marker))).stdout.trim(), join(home, 'markers', name), marker)
      assert.equal(parseSourceFileName(marker).type, 'remove')
    }
    // Each marker names its own target: chezmoi reads them all without two for one target.
    await chezmoi('managed')
  })

  it('names the remove_ marker of every file chezmoi added, whatever its attributes', async function () {
    const sources = (await execa('find', [join(sourceDir, 'm'), '-maxdepth', '1', '-type', 'f'])).stdout.split('\n').filter(Boolean)
    for (const source of sources) {
      const marker = removeEntryName(relative(join(sourceDir, 'm'), source))
      const target = (await chezmoi('target-path', source)).stdout.trim()
      assert.equal(marker, removeMarkerName(target.slice(join(home, 'm').length + 1)), source)
    }
  })
})
