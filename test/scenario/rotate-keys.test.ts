// fleet rotate-keys with real age, chezmoi and git, three machines: a rotation killed after each of its steps is
// finished by running it again, and then every machine reads every encrypted file and the old key reads none; keys
// made by age-keygen work; --all converges; --compromised shuts a machine out and names what it could read; a file
// that cannot be opened is named and never stops the others; --dry-run changes nothing.
import assert from 'node:assert/strict'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {KILL_AFTER_STEP_ENV} from '../../src/lib/rotation/rotate.ts'
import {TestFleet} from '../support/fleet.ts'
import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** The encrypted targets every story keeps, and what they hold. */
const SECRETS: Record<string, string> = {
  '.netrc': 'machine example.org login me password one\n',
  '.config/tokens/api.env': 'API_TOKEN=two\n',
}

/** Whether the real age binary opens `ciphertext` with the key in `keyFile`. */
async function ageOpens(keyFile: string, ciphertext: Uint8Array): Promise<boolean> {
  return (await execa('age', ['--decrypt', '-i', keyFile], {input: ciphertext, reject: false, encoding: 'buffer', stripFinalNewline: false})).exitCode === 0
}

/** Every encrypted file at the forge's head, with its bytes. */
async function forgeBlobs(forge: Forge): Promise<Array<{path: string; content: Buffer}>> {
  const files = (await forge.files()).filter((f) => /(^|\/)(create_)?encrypted_[^/]*\.age$/.test(f))
  return Promise.all(
    files.map(async (path) => ({
      path,
      content: Buffer.from(
        (await execa('git', ['--git-dir', forge.path, 'cat-file', 'blob', `main:${path}`], {encoding: 'buffer', stripFinalNewline: false})).stdout,
      ),
    })),
  )
}

/** Every machine syncs and holds every secret as written; the real age opens every encrypted file at the forge with each one's key. */
async function everyMachineReadsEverything(fleet: TestFleet, machines: Machine[]): Promise<void> {
  for (const machine of machines) await machine.sync({full: true})
  const blobs = await forgeBlobs(fleet.forge)
  assert.ok(blobs.length >= Object.keys(SECRETS).length, `the forge holds the encrypted files: ${blobs.map((b) => b.path).join(', ')}`)
  for (const machine of machines) {
    for (const [target, content] of Object.entries(SECRETS)) assert.equal(machine.read(target), content, `${target} on ${machine.name}`)
    for (const blob of blobs) assert.ok(await ageOpens(machine.identityFile, blob.content), `${machine.name}'s key opens ${blob.path}`)
  }
}

/** No encrypted file at the forge opens with the key saved in `keyFile`. */
async function keyOpensNothing(fleet: TestFleet, keyFile: string, who: string): Promise<void> {
  for (const blob of await forgeBlobs(fleet.forge)) assert.equal(await ageOpens(keyFile, blob.content), false, `${who} opens ${blob.path}`)
}

/** Keep a copy of a machine's key as it is now (the key a rotation replaces). */
function saveKey(machine: Machine, root: string, label: string): string {
  const copy = join(root, 'saved-keys', `${machine.name}-${label}.txt`)
  mkdirSync(join(root, 'saved-keys'), {recursive: true})
  copyFileSync(machine.identityFile, copy)
  return copy
}

/** The secrets, added encrypted on the first machine and synced to the others. */
async function shareSecrets(fleet: TestFleet): Promise<void> {
  const [alpha, ...others] = fleet.machines
  for (const [target, content] of Object.entries(SECRETS)) alpha.write(target, content)
  await alpha.addPath(Object.keys(SECRETS), {encrypt: true})
  for (const machine of others) await machine.sync()
}

/** A fleet of three with the secrets, encrypted, on every machine (set up once, then put back as it was: see TestFleet). */
function fleetWithSecrets(prefix: string): Promise<TestFleet> {
  return TestFleet.start(prefix, {machines: ['alpha', 'beta', 'gamma'], prepare: shareSecrets})
}

describe('rotate-keys', function () {
  this.timeout(900_000)

  describe("this machine's key, killed after each step", function () {
    let fleet: TestFleet
    before(async function () {
      fleet = await fleetWithSecrets('rotate-kill')
    })
    after(() => fleet?.remove())

    const STEPS = 7
    for (let step = 1; step <= STEPS; step++) {
      it(`killed (SIGKILL) after step ${step}, then run again: every machine reads everything, the old key reads nothing`, async function () {
        const [alpha] = fleet.machines
        const oldKey = saveKey(alpha, fleet.root, `before-${step}`)
        const killed = await alpha.rotateKeys({exit: 'any', json: false, env: {[KILL_AFTER_STEP_ENV]: String(step)}})
        assert.notEqual(killed.exitCode, 0, `the run was killed after step ${step}\n${killed.stdout}`)
        const rerun = await alpha.rotateKeys()
        assert.equal(rerun.result.unreadable.length, 0)
        assert.equal(existsSync(alpha.locations.identityNextFile), false, 'no new key is left beside the identity file')
        assert.equal(existsSync(alpha.locations.identityOldFile), false, 'the old key is removed')
        assert.equal(alpha.mode(alpha.identityFile), 0o600)
        assert.notEqual(readFileSync(alpha.identityFile, 'utf8'), readFileSync(oldKey, 'utf8'), 'the key changed')
        await everyMachineReadsEverything(fleet, fleet.machines)
        await keyOpensNothing(fleet, oldKey, `alpha's key from before the rotation killed after step ${step}`)
        const status = await alpha.status()
        assert.equal(status.result.keyRotation, 'none')
      })
    }

    it('killed after the push: status names the unfinished rotation, and `fleet sync` finishes it (swap, old key removed)', async function () {
      const [alpha] = fleet.machines
      const oldKey = saveKey(alpha, fleet.root, 'before-sync-finish')
      const killed = await alpha.rotateKeys({exit: 'any', json: false, env: {[KILL_AFTER_STEP_ENV]: '4'}})
      assert.notEqual(killed.exitCode, 0)
      assert.equal((await alpha.status()).result.keyRotation, 'on-roster')
      assert.match((await alpha.status({json: false})).stdout, /Key rotation not finished/)
      await alpha.sync()
      assert.equal(existsSync(alpha.locations.identityNextFile), false)
      assert.equal(existsSync(alpha.locations.identityOldFile), false)
      assert.equal((await alpha.status()).result.keyRotation, 'none')
      await everyMachineReadsEverything(fleet, fleet.machines)
      await keyOpensNothing(fleet, oldKey, "alpha's key from before the rotation the sync finished")
    })
  })

  it('--dry-run prints the plan and changes nothing: the forge head and the key files stay', async function () {
    const fleet = await TestFleet.start('rotate-dry', {machines: ['alpha']})
    try {
      const [alpha] = fleet.machines
      const head = await fleet.forge.head()
      const key = readFileSync(alpha.identityFile, 'utf8')
      const run = await alpha.rotateKeys({dryRun: true, json: false})
      assert.match(run.stdout, /Make a new key/)
      assert.match(run.stdout, /Nothing was changed/)
      assert.equal(await fleet.forge.head(), head)
      assert.equal(readFileSync(alpha.identityFile, 'utf8'), key)
      assert.equal(existsSync(alpha.locations.identityNextFile), false)
      assert.equal(existsSync(alpha.locations.identityOldFile), false)
      // Without a terminal and without --yes, nothing happens either.
      const refused = await alpha.fleet(['rotate-keys'])
      assert.equal(refused.exitCode, 2, refused.stderr)
      assert.match(refused.stderr, /--yes/)
      assert.equal(await fleet.forge.head(), head)
    } finally {
      await fleet.remove()
    }
  })

  it('keys made by age-keygen are machine keys: enrolled with, rotated, and the new key reads everything', async function () {
    const root = makeTempDir('rotate-keygen')
    try {
      const forge = await Forge.create(root)
      const [alpha, beta] = ['alpha', 'beta'].map((name) => new Machine(root, name))
      for (const machine of [alpha, beta]) {
        mkdirSync(machine.locations.configDir, {recursive: true, mode: 0o700})
        await execa('age-keygen', ['-o', machine.identityFile])
        chmodSync(machine.identityFile, 0o600)
      }
      const keygenKey = saveKey(alpha, root, 'keygen')
      await alpha.enroll(forge.url, {keyType: 'x25519'})
      await beta.enroll(forge.url)
      await alpha.approve('beta')
      for (const [target, content] of Object.entries(SECRETS)) alpha.write(target, content)
      await alpha.addPath(Object.keys(SECRETS), {encrypt: true})
      await beta.sync()
      const rotated = await alpha.rotateKeys()
      assert.equal(rotated.result.oldKeyRemoved, true)
      for (const machine of [alpha, beta]) await machine.sync({full: true})
      for (const blob of await forgeBlobs(forge)) {
        for (const machine of [alpha, beta]) assert.ok(await ageOpens(machine.identityFile, blob.content), `${machine.name} opens ${blob.path}`)
        assert.equal(await ageOpens(keygenKey, blob.content), false, `the age-keygen key rotated away opens ${blob.path}`)
      }
      for (const [target, content] of Object.entries(SECRETS)) assert.equal(beta.read(target), content)
    } finally {
      removeTempDir(root)
    }
  })

  it('--all: each machine rotates at its next sync; status shows who is left, then that all are done', async function () {
    const fleet = await fleetWithSecrets('rotate-all')
    try {
      const [alpha, beta, gamma] = fleet.machines
      const oldKeys = fleet.machines.map((m) => saveKey(m, fleet.root, 'before-all'))
      const requested = await alpha.rotateKeys({all: true})
      assert.ok(requested.result.requestedAt)
      let status = (await alpha.status()).result
      assert.deepEqual(status.rotationRequest?.onOldKeys, ['beta', 'gamma'])
      const text = (await alpha.status({json: false})).stdout
      assert.match(text, /still on an old key: beta, gamma/)

      const betaSync = await beta.sync()
      assert.ok(betaSync.result.keyRotation, 'beta rotated after its sync')
      await alpha.sync()
      status = (await alpha.status()).result
      assert.deepEqual(status.rotationRequest?.onOldKeys, ['gamma'])

      await gamma.sync()
      await alpha.sync()
      status = (await alpha.status()).result
      assert.deepEqual(status.rotationRequest?.onOldKeys, [])
      assert.match((await alpha.status({json: false})).stdout, /done, every active machine has a new key/)

      await everyMachineReadsEverything(fleet, fleet.machines)
      for (const [i, machine] of fleet.machines.entries()) {
        assert.notEqual(readFileSync(machine.identityFile, 'utf8'), readFileSync(oldKeys[i], 'utf8'), `${machine.name} has a new key`)
        await keyOpensNothing(fleet, oldKeys[i], `${machine.name}'s old key`)
      }
      // A later sync does not rotate again.
      const again = await beta.sync()
      assert.equal(again.result.keyRotation, undefined)
    } finally {
      await fleet.remove()
    }
  })

  it('--machine gamma --compromised: gamma is revoked, its key opens none of the files, its SSH key leaves authorized_keys, and the runbook names every encrypted file and secret', async function () {
    const fleet = await fleetWithSecrets('rotate-compromised')
    try {
      const [alpha, beta, gamma] = fleet.machines
      // Secrets gamma could read, and SSH keys: gamma's must leave the others' authorized_keys, a local line stays.
      const values = {GH_TOKEN: 'ghp-value-one', DB_PASSWORD: 'value two'}
      for (const [key, value] of Object.entries(values)) await alpha.secrets(['set', key], {input: value})
      for (const machine of fleet.machines) {
        await machine.makeSshKey()
        await machine.recordSshKey('.ssh/id_ed25519.pub')
      }
      for (const machine of fleet.machines) await machine.sync()
      beta.write('.ssh/authorized_keys', `${beta.read('.ssh/authorized_keys')}ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cal0nly+kept local@line\n`)
      const gammaKey = gamma.read('.ssh/id_ed25519.pub').trim()
      assert.ok(beta.authorizedKeys()?.includes(gammaKey), "gamma's key is in beta's authorized_keys before")

      const run = await alpha.rotateKeys({compromised: 'gamma'})
      const report = run.result
      // Every secret by name, as still to change (--yes asks for none); never a value.
      assert.deepEqual([...(report.secretValues ?? [])].sort(), Object.keys(values).sort())
      assert.match(
        (report.runbook ?? []).join('\n'),
        /Secrets still to change[^\n]*\n {2}GH_TOKEN\n {2}DB_PASSWORD|Secrets still to change[^\n]*\n {2}DB_PASSWORD\n {2}GH_TOKEN/,
      )
      for (const value of Object.values(values)) assert.ok(!run.stdout.includes(value) && !run.stderr.includes(value), 'no value in the output')
      assert.equal(report.revoked, 'gamma')
      const exposed = report.exposed?.map((e) => e.target) ?? []
      for (const target of Object.keys(SECRETS)) assert.ok(exposed.includes(`~/${target}`), `the runbook names ~/${target}: ${exposed.join(', ')}`)
      const runbook = (report.runbook ?? []).join('\n')
      assert.match(runbook, /stays readable in the forge's history/)
      assert.match(runbook, /Rewriting the history does not help/)
      assert.match(runbook, /where they were issued/)
      assert.match(runbook, /deploy key or access token/)
      await keyOpensNothing(fleet, gamma.identityFile, "gamma's key")
      await everyMachineReadsEverything(fleet, [alpha, beta])
      const roster = (await alpha.listMachines()).result.machines
      assert.equal(roster.find((m) => m.name === 'gamma')?.state, 'revoked')
      await beta.sync()
      assert.ok(!beta.authorizedKeys()?.includes(gammaKey), "gamma's SSH key left beta's authorized_keys")
      assert.ok(beta.authorizedKeys()?.includes('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0cal0nly+kept local@line'), 'the local line stays')
      assert.ok(beta.authorizedKeys()?.includes(alpha.read('.ssh/id_ed25519.pub').trim()), "alpha's stays")

      // The revoked machine cannot rotate its way back in.
      const refused = await gamma.rotateKeys({exit: 2})
      assert.equal(refused.error?.code, 'REVOKED')
      // Its syncs say so, with the way back: a new name, approved by an active machine.
      const warned = await gamma.sync()
      assert.ok(
        warned.result.warnings.some((w) => w.includes('was revoked') && w.includes('--name <new-name>')),
        warned.result.warnings.join('\n'),
      )
      renameSync(gamma.identityFile, `${gamma.identityFile}.revoked`)
      const rejoined = await gamma.fleet(['enroll', '--name', 'gamma2', '--yes', '--no-agents', '--json'])
      assert.equal(rejoined.exitCode, 0, `${rejoined.stdout}\n${rejoined.stderr}`)
      await alpha.approve('gamma2')
      await gamma.sync()
      for (const [target, content] of Object.entries(SECRETS)) assert.equal(gamma.read(target), content, `${target} on gamma2`)
    } finally {
      await fleet.remove()
    }
  })

  it('a damaged file and a file not for this key are named with their fix, the others are re-encrypted, exit 1', async function () {
    const fleet = await fleetWithSecrets('rotate-unreadable')
    try {
      const [alpha, beta] = fleet.machines
      const stranger = join(fleet.root, 'stranger.txt')
      await execa('age-keygen', ['-o', stranger])
      const strangerRecipient = String((await execa('age-keygen', ['-y', stranger])).stdout)
      const foreign = (await execa('age', ['--encrypt', '--armor', '-r', strangerRecipient], {input: 'not for the fleet\n'})).stdout
      writeFileSync(alpha.sourceFile('encrypted_private_dot_foreign.age'), `${foreign}\n`)
      writeFileSync(alpha.sourceFile('encrypted_private_dot_damaged.age'), '-----BEGIN AGE ENCRYPTED FILE-----\nnot really\n-----END AGE ENCRYPTED FILE-----\n')
      await alpha.git(['add', '-A'])
      await alpha.git(['commit', '-q', '-m', 'two files fleet cannot open'])
      const oldKey = saveKey(alpha, fleet.root, 'before-unreadable')

      const run = await alpha.rotateKeys({exit: 1, json: false})
      assert.match(run.stderr, /encrypted_private_dot_foreign\.age/)
      assert.match(run.stderr, /encrypted_private_dot_damaged\.age/)
      assert.match(run.stderr, /not encrypted for it/)
      assert.match(run.stderr, /damaged or truncated/)
      assert.match(run.stderr, /Fix: /)
      assert.match(run.stdout, /The old key is kept/)

      // The others were re-encrypted for the new key; the two files are as they were.
      await beta.sync({exit: 'any'})
      for (const blob of await forgeBlobs(fleet.forge)) {
        if (/foreign|damaged/.test(blob.path)) continue
        assert.ok(await ageOpens(alpha.identityFile, blob.content), `alpha's new key opens ${blob.path}`)
        assert.equal(await ageOpens(oldKey, blob.content), false, `the old key opens ${blob.path}`)
      }
      assert.equal(readFileSync(alpha.sourceFile('encrypted_private_dot_foreign.age'), 'utf8'), `${foreign}\n`)
      assert.ok(existsSync(alpha.locations.identityOldFile), 'the old key stays while a file may still need it')
      for (const [target, content] of Object.entries(SECRETS)) assert.equal(beta.read(target), content)
    } finally {
      await fleet.remove()
    }
  })

  it('a pending machine cannot rotate: exit 2 with the fix', async function () {
    const fleet = await TestFleet.start('rotate-pending', {machines: ['alpha', 'beta'], joined: 1})
    try {
      const beta = fleet.machines[1]
      await beta.enroll(fleet.url)
      const refused = await beta.rotateKeys({exit: 2})
      assert.equal(refused.error?.code, 'NOT_ACTIVE')
      assert.match(refused.error?.fix ?? '', /fleet machines approve beta/)
    } finally {
      await fleet.remove()
    }
  })
})
