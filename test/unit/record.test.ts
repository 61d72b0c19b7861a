// The record of which recipient set each encrypted file is for: a file for a stale set is found even when the set has
// the same size, records merge as a union, and lines for ciphertexts that are gone are dropped.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {encryptTo, reencryptSource} from '../../src/lib/keys/crypto.ts'
import {type AgeIdentity, ensureIdentity} from '../../src/lib/keys/identity.ts'
import {
  ENCRYPTION_RECORD_FILE,
  filesNotFor,
  mergeRecords,
  readRecord,
  recordChezmoiEncryptions,
  recipientSetFingerprint,
  recordEncryptions,
} from '../../src/lib/keys/record.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('record: which recipients each encrypted file is for', function () {
  let root: string
  let source: string
  const ids: Record<string, AgeIdentity> = {}
  const FILE = 'dot_config/encrypted_private_token.age'

  before(async function () {
    root = makeTempDir('record')
    for (const name of ['a', 'b', 'c']) ids[name] = (await ensureIdentity(join(root, 'keys', name, 'identity.txt'), 'x25519')).identity
  })
  after(() => removeTempDir(root))
  beforeEach(function () {
    source = join(root, `source-${Math.random().toString(36).slice(2)}`)
    mkdirSync(join(source, 'dot_config'), {recursive: true})
  })

  it('the same recipients in any order have one fingerprint; another set of the same size has another', function () {
    const {a, b, c} = ids
    assert.equal(recipientSetFingerprint([a.recipient, b.recipient]), recipientSetFingerprint([b.recipient, a.recipient]))
    assert.notEqual(recipientSetFingerprint([a.recipient, b.recipient]), recipientSetFingerprint([a.recipient, c.recipient]))
  })

  it('a file encrypted for a stale set of the same size is found and re-encrypted: the new machine reads it, the old one does not', async function () {
    const {a, b, c} = ids
    const stale = [a.recipient, b.recipient]
    const ciphertext = await encryptTo(stale, 'TOKEN=1\n')
    writeFileSync(join(source, FILE), ciphertext)
    await recordEncryptions(source, [{ciphertext, recipients: stale}])
    assert.deepEqual(await filesNotFor(source, [FILE], stale), [], 'recorded for its set')

    const current = [a.recipient, c.recipient] // b replaced by c: still two recipients
    assert.deepEqual(await filesNotFor(source, [FILE, 'dot_vimrc'], current), [FILE])
    const {rewritten, failed} = await reencryptSource(source, await filesNotFor(source, [FILE], current), a, current)
    assert.deepEqual([rewritten, failed], [[FILE], []])
    assert.deepEqual(await filesNotFor(source, [FILE], current), [], 'recorded for the current set once re-encrypted')
    const open = (key: AgeIdentity) => execa('age', ['-d', '-i', key.file, join(source, FILE)], {reject: false})
    assert.equal((await open(c)).stdout, 'TOKEN=1')
    assert.notEqual((await open(b)).exitCode, 0)
  })

  it('a file the record does not know is taken as stale (an existing fleet migrates once)', async function () {
    writeFileSync(join(source, FILE), await encryptTo([ids.a.recipient], 'x'))
    assert.deepEqual(await filesNotFor(source, [FILE], [ids.a.recipient]), [FILE])
  })

  it("records what chezmoi wrote (the uncommitted encrypted files) for the recipients file's set; what fleet encrypted meanwhile keeps its own", async function () {
    const {a, b} = ids
    const byChezmoi = await encryptTo([a.recipient], 'from chezmoi')
    writeFileSync(join(source, FILE), byChezmoi)
    const byFleet = await encryptTo([a.recipient, b.recipient], 'merged by fleet')
    writeFileSync(join(source, 'encrypted_dot_netrc.age'), byFleet)
    await recordEncryptions(source, [{ciphertext: byFleet, recipients: [a.recipient, b.recipient]}])
    await recordChezmoiEncryptions(source, [FILE, 'encrypted_dot_netrc.age'], [a.recipient])
    assert.deepEqual(await filesNotFor(source, [FILE, 'encrypted_dot_netrc.age'], [a.recipient]), ['encrypted_dot_netrc.age'])
    assert.deepEqual(await filesNotFor(source, [FILE, 'encrypted_dot_netrc.age'], [a.recipient, b.recipient]), [FILE])
  })

  it('drops the lines of ciphertexts the source no longer holds when it writes', async function () {
    const first = await encryptTo([ids.a.recipient], 'one')
    writeFileSync(join(source, FILE), first)
    await recordEncryptions(source, [{ciphertext: first, recipients: [ids.a.recipient]}])
    rmSync(join(source, FILE))
    const second = await encryptTo([ids.a.recipient], 'two')
    writeFileSync(join(source, 'encrypted_dot_netrc.age'), second)
    await recordEncryptions(source, [{ciphertext: second, recipients: [ids.a.recipient]}])
    assert.equal((await readRecord(source)).size, 1)
    assert.match(readFileSync(join(source, ENCRYPTION_RECORD_FILE), 'utf8'), /^# /)
  })

  it('merges two records as the union of their lines', function () {
    const line = (n: string) => `${n.repeat(64)} ${'f'.repeat(32)}\n`
    const merged = mergeRecords(`# mine\n${line('1')}${line('2')}`, `# theirs\n${line('2')}${line('3')}`)
    for (const n of ['1', '2', '3']) assert.ok(merged.includes(line(n)), merged)
    assert.equal(merged.split('\n').filter((l) => l.startsWith('2')).length, 1)
  })
})
