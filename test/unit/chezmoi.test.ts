// Finding a recent enough chezmoi: the version is read from what real builds print, and a missing or old
// chezmoi is reported with the fix.
import assert from 'node:assert/strict'
import {chmodSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {checkChezmoi, chezmoiBinary, compareVersions, MIN_CHEZMOI_VERSION, parseVersion} from '../../src/lib/chezmoi/chezmoi.ts'
import {FleetError} from '../../src/lib/errors/index.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** A fake chezmoi: a shell script that prints `output` for --version. */
function fakeChezmoi(dir: string, name: string, output: string, exitCode = 0): string {
  const file = join(dir, name)
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${output.replace(/'/g, `'\\''`)}'\nexit ${exitCode}\n`)
  chmodSync(file, 0o755)
  return file
}

describe('chezmoi: version check', function () {
  describe('parseVersion', function () {
    const cases: Array<[string, [number, number, number] | undefined]> = [
      ['chezmoi version v2.73.3-1, built at 2026-10-24T06:26:28+00:00, built by debian\n', [2, 73, 3]],
      ['chezmoi version 2.71.0, commit 0123456789abcdef0123456789abcdef01234567, built at 2026-03-01T12:00:00Z, built by Homebrew\n', [2, 71, 0]],
      ['chezmoi version v2.52.1, commit 6f6d0d5b, built at 2024-08-01T10:00:00Z, built by goreleaser', [2, 52, 1]],
      ['chezmoi version v10.0.12', [10, 0, 12]],
      ['chezmoi version dev, commit unknown, built at unknown, built by unknown', undefined],
      ['', undefined],
      ['command not found', undefined],
    ]
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text.trim()) || '""'} → ${JSON.stringify(expected)}`, function () {
        assert.deepEqual(parseVersion(text), expected)
      })
    }

    it('reads the version of the chezmoi installed here', async function () {
      const {stdout} = await execa('chezmoi', ['--version'])
      const version = parseVersion(String(stdout))
      assert.ok(version, `could not parse: ${stdout}`)
      assert.ok(version.every((n) => Number.isInteger(n) && n >= 0))
    })
  })

  describe('compareVersions', function () {
    const cases: Array<[[number, number, number], [number, number, number], '<' | '=' | '>']> = [
      [[2, 71, 0], [2, 71, 0], '='],
      [[2, 70, 9], [2, 71, 0], '<'],
      [[2, 71, 1], [2, 71, 0], '>'],
      [[2, 9, 0], [2, 71, 0], '<'], // numeric, not lexicographic
      [[2, 100, 0], [2, 71, 0], '>'],
      [[3, 0, 0], [2, 99, 99], '>'],
      [[1, 99, 99], [2, 0, 0], '<'],
    ]
    for (const [a, b, expected] of cases) {
      it(`${a.join('.')} ${expected} ${b.join('.')}`, function () {
        const result = compareVersions(a, b)
        assert.equal(Math.sign(result), {'<': -1, '=': 0, '>': 1}[expected])
        assert.equal(Math.sign(compareVersions(b, a)), -Math.sign(result) || 0, 'antisymmetric')
      })
    }
  })

  describe('checkChezmoi', function () {
    let dir: string
    before(() => {
      dir = makeTempDir('chezmoi')
    })
    after(() => removeTempDir(dir))

    it('accepts the real installed chezmoi and returns its version', async function () {
      const version = await checkChezmoi('chezmoi')
      assert.match(version, /^\d+\.\d+\.\d+$/)
      const parsed = version.split('.').map(Number)
      assert.ok(compareVersions(parsed, MIN_CHEZMOI_VERSION.split('.').map(Number)) >= 0)
      const {stdout} = await execa('chezmoi', ['--version'])
      assert.deepEqual(parsed, parseVersion(String(stdout)))
    })

    it('accepts exactly the minimum version', async function () {
      const binary = fakeChezmoi(dir, 'chezmoi-min', `chezmoi version v${MIN_CHEZMOI_VERSION}, built at 2026-01-01T00:00:00Z, built by test`)
      assert.equal(await checkChezmoi(binary), MIN_CHEZMOI_VERSION)
    })

    it('refuses an old chezmoi with CHEZMOI_TOO_OLD, naming both versions, with a fix', async function () {
      const binary = fakeChezmoi(dir, 'chezmoi-old', 'chezmoi version v2.70.9, commit abcdef, built at 2025-01-01T00:00:00Z, built by Homebrew')
      await assert.rejects(checkChezmoi(binary), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'CHEZMOI_TOO_OLD')
        assert.match(error.message, /2\.70\.9/)
        assert.ok(error.message.includes(MIN_CHEZMOI_VERSION))
        assert.match(error.fix ?? '', /[Uu]pgrade chezmoi/)
        return true
      })
    })

    it('refuses a chezmoi that does not exist with CHEZMOI_MISSING and the install fix', async function () {
      const missing = join(dir, 'no-such-dir', 'chezmoi')
      await assert.rejects(checkChezmoi(missing), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'CHEZMOI_MISSING')
        assert.ok(error.message.includes(missing))
        assert.match(error.fix ?? '', /Install chezmoi/)
        assert.match(error.fix ?? '', /FLEET_CHEZMOI/)
        return true
      })
    })

    it('reports a version it cannot read as such (CHEZMOI_VERSION), quoting the output', async function () {
      const binary = fakeChezmoi(dir, 'chezmoi-dev', 'chezmoi version dev, commit unknown')
      await assert.rejects(checkChezmoi(binary), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'CHEZMOI_VERSION')
        assert.match(error.message, /chezmoi version dev/)
        return true
      })
    })
  })

  describe('chezmoiBinary', function () {
    it('uses FLEET_CHEZMOI when set, else chezmoi on PATH', function () {
      assert.equal(chezmoiBinary({FLEET_CHEZMOI: '/opt/chezmoi/bin/chezmoi'}), '/opt/chezmoi/bin/chezmoi')
      assert.equal(chezmoiBinary({}), 'chezmoi')
      assert.equal(chezmoiBinary({FLEET_CHEZMOI: ''}), 'chezmoi')
    })
  })
})
