// This machine's age identity: created once with private modes, never replaced, read back from age-keygen's
// own format.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {execa} from 'execa'

import {FleetError} from '../../src/lib/errors/index.ts'
import {ensureIdentity, keyTypeOfRecipient, parseIdentityFile, readIdentity} from '../../src/lib/keys/identity.ts'
import type {KeyType} from '../../src/lib/manifest/schema.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const mode = (path: string) => statSync(path).mode & 0o777

async function ageKeygen(args: string[], file: string): Promise<void> {
  await execa('age-keygen', [...args, '-o', file])
}

async function recipientOf(file: string): Promise<string> {
  return String((await execa('age-keygen', ['-y', file])).stdout).trim()
}

describe('identity: ensureIdentity, parseIdentityFile', function () {
  let root: string
  beforeEach(() => {
    root = makeTempDir('identity')
  })
  afterEach(() => removeTempDir(root))

  const types: Array<[KeyType, RegExp]> = [
    ['pq', /^age1pq1[0-9a-z]+$/],
    ['x25519', /^age1(?!pq1)[0-9a-z]+$/],
  ]
  for (const [keyType, recipientPattern] of types) {
    it(`creates a ${keyType} identity: file 0600 in a directory 0700, readable by age itself`, async function () {
      const file = join(root, 'home', '.config', 'fleet', 'identity.txt')
      const {identity, created, modeFixed} = await ensureIdentity(file, keyType)
      assert.equal(created, true)
      assert.equal(modeFixed, false)
      assert.equal(identity.keyType, keyType)
      assert.match(identity.recipient, recipientPattern)
      assert.equal(keyTypeOfRecipient(identity.recipient), keyType)
      assert.equal(mode(file), 0o600)
      assert.equal(mode(dirname(file)), 0o700)
      assert.deepEqual(readdirSync(dirname(file)), ['identity.txt'], 'no temporary file is left behind')
      // The real age tools agree on the public key of what was written.
      assert.equal(await recipientOf(file), identity.recipient)
      assert.equal(identity.secret, parseIdentityFile(readFileSync(file, 'utf8'), file))
    })

    it(`a second ensureIdentity (${keyType}) reuses the key and never changes the file`, async function () {
      const file = join(root, 'fleet', 'identity.txt')
      const first = await ensureIdentity(file, keyType)
      const bytes = readFileSync(file)
      const {ino} = statSync(file)
      const second = await ensureIdentity(file, keyType)
      assert.equal(second.created, false)
      assert.equal(second.modeFixed, false)
      assert.equal(second.identity.recipient, first.identity.recipient)
      assert.equal(second.identity.secret, first.identity.secret)
      assert.deepEqual(readFileSync(file), bytes)
      assert.equal(statSync(file).ino, ino)
    })
  }

  it('never replaces an existing key, even when asked for the other key type', async function () {
    const file = join(root, 'fleet', 'identity.txt')
    const first = await ensureIdentity(file, 'x25519')
    const bytes = readFileSync(file)
    const second = await ensureIdentity(file, 'pq')
    assert.equal(second.created, false)
    assert.equal(second.identity.recipient, first.identity.recipient)
    assert.equal(second.identity.keyType, 'x25519')
    assert.deepEqual(readFileSync(file), bytes)
  })

  // Two enrolls at once (or an enroll and an agent) must end with one key, not two that each think they won.
  //
  // BUG (src/lib/keys/identity.ts, ensureIdentity) — the x25519 case fails: the temporary file is named
  // `${file}.${process.pid}.${Date.now()}.tmp`, so two calls in one process within the same millisecond get
  // the same name, and the loser's `open(temporary, 'wx')` throws EEXIST instead of reusing the winner's key.
  // (x25519 keys are generated fast enough to collide nearly every time; pq key generation is slow enough to
  // spread the calls out, so that case usually passes by luck.) Proposed fix: a unique temporary name, e.g.
  // `${file}.${process.pid}.${randomUUID()}.tmp` with randomUUID from node:crypto.
  for (const keyType of ['pq', 'x25519'] as const) {
    it(`20 concurrent ensureIdentity calls (${keyType}) on one path yield exactly one key`, async function () {
      const file = join(root, 'fleet', 'identity.txt')
      const results = await Promise.allSettled(Array.from({length: 20}, () => ensureIdentity(file, keyType)))
      const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))
      assert.deepEqual(failures, [], 'no call fails')
      const fulfilled = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof ensureIdentity>>>).value)
      const recipients = new Set(fulfilled.map((r) => r.identity.recipient))
      assert.equal(recipients.size, 1, 'every call returns the same recipient')
      assert.equal(fulfilled.filter((r) => r.created).length, 1, 'exactly one call created the key')
      assert.equal(await recipientOf(file), [...recipients][0], 'the file on disk holds that key')
      assert.deepEqual(readdirSync(dirname(file)), ['identity.txt'], 'no temporary file is left behind')
      assert.equal(mode(file), 0o600)
    })
  }

  it('tightens an identity file that group or others can read to 0600 and says so', async function () {
    const dir = join(root, 'fleet')
    mkdirSync(dir, {mode: 0o700})
    const file = join(dir, 'identity.txt')
    await ageKeygen([], file)
    chmodSync(file, 0o644)
    const expected = await recipientOf(file)
    const bytes = readFileSync(file)
    const {identity, created, modeFixed} = await ensureIdentity(file, 'x25519')
    assert.equal(created, false)
    assert.equal(modeFixed, true)
    assert.equal(mode(file), 0o600)
    assert.equal(identity.recipient, expected)
    assert.deepEqual(readFileSync(file), bytes, 'only the mode changes, never the key')
  })

  for (const [label, args] of [
    ['age-keygen', []],
    ['age-keygen -pq', ['-pq']],
  ] as const) {
    it(`reads ${label} output (comments, blank lines) to the recipient age-keygen -y gives`, async function () {
      const file = join(root, 'key.txt')
      await ageKeygen([...args], file)
      const original = readFileSync(file, 'utf8')
      assert.match(original, /^# /m, 'age-keygen writes comment lines')
      // Blank lines and CRLF line ends (a file copied through another OS) are read as well.
      const decorated = `\n# a note added by hand\n\n${original.replace(/\n/g, '\r\n')}\n\n`
      writeFileSync(file, decorated, {mode: 0o600})
      const secret = parseIdentityFile(decorated, file)
      assert.match(secret, args.length ? /^AGE-SECRET-KEY-PQ-1/ : /^AGE-SECRET-KEY-1/)
      const identity = await readIdentity(file)
      assert.equal(identity.recipient, await recipientOf(file))
      assert.equal(identity.keyType, args.length ? 'pq' : 'x25519')
    })
  }

  const garbage: Array<[string, string]> = [
    ['text that is not a key', 'hello world\n'],
    ['an empty file', ''],
    ['only comments', '# created: 2026-01-01\n# public key: age1abc\n'],
    ['two keys', 'AGE-SECRET-KEY-1AAAA\nAGE-SECRET-KEY-1BBBB\n'],
    ['a public key instead of a secret one', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n'],
  ]
  for (const [label, text] of garbage) {
    it(`refuses ${label} with IDENTITY_INVALID, naming the file, with a fix`, function () {
      const file = '/home/someone/.config/fleet/identity.txt'
      assert.throws(
        () => parseIdentityFile(text, file),
        (error: unknown) => {
          assert.ok(error instanceof FleetError)
          assert.equal(error.code, 'IDENTITY_INVALID')
          assert.ok(error.message.includes(file))
          assert.ok(error.fix?.includes(file), 'the fix names the file to move aside')
          return true
        },
      )
    })
  }

  it('ensureIdentity on a garbage identity file refuses it and does not overwrite it', async function () {
    const file = join(root, 'fleet', 'identity.txt')
    mkdirSync(dirname(file), {mode: 0o700})
    writeFileSync(file, 'not a key\n', {mode: 0o600})
    await assert.rejects(ensureIdentity(file, 'pq'), (error: unknown) => {
      assert.ok(error instanceof FleetError)
      assert.equal(error.code, 'IDENTITY_INVALID')
      assert.ok(error.fix)
      return true
    })
    assert.equal(readFileSync(file, 'utf8'), 'not a key\n')
  })

  it('readIdentity on a missing file says IDENTITY_MISSING with the fix', async function () {
    await assert.rejects(readIdentity(join(root, 'nope.txt')), (error: unknown) => {
      assert.ok(error instanceof FleetError)
      assert.equal(error.code, 'IDENTITY_MISSING')
      assert.match(error.fix ?? '', /fleet enroll/)
      return true
    })
  })
})
