// Bad keys and bad ciphertext meeting a sync, on real machines: a damaged or foreign ciphertext from the forge (a
// commit made by hand in a clone), and this machine's key missing, not a key, or readable by others. Each time the
// person reads which file and the fix, the exit code is the documented one (1), every other file is applied (or, for
// an exposed key, nothing is done at all), no target is written with garbage, and the printed fix works.
import assert from 'node:assert/strict'
import {chmodSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import type {SyncResult} from '../../src/lib/sync/engine.ts'
import type {StatusReport} from '../../src/lib/status/status.ts'
import {TestFleet} from '../support/fleet.ts'
import {HandClone, printedGitCommand} from '../support/hand-clone.ts'
import type {Machine} from '../support/machine.ts'

const ONE = 'dot_vault/encrypted_private_one.age'

/** alpha and beta share an encrypted directory (~/.vault: one, two) and a plain one (~/.plain/p). */
async function shareVault(fleet: TestFleet): Promise<void> {
  const [alpha, beta] = fleet.machines
  alpha.write('.vault/one', 'one v1\n')
  alpha.write('.vault/two', 'two v1\n')
  alpha.write('.plain/p', 'p v1\n')
  await alpha.addPath('.vault', {encrypt: true})
  await alpha.addPath('.plain')
  await beta.sync()
  assert.equal(beta.read('.vault/one'), 'one v1\n')
}

/** A fleet of alpha and beta sharing the vault (set up once, then put back as it was: see TestFleet). */
async function startFleet(prefix: string): Promise<{fleet: TestFleet; alpha: Machine; beta: Machine}> {
  const fleet = await TestFleet.start(prefix, {prepare: shareVault})
  const [alpha, beta] = fleet.machines
  return {fleet, alpha, beta}
}

/** alpha changes an encrypted file and a plain one, and pushes them: what beta's next sync should apply. */
async function alphaChanges(alpha: Machine): Promise<void> {
  alpha.write('.vault/two', 'two v2\n')
  alpha.write('.plain/p', 'p v2\n')
  await alpha.sync()
}

/** No raw library or process error, and no stack trace, reaches the person. */
function assertNoRawError(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`)
  assert.doesNotMatch(stderr, /^Error: (age:|chezmoi:|invalid |open )/m, `the error is fleet's own words:\n${stderr}`)
}

const fixLine = (stderr: string) => stderr.split('\n').find((line) => line.startsWith('Fix: ')) ?? ''

const ciphertextFaults: Array<[string, (armored: Buffer) => Buffer]> = [
  ['truncated', (armored) => armored.subarray(0, Math.floor(armored.length / 2))],
  [
    'corrupt (one character of the payload changed)',
    (armored) => {
      const text = armored.toString('latin1')
      const at = text.lastIndexOf('-----END') - 10 // inside the base64 payload, armor kept valid
      return Buffer.from(text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1), 'latin1')
    },
  ],
]

for (const [fault, damage] of ciphertextFaults) {
  describe(`bad input: a ${fault} ciphertext from the forge`, function () {
    let fleet: TestFleet
    let alpha: Machine
    let beta: Machine

    before(async function () {
      ;({fleet, alpha, beta} = await startFleet('keys-bad-cipher'))
    })
    after(() => fleet?.remove())

    it('keeps the target, applies every other file, exits 1 naming the file and the fix, and the fix restores it', async function () {
      await alphaChanges(alpha)
      // A person damages ~/.vault/one's ciphertext in a clone, beside a plain change, in one commit.
      const hand = await HandClone.make(fleet.forge, join(fleet.root, 'hand'), fleet.root)
      writeFileSync(join(hand.dir, ONE), damage(readFileSync(join(hand.dir, ONE))))
      writeFileSync(join(hand.dir, 'dot_plain/q'), 'q by hand\n')
      await hand.pushAll('edit by hand')

      const run = await beta.sync({json: false, exit: 1})
      assertNoRawError(run.stderr)
      assert.match(run.stderr, /~\/\.vault\/one: its encrypted source dot_vault\/encrypted_private_one\.age is damaged/)
      assert.match(run.stderr, /came with commit [0-9a-f]+ \(hand: edit by hand\)/, 'the commit that brought it')
      assert.match(
        fixLine(run.stderr),
        /Restore the last version this machine can read: `git -C .* checkout [0-9a-f]+ -- dot_vault\/encrypted_private_one\.age`/,
      )
      assert.doesNotMatch(run.stderr, /~\/\.vault\/two|~\/\.plain/, 'only the damaged file is named')
      assert.equal(beta.read('.vault/one'), 'one v1\n', 'the target keeps its last good contents')
      assert.equal(beta.read('.vault/two'), 'two v2\n', 'the other encrypted file is applied')
      assert.equal(beta.read('.plain/p'), 'p v2\n')
      assert.equal(beta.read('.plain/q'), 'q by hand\n', "the same commit's other change is applied")

      const again = await beta.sync({exit: 1})
      assert.equal(again.result.failure?.code, 'CIPHERTEXT_DAMAGED')
      const status = (await beta.status()).result
      assert.match(status.lastSync?.error ?? '', /~\/\.vault\/one: its encrypted source/)
      const text = (await beta.status({json: false})).stdout
      assert.match(text, /^ {2}~\/\.vault\/one: its encrypted source .* is damaged/m, 'fleet status names the file')

      // The printed fix, pasted: the last good version comes back, for every machine.
      await beta.shell(printedGitCommand(run.stderr))
      await beta.sync()
      await alpha.sync()
      assert.equal(beta.read('.vault/one'), 'one v1\n')
      assert.equal(alpha.read('.vault/one'), 'one v1\n')
      await beta.sync()
    })
  })
}

describe('bad input: an encrypted file this machine is not a recipient of', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    ;({fleet, alpha, beta} = await startFleet('keys-bad-recipient'))
  })
  after(() => fleet?.remove())

  it('keeps the target, re-encrypts and applies the rest, exits 1 saying it is for other keys only, and the fix restores it', async function () {
    await alphaChanges(alpha)
    // Encrypted by hand to someone else's key only (one recipient, where the fleet has two: a stale set as well).
    const stranger = join(fleet.root, 'stranger.key')
    await execa('age-keygen', ['-o', stranger])
    const recipient = (await execa('age-keygen', ['-y', stranger])).stdout
    const hand = await HandClone.make(fleet.forge, join(fleet.root, 'hand'), fleet.root)
    await execa('age', ['--armor', '-r', recipient, '-o', join(hand.dir, ONE)], {input: 'for someone else\n'})
    writeFileSync(join(hand.dir, 'dot_plain/q'), 'q by hand\n')
    await hand.pushAll('encrypt by hand')

    const run = await beta.sync({json: false, exit: 1})
    assertNoRawError(run.stderr)
    assert.match(run.stderr, /~\/\.vault\/one: its encrypted source dot_vault\/encrypted_private_one\.age is not encrypted to this machine's key/)
    assert.match(fixLine(run.stderr), /`git -C .* checkout [0-9a-f]+ -- dot_vault\/encrypted_private_one\.age`/)
    assert.doesNotMatch(run.stderr, /fleet machines approve/, 'an active machine is not told to get approved')
    assert.equal(beta.read('.vault/one'), 'one v1\n', 'the target keeps its last good contents')
    assert.equal(beta.read('.vault/two'), 'two v2\n')
    assert.equal(beta.read('.plain/q'), 'q by hand\n')
    assert.equal((await beta.sync({exit: 1})).result.failure?.code, 'NOT_A_RECIPIENT')

    await beta.shell(printedGitCommand(run.stderr))
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('.vault/one'), 'one v1\n')
  })
})

describe('bad input: this machine key file missing, not a key, or readable by others', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    ;({fleet, alpha, beta} = await startFleet('keys-bad-identity'))
  })
  after(() => fleet?.remove())

  /** beta's sync exits 1 naming its key file; the plain change is applied, the encrypted files keep what they had. */
  async function assertKeyFailure(code: string, what: RegExp): Promise<string> {
    const run = await beta.sync({json: false, exit: 1})
    assertNoRawError(run.stderr)
    assert.ok(run.stderr.includes(beta.identityFile), `the key file is named:\n${run.stderr}`)
    assert.match(run.stderr, what)
    // The encrypted file alpha changed is named (a sync in step looks only at what changed: the others wait as they are).
    assert.match(run.stderr, /\d+ encrypted files? (?:was|were) not applied here.*~\/\.vault\/two/)
    assert.ok(fixLine(run.stderr).includes(`put it back in ${beta.identityFile}`), fixLine(run.stderr))
    assert.match(fixLine(run.stderr), /fleet enroll/)
    assert.equal(beta.read('.plain/p'), alpha.read('.plain/p'), 'the plain file is applied')
    assert.equal(beta.read('.vault/two'), 'two v1\n', 'the encrypted file keeps what it had')
    assert.equal(beta.read('.vault/one'), 'one v1\n')
    assert.equal((await beta.sync({exit: 1})).result.failure?.code, code)
    const status: StatusReport = (await beta.status()).result
    assert.equal(status.key?.code, code, 'fleet status shows what is wrong with the key')
    return run.stderr
  }

  it('missing: applies the plain files, names the key file and how to get it back; the key put back, all applies', async function () {
    await alphaChanges(alpha)
    renameSync(beta.identityFile, `${beta.identityFile}.aside`)
    await assertKeyFailure('IDENTITY_MISSING', /age identity .* is missing/)
    renameSync(`${beta.identityFile}.aside`, beta.identityFile)
    await beta.sync()
    assert.equal(beta.read('.vault/two'), 'two v2\n')
  })

  it('missing, then a new key made by enroll: the sync before the roster step says the roster holds the old key, and how to let the new one in', async function () {
    renameSync(beta.identityFile, `${beta.identityFile}.aside`)
    const run = await beta.enroll(undefined, {json: false, exit: 1})
    assertNoRawError(run.stderr)
    assert.ok(run.stderr.includes(`${beta.identityFile} is not the key the fleet knows for beta`), run.stderr)
    const fix = fixLine(run.stderr)
    // The way back that works under a permanent revocation: a new name, approved; the old name revoked.
    assert.ok(fix.includes('fleet enroll --name <new-name>') && fix.includes('fleet machines approve <new-name>'), fix)
    assert.ok(fix.includes('fleet machines revoke beta') && !fix.includes('fleet machines approve beta'), fix)
    assert.doesNotMatch(run.stderr, /git -C .* rm/, 'no file is offered for removal: the key is the trouble, not the files')
    assert.equal(beta.read('.vault/two'), 'two v2\n', 'the encrypted files keep what they had')
    assert.equal((await beta.status()).result.key?.code, 'KEY_NOT_IN_ROSTER')
    renameSync(`${beta.identityFile}.aside`, beta.identityFile)
    await beta.sync()
  })

  it('not an age key: applies the plain files, names the key file, and never rewrites it', async function () {
    const key = readFileSync(beta.identityFile)
    alpha.write('.vault/two', 'two v3\n')
    alpha.write('.plain/p', 'p v3\n')
    await alpha.sync()
    beta.write('.vault/two', 'two v2\n') // as it was: the assertion below reads what it keeps
    writeFileSync(beta.identityFile, 'not a key\n', {mode: 0o600})
    const before = beta.read('.vault/two')
    const run = await beta.sync({json: false, exit: 1})
    assertNoRawError(run.stderr)
    assert.ok(run.stderr.includes(`${beta.identityFile} is not an age identity file`), run.stderr)
    assert.ok(fixLine(run.stderr).includes(`put it back in ${beta.identityFile}`))
    assert.equal(beta.read('.plain/p'), 'p v3\n', 'the plain file is applied')
    assert.equal(beta.read('.vault/two'), before, 'the encrypted file keeps what it had')
    assert.equal(readFileSync(beta.identityFile, 'utf8'), 'not a key\n', 'the key file is left for the person')
    assert.equal((await beta.sync({exit: 1})).result.failure?.code, 'IDENTITY_INVALID')
    writeFileSync(beta.identityFile, key)
    await beta.sync()
    assert.equal(beta.read('.vault/two'), 'two v3\n')
  })

  it('readable by others (0644): refuses before anything is decrypted or applied, says the key may be exposed, and chmod 600 fixes it', async function () {
    alpha.write('.vault/two', 'two v4\n')
    alpha.write('.plain/p', 'p v4\n')
    await alpha.sync()
    chmodSync(beta.identityFile, 0o644)
    const run = await beta.sync({json: false, exit: 1})
    assertNoRawError(run.stderr)
    assert.ok(run.stderr.includes(`${beta.identityFile} is readable by others (mode 0644): the key may have been exposed`), run.stderr)
    const fix = fixLine(run.stderr)
    assert.ok(fix.includes(`\`chmod 600 ${beta.identityFile}\``), fix)
    assert.match(fix, /fleet rotate-keys/)
    assert.equal(beta.read('.vault/two'), 'two v3\n', 'nothing is decrypted with an exposed key')
    assert.equal(beta.read('.plain/p'), 'p v3\n', 'nothing is applied: the sync is refused before it starts')
    assert.equal(beta.mode(beta.identityFile), 0o644, 'the mode is left for the person to fix (and to judge the exposure)')
    const result: SyncResult = (await beta.sync({exit: 1})).result
    assert.equal(result.failure?.code, 'IDENTITY_EXPOSED')
    assert.equal((await beta.status()).result.key?.code, 'IDENTITY_EXPOSED')

    await beta.shell(/`(chmod [^`]+)`/.exec(fix)![1])
    await beta.sync()
    assert.equal(beta.read('.vault/two'), 'two v4\n')
    assert.equal(beta.read('.plain/p'), 'p v4\n')
    assert.equal((await beta.status()).result.key, undefined, 'status shows no key problem once fixed')
  })
})
