// age encryption in-process: what fleet encrypts, the real age binary decrypts; re-encryption writes nothing
// unless every file verified.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {FleetError} from '../../src/lib/errors/index.ts'
import {decryptWith, encryptTo, isEncryptedSourceFile, recipientStanzaCount, reencryptSource} from '../../src/lib/keys/crypto.ts'
import {type AgeIdentity, ensureIdentity} from '../../src/lib/keys/identity.ts'
import type {KeyType} from '../../src/lib/manifest/schema.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

async function ageDecrypt(identityFile: string, file: string): Promise<string> {
  const result = await execa('age', ['--decrypt', '-i', identityFile, file], {reject: false, encoding: 'utf8', stripFinalNewline: false})
  if (result.exitCode !== 0) throw new Error(`age --decrypt -i ${identityFile} ${file} failed: ${result.stderr}`)
  return String(result.stdout)
}

describe('crypto: encrypt, decrypt, re-encrypt', function () {
  let root: string
  const ids: Record<string, AgeIdentity> = {}

  before(async function () {
    root = makeTempDir('crypto')
    for (const [name, keyType] of [
      ['a', 'x25519'],
      ['b', 'x25519'],
      ['c', 'x25519'],
      ['pqA', 'pq'],
      ['pqB', 'pq'],
    ] as Array<[string, KeyType]>) {
      ids[name] = (await ensureIdentity(join(root, 'keys', name, 'identity.txt'), keyType)).identity
    }
  })
  after(() => removeTempDir(root))

  describe('encryptTo / decryptWith', function () {
    for (const [label, first, second] of [
      ['x25519', 'a', 'b'],
      ['pq', 'pqA', 'pqB'],
    ] as const) {
      it(`round-trips text and binary for every ${label} recipient, armored`, async function () {
        const binary = Uint8Array.from({length: 512}, (_, i) => (i * 7) % 256)
        for (const plaintext of ['TOKEN=s3cret\nä ü ✓\n', binary]) {
          const ciphertext = await encryptTo([ids[first].recipient, ids[second].recipient], plaintext)
          assert.match(ciphertext, /^-----BEGIN AGE ENCRYPTED FILE-----/)
          const expected = typeof plaintext === 'string' ? Buffer.from(plaintext) : Buffer.from(plaintext)
          for (const who of [first, second]) {
            const decrypted = await decryptWith(ids[who], Buffer.from(ciphertext), 'f.age')
            assert.deepEqual(Buffer.from(decrypted), expected)
          }
        }
      })
    }

    it('a key the file was not encrypted to cannot decrypt it: DECRYPT_FAILED naming the file, with a fix', async function () {
      const ciphertext = await encryptTo([ids.a.recipient], 'secret')
      await assert.rejects(decryptWith(ids.c, Buffer.from(ciphertext), 'dot_config/encrypted_private_x.age'), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'DECRYPT_FAILED')
        assert.match(error.message, /encrypted_private_x\.age/)
        assert.ok(error.fix)
        return true
      })
    })

    it('refuses to encrypt for nobody', async function () {
      await assert.rejects(encryptTo([], 'secret'), (error: unknown) => error instanceof FleetError && error.code === 'NO_RECIPIENTS')
    })

    it('the real age binary decrypts what encryptTo wrote', async function () {
      const file = join(root, 'by-fleet.age')
      writeFileSync(file, await encryptTo([ids.pqA.recipient, ids.pqB.recipient], 'from fleet\n'))
      assert.equal(await ageDecrypt(ids.pqB.file, file), 'from fleet\n')
    })

    it('decryptWith reads what the real age binary wrote (binary and armored)', async function () {
      for (const armor of [[], ['--armor']]) {
        const result = await execa('age', ['--encrypt', ...armor, '-r', ids.a.recipient], {input: 'from age\n', encoding: 'buffer', stripFinalNewline: false})
        const decrypted = await decryptWith(ids.a, Buffer.from(result.stdout), 'x.age')
        assert.equal(Buffer.from(decrypted).toString(), 'from age\n')
      }
    })
  })

  describe('recipientStanzaCount', function () {
    for (const count of [1, 2, 3]) {
      it(`counts ${count} x25519 recipient(s)`, async function () {
        const recipients = [ids.a, ids.b, ids.c].slice(0, count).map((i) => i.recipient)
        assert.equal(await recipientStanzaCount(Buffer.from(await encryptTo(recipients, 'x'))), count)
      })
    }

    it('counts 2 pq recipients', async function () {
      assert.equal(await recipientStanzaCount(Buffer.from(await encryptTo([ids.pqA.recipient, ids.pqB.recipient], 'x'))), 2)
    })

    it('counts the recipients of a file the age binary wrote, unarmored', async function () {
      const result = await execa('age', ['--encrypt', '-r', ids.a.recipient, '-r', ids.b.recipient, '-r', ids.c.recipient], {
        input: 'x',
        encoding: 'buffer',
        stripFinalNewline: false,
      })
      assert.equal(await recipientStanzaCount(Buffer.from(result.stdout)), 3)
    })
  })

  describe('reencryptSource', function () {
    let source: string
    const FILES = ['dot_config/fleet/encrypted_private_secrets.env.age', 'encrypted_dot_netrc.age']
    const PLAINTEXTS = ['TOKEN=one\n', 'machine example.org login me password two\n']

    beforeEach(async function () {
      source = join(root, `source-${Math.random().toString(36).slice(2)}`)
      mkdirSync(join(source, 'dot_config', 'fleet'), {recursive: true})
      for (const [i, relative] of FILES.entries()) {
        writeFileSync(join(source, relative), await encryptTo([ids.a.recipient], PLAINTEXTS[i]))
      }
      chmodSync(join(source, FILES[0]), 0o600)
      writeFileSync(join(source, 'dot_vimrc'), 'set number\n')
    })

    it('re-encrypts every encrypted file for [a, b]: the age binary decrypts each with either key', async function () {
      const plain = readFileSync(join(source, 'dot_vimrc'))
      const {rewritten: written, failed} = await reencryptSource(source, [...FILES, 'dot_vimrc'], ids.a, [ids.a.recipient, ids.b.recipient])
      assert.deepEqual(written.sort(), [...FILES].sort())
      assert.deepEqual(failed, [])
      for (const [i, relative] of FILES.entries()) {
        const file = join(source, relative)
        assert.equal(await ageDecrypt(ids.a.file, file), PLAINTEXTS[i])
        assert.equal(await ageDecrypt(ids.b.file, file), PLAINTEXTS[i])
        assert.equal(await recipientStanzaCount(readFileSync(file)), 2)
      }
      assert.equal(statSync(join(source, FILES[0])).mode & 0o777, 0o600, 'the file keeps its mode')
      assert.deepEqual(readFileSync(join(source, 'dot_vimrc')), plain, 'a plain file is left alone')
    })

    it('re-encrypting for fewer recipients drops one: [a, b, c] → [a, b] locks c out', async function () {
      for (const [i, relative] of FILES.entries()) {
        writeFileSync(join(source, relative), await encryptTo([ids.a.recipient, ids.b.recipient, ids.c.recipient], PLAINTEXTS[i]))
      }
      await reencryptSource(source, FILES, ids.a, [ids.a.recipient, ids.b.recipient])
      for (const [i, relative] of FILES.entries()) {
        const file = join(source, relative)
        assert.equal(await ageDecrypt(ids.b.file, file), PLAINTEXTS[i])
        await assert.rejects(ageDecrypt(ids.c.file, file))
      }
    })

    it('refuses to re-encrypt for a set without this machine, and writes nothing (the result could not be verified)', async function () {
      const before = FILES.map((f) => readFileSync(join(source, f)))
      await assert.rejects(reencryptSource(source, FILES, ids.a, [ids.b.recipient]), FleetError)
      for (const [i, relative] of FILES.entries()) assert.deepEqual(readFileSync(join(source, relative)), before[i])
    })

    it('with a key that cannot decrypt one file: names it (DECRYPT_FAILED), leaves it as it was, and re-encrypts the others', async function () {
      // The second file is for c only; the first re-encrypts fine, and is written: one file never stops the others.
      writeFileSync(join(source, FILES[1]), await encryptTo([ids.c.recipient], PLAINTEXTS[1]))
      const before = readFileSync(join(source, FILES[1]))
      const {rewritten, failed} = await reencryptSource(source, FILES, ids.a, [ids.a.recipient, ids.b.recipient])
      assert.deepEqual(rewritten, [FILES[0]])
      assert.equal(failed.length, 1)
      assert.equal(failed[0].file, FILES[1])
      assert.equal(failed[0].code, 'DECRYPT_FAILED')
      assert.ok(failed[0].message.includes(FILES[1]), failed[0].message)
      assert.ok(failed[0].fix)
      assert.deepEqual(readFileSync(join(source, FILES[1])), before, `${FILES[1]} is unchanged`)
      assert.equal(await ageDecrypt(ids.b.file, join(source, FILES[0])), PLAINTEXTS[0], 'b was added to the first file')
    })

    it('tells a damaged or truncated file (CIPHERTEXT_CORRUPT) from one not for this key (DECRYPT_FAILED), and never writes over it', async function () {
      const good = await encryptTo([ids.a.recipient], PLAINTEXTS[1])
      const truncated = Buffer.from((await import('age-encryption')).armor.decode(good)).subarray(0, 200)
      for (const damaged of [
        truncated,
        Buffer.from('not age at all\n'),
        Buffer.from(good.replace(/[A-Za-z](?=[^\n]*\n-----END)/, (c) => (c === 'A' ? 'B' : 'A'))),
      ]) {
        writeFileSync(join(source, FILES[1]), damaged)
        const {rewritten, failed} = await reencryptSource(source, FILES, ids.a, [ids.a.recipient, ids.b.recipient])
        assert.deepEqual(rewritten, [FILES[0]])
        assert.deepEqual(
          failed.map((f) => [f.file, f.code]),
          [[FILES[1], 'CIPHERTEXT_CORRUPT']],
        )
        assert.ok(failed[0].fix?.includes('git'), failed[0].fix)
        assert.deepEqual(readFileSync(join(source, FILES[1])), damaged, 'the damaged file is left as it was')
      }
    })

    it('with a key that decrypts nothing, reports every file and writes nothing', async function () {
      const before = FILES.map((f) => readFileSync(join(source, f)))
      const {rewritten, failed} = await reencryptSource(source, FILES, ids.c, [ids.c.recipient])
      assert.deepEqual(rewritten, [])
      assert.deepEqual(
        failed.map((f) => f.file),
        FILES,
      )
      for (const [i, relative] of FILES.entries()) assert.deepEqual(readFileSync(join(source, relative)), before[i])
    })

    it('decrypts with every key given and verifies with the one named: a rotation reads with the old key, checks with the new', async function () {
      const {rewritten, failed} = await reencryptSource(source, FILES, {read: [ids.a, ids.b], verify: ids.b}, [ids.b.recipient, ids.c.recipient])
      assert.deepEqual([rewritten.length, failed], [FILES.length, []])
      for (const [i, relative] of FILES.entries()) {
        assert.equal(await ageDecrypt(ids.b.file, join(source, relative)), PLAINTEXTS[i])
        await assert.rejects(ageDecrypt(ids.a.file, join(source, relative)), 'the old key opens none of them')
      }
    })
  })

  describe('isEncryptedSourceFile', function () {
    const cases: Array<[string, boolean]> = [
      ['encrypted_private_x.age', true],
      ['create_encrypted_y.age', true],
      ['dot_config/fleet/encrypted_private_secrets.env.age', true],
      ['dot_encrypted_z', false],
      ['dot_encrypted_z.age', false],
      ['encrypted_w', false],
      ['private_dot_encrypted_v.age', false],
      ['encrypted_dir/dot_plain', false],
    ]
    for (const [path, expected] of cases) {
      it(`${path} → ${expected}`, function () {
        assert.equal(isEncryptedSourceFile(path), expected)
      })
    }
  })
})
