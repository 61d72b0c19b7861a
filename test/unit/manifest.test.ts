// The manifest: what fleet writes parses back unchanged; what a person or another machine broke is reported
// with the file, the field and the fix; a manifest from a newer fleet is refused before anything else.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, statSync, writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {FleetError} from '../../src/lib/errors/index.ts'
import {type Fleet, MANIFEST_VERSION} from '../../src/lib/manifest/schema.ts'
import {MANIFEST_RELATIVE_PATH, ManifestError, manifestPath, parseManifest, readManifest, renderManifest, writeManifest} from '../../src/lib/manifest/store.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const FILE = '/home/someone/.local/share/chezmoi/.chezmoidata/fleet.yaml'
const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'

function validFleet(): Fleet {
  return {
    version: MANIFEST_VERSION,
    id: 'f1e2d3c4-b5a6-4789-8abc-def012345678',
    createdAt: '2026-01-02T03:04:05.000Z',
    settings: {
      keyType: 'x25519',
      branch: 'trunk',
      maxFileMiB: 20,
      agents: {pullIntervalSeconds: 120, remoteCheckSeconds: 5, quietCheckSeconds: 10, debounceMs: 1000, maxDelayMs: 8000},
    },
    paths: [
      {path: '.vimrc', encrypt: false, addedAt: '2026-01-02T03:04:05.000Z', addedBy: 'alpha'},
      {path: '.config/fleet/secrets.env', encrypt: true},
    ],
    machines: [
      {
        name: 'alpha',
        hostname: 'alpha.example.org',
        os: 'linux',
        recipient: RECIPIENT,
        sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample alpha@example',
        state: 'active',
        enrolledAt: '2026-01-02T03:04:05.000Z',
        updatedAt: '2026-01-03T03:04:05+02:00',
        approvedAt: '2026-01-02T03:04:05.000Z',
        approvedBy: 'alpha',
      },
      {
        name: 'beta-2',
        hostname: 'beta',
        os: 'darwin',
        recipient: RECIPIENT,
        state: 'pending',
        enrolledAt: '2026-01-04T00:00:00Z',
        updatedAt: '2026-01-04T00:00:00Z',
      },
    ],
    plugins: ['@dotfleet/plugin-example'],
  }
}

/** Run `fn`, expect it to throw, and return what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  assert.fail('expected an error, none was thrown')
}

/** The manifest text with `edit` applied to the parsed object (through JSON, which is valid YAML). */
function manifestText(edit: (raw: {fleet: Record<string, any>}) => void): string {
  const raw = {fleet: JSON.parse(JSON.stringify(validFleet()))}
  edit(raw)
  return JSON.stringify(raw, null, 2)
}

describe('manifest: parse, render, write', function () {
  describe('round trip', function () {
    it('a valid manifest renders to YAML that parses back to the same fleet', function () {
      const fleet = validFleet()
      const text = renderManifest(fleet)
      assert.match(text, /^# The fleet manifest/, 'the rendered file starts with its explanatory header')
      assert.match(text, /^fleet:$/m, 'the top-level key is `fleet` (chezmoi templates read .fleet)')
      assert.deepEqual(parseManifest(text, FILE), fleet)
    })

    it('fills in the defaults for a minimal manifest', function () {
      const text = `fleet:\n  version: 1\n  id: abcdefgh-1234\n  createdAt: 2026-01-02T03:04:05Z\n`
      const fleet = parseManifest(text, FILE)
      assert.deepEqual(fleet.settings, {
        keyType: 'pq',
        branch: 'main',
        maxFileMiB: 20,
        agents: {pullIntervalSeconds: 300, remoteCheckSeconds: 2, quietCheckSeconds: 5, debounceMs: 1500, maxDelayMs: 10_000},
      })
      assert.deepEqual(fleet.paths, [])
      assert.deepEqual(fleet.machines, [])
      assert.deepEqual(fleet.plugins, [])
    })

    it('renderManifest refuses to render an invalid fleet, so a bad value never reaches the forge', function () {
      const fleet = validFleet()
      ;(fleet.machines[0] as any).state = 'sleeping'
      assert.throws(() => renderManifest(fleet))
    })
  })

  describe('invalid fields', function () {
    it('names the file and the field path (machines[0].state) and carries a fix', function () {
      const text = manifestText((raw) => {
        raw.fleet.machines[0].state = 'sleeping'
      })
      const error = thrown(() => parseManifest(text, FILE))
      assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`)
      assert.equal(error.code, 'MANIFEST_INVALID')
      assert.ok(error.message.includes(FILE), `message names the file: ${error.message}`)
      assert.match(error.message, /machines\[0\]\.state/)
      assert.ok(error.fix, 'a fix is given')
      assert.ok(error.fix.includes(FILE), `the fix names the file: ${error.fix}`)
      assert.ok(error.fix.includes(MANIFEST_RELATIVE_PATH), 'the fix says how to restore the file from the forge')
    })

    it('names a nested field further down the roster (machines[1].recipient)', function () {
      const text = manifestText((raw) => {
        raw.fleet.machines[1].recipient = 'not-a-key'
      })
      const error = thrown(() => parseManifest(text, FILE))
      assert.ok(error instanceof ManifestError)
      assert.match(error.message, /machines\[1\]\.recipient/)
      assert.doesNotMatch(error.message, /machines\[0\]/, 'only the broken machine is named')
    })

    it('reports an unknown key instead of silently dropping it', function () {
      const text = manifestText((raw) => {
        raw.fleet.machines[0].colour = 'blue'
      })
      const error = thrown(() => parseManifest(text, FILE))
      assert.ok(error instanceof ManifestError)
      assert.match(error.message, /machines\[0\]/)
      assert.match(error.message, /colour/)
    })

    it('reports invalid YAML as invalid YAML, naming the file, with a fix', function () {
      const error = thrown(() => parseManifest('fleet:\n  version: 1\n  id: [unclosed\n', FILE))
      assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`)
      assert.ok(error.message.includes(FILE))
      assert.match(error.message, /not valid YAML/)
      assert.ok(error.fix)
    })

    it('reports a duplicated key as invalid YAML (no silent last-one-wins)', function () {
      const error = thrown(() => parseManifest('fleet:\n  version: 1\n  version: 1\n', FILE))
      assert.ok(error instanceof ManifestError)
      assert.match(error.message, /not valid YAML/)
    })

    it('an empty file is not a valid manifest', function () {
      const error = thrown(() => parseManifest('', FILE))
      assert.ok(error instanceof ManifestError)
      assert.ok(error.message.includes(FILE))
    })
  })

  describe('a manifest from a newer fleet', function () {
    it(`refuses version ${MANIFEST_VERSION + 1} with MANIFEST_TOO_NEW and says to upgrade`, function () {
      const text = manifestText((raw) => {
        raw.fleet.version = MANIFEST_VERSION + 1
      })
      const error = thrown(() => parseManifest(text, FILE))
      assert.ok(error instanceof FleetError)
      assert.equal(error.code, 'MANIFEST_TOO_NEW')
      assert.ok(error.message.includes(FILE))
      assert.ok(error.message.includes(String(MANIFEST_VERSION + 1)))
      assert.match(error.fix ?? '', /[Uu]pgrade fleet/)
      assert.match(error.fix ?? '', /Nothing was changed/)
    })

    it('refuses it even when its other fields are invalid for the current schema', function () {
      // A future schema may rename, add and retype fields; the person must be told to upgrade, not to "fix" them.
      const text = [
        'fleet:',
        `  version: ${MANIFEST_VERSION + 5}`,
        '  id: x',
        '  createdAt: yesterday',
        '  roster:',
        '    - name: Alpha',
        '  machines:',
        '    - name: alpha',
        '      state: hibernating',
        '',
      ].join('\n')
      const error = thrown(() => parseManifest(text, FILE))
      assert.ok(error instanceof FleetError)
      assert.equal(error.code, 'MANIFEST_TOO_NEW')
      assert.ok(!(error instanceof ManifestError), 'not reported as an invalid manifest')
      assert.doesNotMatch(error.message, /machines\[0\]/)
    })

    it(`accepts version ${MANIFEST_VERSION}`, function () {
      assert.equal(parseManifest(renderManifest(validFleet()), FILE).version, MANIFEST_VERSION)
    })
  })

  describe('managed paths', function () {
    for (const bad of ['../outside', '.config/../../etc/passwd', '/etc/passwd', 'a//b', '.config/fleet/']) {
      it(`refuses ${JSON.stringify(bad)}, naming paths[0].path`, function () {
        const text = manifestText((raw) => {
          raw.fleet.paths = [{path: bad}]
        })
        const error = thrown(() => parseManifest(text, FILE))
        assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`)
        assert.match(error.message, /paths\[0\]\.path/)
      })
    }

    it('accepts a path with dots that is not `..` (e.g. .config/..hidden, a..b)', function () {
      const text = manifestText((raw) => {
        raw.fleet.paths = [{path: '.config/..hidden'}, {path: 'a..b'}]
      })
      assert.deepEqual(
        parseManifest(text, FILE).paths.map((p) => p.path),
        ['.config/..hidden', 'a..b'],
      )
    })
  })

  describe('writeManifest / readManifest', function () {
    let dir: string
    beforeEach(() => {
      dir = makeTempDir('manifest')
    })
    afterEach(() => removeTempDir(dir))

    it('creates .chezmoidata, writes a file that reads back to the same fleet, and leaves no temporary file', async function () {
      const fleet = validFleet()
      await writeManifest(dir, fleet)
      const file = manifestPath(dir)
      assert.equal(file, join(dir, '.chezmoidata', 'fleet.yaml'))
      assert.deepEqual(await readManifest(dir), fleet)
      assert.deepEqual(parseManifest(readFileSync(file, 'utf8'), file), fleet)
      assert.deepEqual(readdirSync(join(dir, '.chezmoidata')), ['fleet.yaml'])
      assert.equal(statSync(file).mode & 0o777, 0o644)
    })

    it('replaces an existing manifest by rename (a new inode), never by rewriting it in place', async function () {
      await writeManifest(dir, validFleet())
      const file = manifestPath(dir)
      const before = statSync(file).ino
      const changed = validFleet()
      changed.machines[1].state = 'active'
      await writeManifest(dir, changed)
      assert.notEqual(statSync(file).ino, before, 'a reader never sees a half-written manifest')
      assert.equal((await readManifest(dir)).machines[1].state, 'active')
      assert.deepEqual(readdirSync(join(dir, '.chezmoidata')), ['fleet.yaml'])
    })

    it('does not write an invalid fleet, and keeps the manifest that was there', async function () {
      await writeManifest(dir, validFleet())
      const file = manifestPath(dir)
      const original = readFileSync(file)
      const bad = validFleet()
      ;(bad.paths[0] as any).path = '../escape'
      await assert.rejects(writeManifest(dir, bad))
      assert.deepEqual(readFileSync(file), original)
    })

    it('readManifest on a source dir without a manifest says the machine is not enrolled', async function () {
      await assert.rejects(readManifest(dir), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'NOT_ENROLLED')
        assert.match(error.fix ?? '', /fleet enroll/)
        return true
      })
    })

    it('readManifest names the real file path in a validation error', async function () {
      mkdirSync(join(dir, '.chezmoidata'))
      writeFileSync(
        manifestPath(dir),
        manifestText((raw) => {
          raw.fleet.machines[0].os = 'windows'
        }),
      )
      await assert.rejects(readManifest(dir), (error: unknown) => {
        assert.ok(error instanceof ManifestError)
        assert.ok(error.message.includes(manifestPath(dir)))
        assert.match(error.message, /machines\[0\]\.os/)
        return true
      })
    })
  })
})
