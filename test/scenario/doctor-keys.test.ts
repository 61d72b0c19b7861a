// fleet doctor's Keys checks on a real fleet of two (real age, chezmoi and git): a healthy machine is all ok; then,
// one after another on the same machines, a key others can read, a key that is not the roster's, a file encrypted
// for a stale set of recipients, a damaged ciphertext, a rotation asked of every machine and one killed half way —
// each caught by its check with the fix, and `fleet doctor --fix` repairing what it says it repairs.
import assert from 'node:assert/strict'
import {chmodSync, copyFileSync, existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {KILL_AFTER_STEP_ENV} from '../../src/lib/rotation/rotate.ts'
import {checkOf, statusesOf} from '../support/doctor.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'

const KEY_CHECKS = ['keys.identity', 'keys.mode', 'keys.roster', 'keys.decrypt', 'keys.recipients', 'keys.rotation']

const SECRETS: Record<string, string> = {
  '.netrc': 'machine example.org login me password one\n',
  '.config/tokens/api.env': 'API_TOKEN=two\n',
}

const ALL_OK = Object.fromEntries(KEY_CHECKS.map((id) => [id, 'ok']))

/** Whether the real age binary opens `ciphertext` with the key in `keyFile`. */
async function ageOpens(keyFile: string, ciphertext: Uint8Array): Promise<boolean> {
  return (await execa('age', ['--decrypt', '-i', keyFile], {input: ciphertext, reject: false, encoding: 'buffer'})).exitCode === 0
}

/** An encrypted file at the forge's head, as bytes. */
async function forgeBlob(fleet: TestFleet, path: string): Promise<Buffer> {
  return Buffer.from((await execa('git', ['--git-dir', fleet.forge.path, 'cat-file', 'blob', `main:${path}`], {encoding: 'buffer'})).stdout)
}

/** The encrypted source entry whose name holds `needle`, relative to the source repo (encrypted_…age). */
async function encryptedSource(machine: Machine, needle: string): Promise<string> {
  const files = (await machine.git(['ls-files'])).split('\n')
  const found = files.find((f) => f.includes(needle) && f.endsWith('.age'))
  assert.ok(found, `an encrypted source for ${needle} among ${files.join(', ')}`)
  return found
}

describe('doctor: keys', function () {
  this.timeout(120_000)
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('doctor-keys', {machines: ['alpha', 'beta']})
    ;[alpha, beta] = fleet.machines
    for (const [target, content] of Object.entries(SECRETS)) alpha.write(target, content)
    await alpha.addPath(Object.keys(SECRETS), {encrypt: true})
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('a healthy machine: every Keys check is ok', async function () {
    const report = (await alpha.doctor({exit: 'any'})).result
    assert.deepEqual(statusesOf(report, KEY_CHECKS), ALL_OK, JSON.stringify(report.checks, null, 1))
    assert.match(checkOf(report, 'keys.identity').message, /^~\/\.config\/fleet\/identity\.txt holds an age identity/)
    assert.match(checkOf(report, 'keys.decrypt').message, /opens all \d+ encrypted file/)
    assert.match(checkOf(report, 'keys.recipients').message, /^All \d+ encrypted files are encrypted for the 2 active machines\.$/)
  })

  it('a key others can read: the sync refuses it, keys.mode fails, and --fix makes it 0600 again', async function () {
    chmodSync(alpha.identityFile, 0o644)
    const refused = await alpha.sync({exit: 'any'})
    assert.notEqual(refused.exitCode, 0, 'the sync refuses an exposed key')
    const found = (await alpha.doctor({exit: 1})).result
    const mode = checkOf(found, 'keys.mode')
    assert.equal(mode.status, 'fail')
    assert.match(mode.message, /^~\/\.config\/fleet\/identity\.txt has mode 0644: group or others can read the key, .*rotate it too \(`fleet rotate-keys`\)\.$/)
    assert.equal(mode.fix, '`chmod 600 ~/.config/fleet/identity.txt`')
    assert.equal(mode.fixable, true)
    assert.equal(checkOf(found, 'keys.identity').status, 'ok', 'the key is still an age identity')
    assert.equal(checkOf(found, 'keys.decrypt').status, 'skip')
    const fixed = (await alpha.doctor({fix: true})).result
    assert.match(fixed.repairs!.find((r) => r.id === 'keys.mode')!.changed!, /identity\.txt to mode 0600/)
    assert.equal(alpha.mode(alpha.identityFile), 0o600)
    assert.deepEqual(statusesOf(fixed, KEY_CHECKS), ALL_OK)
    await alpha.sync()
  })

  it("a key that is not the roster's (another age key swapped in): keys.roster fails with the fix", async function () {
    const saved = join(fleet.root, 'alpha-key.txt')
    copyFileSync(alpha.identityFile, saved)
    await execa('age-keygen', ['-o', join(fleet.root, 'other-key.txt')], {reject: false})
    writeFileSync(alpha.identityFile, readFileSync(join(fleet.root, 'other-key.txt')), {mode: 0o600})
    const found = (await alpha.doctor({exit: 1})).result
    const roster = checkOf(found, 'keys.roster')
    assert.equal(roster.status, 'fail')
    assert.match(roster.message, /~\/\.config\/fleet\/identity\.txt is not the key the fleet knows for alpha/)
    assert.match(roster.fix!, /put it back in ~\/\.config\/fleet\/identity\.txt/)
    assert.ok(!roster.fix!.includes(alpha.home), `the fix shows the home directory as ~: ${roster.fix}`)
    assert.equal(checkOf(found, 'keys.decrypt').status, 'fail')
    assert.match(checkOf(found, 'keys.decrypt').message, /not encrypted for this key/)
    copyFileSync(saved, alpha.identityFile)
    assert.deepEqual(statusesOf((await alpha.doctor({exit: 'any'})).result, KEY_CHECKS), ALL_OK)
  })

  it('a file encrypted for a stale set of recipients (by hand, for alpha alone): keys.recipients warns, and --fix re-encrypts and pushes it', async function () {
    const netrc = await encryptedSource(alpha, 'netrc')
    const file = alpha.sourceFile(netrc)
    const recipient = String((await execa('age-keygen', ['-y', alpha.identityFile])).stdout).trim()
    const plaintext = (await execa('age', ['--decrypt', '-i', alpha.identityFile, file], {encoding: 'buffer', stripFinalNewline: false})).stdout
    await execa('age', ['--encrypt', '--armor', '-r', recipient, '-o', file], {input: plaintext})
    await alpha.git(['commit', '--quiet', '-am', 'netrc for alpha alone'])
    await alpha.git(['push', '--quiet', 'origin', 'main'])
    // beta cannot open it: its fix is the one that works, on the machine that can (a sync there changes nothing).
    await beta.git(['pull', '--quiet', '--ff-only'])
    const closed = checkOf((await beta.doctor({check: 'keys.decrypt', exit: 1})).result, 'keys.decrypt')
    assert.match(closed.message, new RegExp(`^1 of \\d+ encrypted files does not open with this machine's key: ${netrc} \\(not encrypted for this key\\)\\.$`))
    assert.match(closed.fix!, /run `fleet doctor --fix` on alpha \(an active machine that opens it\).*Then run `fleet sync` here/)
    assert.doesNotMatch(closed.fix!, /`fleet sync` on/)
    const found = (await alpha.doctor()).result
    const recipients = checkOf(found, 'keys.recipients')
    assert.equal(recipients.status, 'warn')
    assert.match(recipients.message, new RegExp(`^1 encrypted file is not encrypted for exactly the 2 active machines: ${netrc}\\.$`))
    assert.equal(recipients.fixable, true)
    assert.equal(checkOf(found, 'keys.decrypt').status, 'ok', 'alpha still opens it')
    const fixed = (await alpha.doctor({fix: true})).result
    assert.match(fixed.repairs!.find((r) => r.id === 'keys.recipients')!.changed!, /^Re-encrypted 1 file for the 2 active machines and pushed 1 commit\.$/)
    assert.equal(checkOf(fixed, 'keys.recipients').status, 'ok')
    assert.ok(await ageOpens(beta.identityFile, await forgeBlob(fleet, netrc)), "beta's key opens the forge's netrc")
    await beta.sync()
    assert.equal(beta.read('.netrc'), SECRETS['.netrc'])
  })

  it('a damaged ciphertext: keys.decrypt fails naming it, with the way back from history', async function () {
    const api = await encryptedSource(alpha, 'api.env')
    const file = alpha.sourceFile(api)
    const good = readFileSync(file)
    writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)))
    const found = (await alpha.doctor({exit: 1})).result
    const decrypt = checkOf(found, 'keys.decrypt')
    assert.equal(decrypt.status, 'fail')
    assert.match(
      decrypt.message,
      new RegExp(`^1 of \\d+ encrypted files does not open with this machine's key: ${api.replaceAll('.', '\\.')} \\(damaged\\)\\.$`),
    )
    assert.match(decrypt.fix!, new RegExp(`git -C ~/\\S+ log -- ${api.replaceAll('.', '\\.')}`))
    assert.notEqual(decrypt.fixable, true)
    await alpha.git(['checkout', '--', api])
    assert.equal(checkOf((await alpha.doctor({check: 'keys.decrypt'})).result, 'keys.decrypt').status, 'ok')
  })

  it('a rotation asked of every machine and killed half way: keys.rotation warns on both, --fix finishes it here and `fleet sync` there', async function () {
    const oldKey = readFileSync(alpha.identityFile, 'utf8')
    const killed = await alpha.rotateKeys({all: true, exit: 'any', json: false, env: {[KILL_AFTER_STEP_ENV]: '1'}})
    assert.notEqual(killed.exitCode, 0, killed.stdout)
    assert.ok(existsSync(alpha.locations.identityNextFile), 'the rotation stopped with the new key beside the old')
    const found = (await alpha.doctor()).result
    const rotation = checkOf(found, 'keys.rotation')
    assert.equal(rotation.status, 'warn')
    assert.match(rotation.message, /half done: the new key is made/)
    assert.match(rotation.fix!, /fleet rotate-keys --yes/)
    assert.equal(rotation.fixable, true)

    // beta has the request (its source repo brought up to the forge's) but has not rotated: its next sync does.
    await beta.git(['pull', '--quiet', '--ff-only'])
    const asked = checkOf((await beta.doctor({check: 'keys.rotation'})).result, 'keys.rotation')
    assert.equal(asked.status, 'warn')
    assert.match(asked.message, /The fleet asked every machine to rotate its key \(.*\); this machine has not yet/)
    assert.match(asked.fix!, /fleet sync/)
    assert.notEqual(asked.fixable, true)

    const fixed = (await alpha.doctor({fix: true})).result
    assert.match(fixed.repairs!.find((r) => r.id === 'keys.rotation')!.changed!, /^Finished the rotation of this machine's key: the old key is removed\.$/)
    assert.deepEqual(statusesOf(fixed, KEY_CHECKS), ALL_OK)
    assert.equal(existsSync(alpha.locations.identityNextFile), false)
    assert.equal(existsSync(alpha.locations.identityOldFile), false)
    assert.notEqual(readFileSync(alpha.identityFile, 'utf8'), oldKey, 'the key changed')
    assert.equal(alpha.mode(alpha.identityFile), 0o600)
    for (const needle of ['netrc', 'api.env']) {
      const path = await encryptedSource(alpha, needle)
      assert.ok(await ageOpens(alpha.identityFile, await forgeBlob(fleet, path)), `alpha's new key opens the forge's ${path}`)
    }

    await beta.sync()
    assert.deepEqual(statusesOf((await beta.doctor({exit: 'any'})).result, KEY_CHECKS), ALL_OK)
  })

  it("a lost key, then a broken new key beside a good one: keys.identity's fix is the way back that works", async function () {
    const aside = `${alpha.identityFile}.aside`
    renameSync(alpha.identityFile, aside)
    const lost = checkOf((await alpha.doctor({check: 'keys.identity', exit: 1})).result, 'keys.identity')
    assert.match(lost.message, /^This machine's age identity ~\/\.config\/fleet\/identity\.txt is missing/)
    assert.ok(!`${lost.message} ${lost.fix}`.includes(alpha.home), `the home directory is shown as ~: ${lost.fix}`)
    assert.match(lost.fix!, /put it back in ~\/\.config\/fleet\/identity\.txt/)
    // A new key under the same name is refused by the roster: a new name, approved there, the old one revoked.
    assert.match(
      lost.fix!,
      /`fleet enroll --name alpha-2` here, `fleet machines approve alpha-2` on an active machine \(beta\), then `fleet machines revoke alpha` there/,
    )
    assert.doesNotMatch(lost.fix!, /`fleet enroll` to create/)
    renameSync(aside, alpha.identityFile)

    writeFileSync(alpha.locations.identityNextFile, 'not a key\n', {mode: 0o600})
    const broken = (await alpha.doctor({exit: 1})).result
    const identity = checkOf(broken, 'keys.identity')
    assert.equal(identity.status, 'fail')
    assert.match(identity.fix!, /Remove it \(`rm ~\/\.config\/fleet\/identity\.txt\.next`\), then run `fleet rotate-keys` again if you wanted a new key/)
    assert.doesNotMatch(identity.fix!, /enroll/)
    assert.equal(checkOf(broken, 'keys.rotation').status, 'skip', 'finishing the rotation would stop at the broken key')
    await alpha.shell([...identity.fix!.matchAll(/`(rm [^`]+)`/g)][0][1])
    assert.deepEqual(statusesOf((await alpha.doctor({exit: 'any'})).result, KEY_CHECKS), ALL_OK)
  })
})
