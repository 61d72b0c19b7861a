// Starting a fleet and joining machines to it, with real git, chezmoi and age, each machine in its own HOME.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

const SECRETS = '.config/fleet/secrets.env'

async function ageDecrypt(identityFile: string, ciphertext: Buffer): Promise<string> {
  return String((await execa('age', ['--decrypt', '--identity', identityFile], {input: ciphertext})).stdout)
}

describe('enroll: start a fleet, join, approve', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('enroll', {joined: 0})
    ;({
      root,
      forge,
      machines: [alpha, beta],
    } = fleet)
  })
  after(() => fleet?.remove())

  it('starts a fleet: the first machine is active and its secrets file is encrypted in the forge', async function () {
    const result = await alpha.enroll(forge.url, {json: false})
    assert.match(result.stdout, /alpha is active/)
    assert.match(result.stdout, /Next:/)

    const roster = (await alpha.listMachines()).result
    assert.equal(roster.source, 'forge')
    assert.deepEqual(
      roster.machines.map((m) => [m.name, m.state]),
      [['alpha', 'active']],
    )

    assert.equal(alpha.mode(alpha.identityFile), 0o600)
    assert.equal(alpha.mode(SECRETS), 0o600)
    const encrypted = (await forge.files()).filter((f) => f.endsWith('.age'))
    assert.equal(encrypted.length, 1)
    const ciphertext = Buffer.from((await forge.show(encrypted[0]))!)
    assert.match(ciphertext.toString(), /BEGIN AGE ENCRYPTED FILE/)
    assert.equal(await ageDecrypt(alpha.identityFile, ciphertext), alpha.read(SECRETS).trimEnd())
  })

  it('joins a second machine as pending: plain files arrive, encrypted ones wait', async function () {
    // The forge was made with a plain `git init --bare`: its HEAD names a branch that does not exist.
    assert.equal((await forge.git(['symbolic-ref', 'HEAD'])).trim(), 'refs/heads/master')
    // A plain file the fleet already shares (added by hand here; `fleet add-path` does this for a person).
    alpha.write('.vimrc', 'set number\n')
    await alpha.chezmoi(['add', alpha.path('.vimrc')])
    await alpha.git(['add', '-A'])
    await alpha.git(['commit', '-qm', 'share .vimrc'])
    await alpha.git(['push', '-q', 'origin', 'HEAD:main'])
    beta.write('.vimrc', "beta's own settings\n")

    const result = await beta.enroll(forge.url, {json: false})
    assert.match(result.stdout, /beta is pending/)
    assert.match(result.stdout, /fleet machines approve beta/)
    assert.equal(beta.read('.vimrc'), alpha.read('.vimrc'))
    assert.equal(beta.exists(SECRETS), false, 'a pending machine must not get encrypted files')
    // What beta had before is kept, not lost.
    assert.match(result.stdout, /backed up to (\S+)/)
    const backupDir = /backed up to (\S+)/.exec(result.stdout)![1]
    assert.equal(readFileSync(join(backupDir, '.vimrc'), 'utf8'), "beta's own settings\n")

    const roster = (await alpha.listMachines()).result
    assert.deepEqual(
      roster.machines.map((m) => [m.name, m.state]),
      [
        ['alpha', 'active'],
        ['beta', 'pending'],
      ],
    )
  })

  it('approval re-encrypts for both machines; beta then has the decrypted secrets file', async function () {
    // A pending machine cannot approve.
    const pendingBeta = await beta.approve('alpha', {exit: 2, json: false})
    assert.match(pendingBeta.stderr, /Only an active machine/)

    alpha.edit(SECRETS, (text) => `${text}API_TOKEN=from-alpha\n`)
    await alpha.chezmoi(['re-add'])
    await alpha.git(['commit', '-qam', 'secret value'])
    await alpha.git(['pull', '-q', '--rebase', 'origin', 'main'])
    await alpha.git(['push', '-q', 'origin', 'HEAD:main'])

    const approve = (await alpha.approve('beta')).result
    assert.equal(approve.state, 'active')
    assert.equal(approve.recipients, 2)
    assert.equal(approve.reencrypted.length, 1)

    for (const file of (await forge.files()).filter((f) => f.endsWith('.age'))) {
      const ciphertext = Buffer.from((await forge.show(file))!)
      for (const machine of [alpha, beta]) assert.match(await ageDecrypt(machine.identityFile, ciphertext), /API_TOKEN=from-alpha/)
    }

    await beta.enroll()
    assert.match(beta.read(SECRETS), /API_TOKEN=from-alpha/)
    assert.equal(beta.mode(SECRETS), 0o600)
    assert.equal(beta.mode(beta.identityFile), 0o600)
  })

  it('enroll again changes nothing: same forge head, same roster, same keys', async function () {
    const head = await forge.head()
    const keys = [alpha, beta].map((m) => readFileSync(m.identityFile, 'utf8'))
    for (const machine of [alpha, beta]) {
      // As a person types it again: no name, no forge.
      const again = await machine.ok(['enroll', '--no-agents', '--json'])
      const result = again.json<{rosterChanged: boolean; keyCreated: boolean; pushed: number}>()
      assert.equal(result.rosterChanged, false)
      assert.equal(result.keyCreated, false)
      assert.equal(result.pushed, 0)
    }
    assert.equal(await forge.head(), head)
    assert.deepEqual(
      [alpha, beta].map((m) => readFileSync(m.identityFile, 'utf8')),
      keys,
    )
    const roster = (await alpha.listMachines()).result
    assert.equal(roster.machines.length, 2)
  })

  it('refuses a name another machine holds (exit 2), changing nothing', async function () {
    const gamma = new Machine(root, 'gamma')
    const head = await forge.head()
    const result = await gamma.fleet(['enroll', '--forge', forge.url, '--name', 'beta', '--no-agents'])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /"beta" is held by another machine/)
    assert.match(result.stderr, /Fix: .*--name/)
    assert.equal(await forge.head(), head)
    assert.equal(gamma.exists(gamma.sourceDir), false)
  })

  it('lists the local copy of the roster, marked as such, when the forge is down', async function () {
    const {renameSync} = await import('node:fs')
    renameSync(forge.path, `${forge.path}.away`)
    try {
      const view = (await alpha.listMachines()).result
      assert.equal(view.source, 'local')
      assert.match(view.forgeError ?? '', /cannot be reached/)
      assert.equal(view.machines.length, 2)
      const text = await alpha.listMachines({json: false})
      assert.match(text.stderr, /local copy/)
    } finally {
      renameSync(`${forge.path}.away`, forge.path)
    }
  })
})

describe('enroll: refusals and bad input', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine

  before(async function () {
    fleet = await TestFleet.start('refuse', {machines: ['alpha']})
    ;({
      root,
      forge,
      machines: [alpha],
    } = fleet)
  })
  after(() => fleet?.remove())

  it('an unreachable forge: exit 3, nothing created', async function () {
    const delta = new Machine(root, 'delta')
    const result = await delta.enroll(join(root, 'no-such-forge.git'), {exit: 3, json: false})
    assert.match(result.stderr, /cannot be reached/)
    assert.equal(delta.exists(delta.identityFile), false)
  })

  it('chezmoi older than 2.71: a clear error with the fix', async function () {
    const delta = new Machine(root, 'delta-old')
    const fake = join(root, 'old-chezmoi')
    writeFileSync(fake, '#!/bin/sh\necho "chezmoi version v2.60.1, built at 2025-01-01T00:00:00Z"\n', {mode: 0o755})
    const result = await delta.enroll(forge.url, {exit: 1, json: false, env: {FLEET_CHEZMOI: fake}})
    assert.match(result.stderr, /chezmoi 2\.60\.1 is too old: fleet needs 2\.71\.0 or later/)
    assert.match(result.stderr, /Fix: Upgrade chezmoi/)
  })

  it('without a terminal, a missing answer names its flag (exit 2)', async function () {
    const delta = new Machine(root, 'delta-tty')
    const noName = await delta.fleet(['enroll', '--forge', forge.url, '--no-agents'])
    assert.equal(noName.exitCode, 2)
    assert.match(noName.stderr, /--name/)
    const noAgents = await delta.fleet(['enroll', '--forge', forge.url, '--name', 'delta'])
    assert.equal(noAgents.exitCode, 2)
    assert.match(noAgents.stderr, /--agents or --no-agents/)
    const badName = await delta.fleet(['enroll', '--forge', forge.url, '--name', 'Bad Name!', '--no-agents'])
    assert.equal(badName.exitCode, 2)
    assert.match(badName.stderr, /cannot be a machine name/)
    const unknownFlag = await delta.fleet(['enroll', '--frobnicate'])
    assert.equal(unknownFlag.exitCode, 2)
  })

  it("an existing chezmoi source that is not the fleet's: stop without --adopt; --adopt moves it aside, never deletes it", async function () {
    const echo = new Machine(root, 'echo')
    echo.write(echo.sourceFile('dot_vimrc'), 'set number\n')
    const refused = await echo.enroll(forge.url, {exit: 2, json: false})
    assert.match(refused.stderr, /not this fleet's/)
    assert.match(refused.stderr, /--adopt/)
    assert.equal(echo.read(echo.sourceFile('dot_vimrc')), 'set number\n')

    const adopted = await echo.enroll(forge.url, {adopt: true, json: false})
    const aside = /moved to (\S+?) \(nothing was deleted/.exec(adopted.stdout)?.[1]
    assert.ok(aside, adopted.stdout)
    assert.equal(readFileSync(join(aside, 'dot_vimrc'), 'utf8'), 'set number\n')
    const roster = (await echo.listMachines()).result
    assert.ok(roster.machines.some((m) => m.name === 'echo' && m.state === 'pending'))
  })

  it("a joining machine whose key type differs from the fleet's is refused (exit 2)", async function () {
    const fox = new Machine(root, 'fox')
    const result = await fox.enroll(forge.url, {keyType: 'x25519', exit: 2, json: false})
    assert.match(result.stderr, /post-quantum/)
  })

  it('a malformed manifest names the file, the field and the fix', async function () {
    const manifest = alpha.manifestFile
    const original = readFileSync(manifest, 'utf8')
    try {
      writeFileSync(manifest, original.replace('state: active', 'state: actve'))
      const result = await alpha.approve('nobody', {exit: 1, json: false})
      assert.match(result.stderr, /fleet\.yaml is not a valid fleet manifest/)
      assert.match(result.stderr, /machines\[0\]\.state/)
      assert.match(result.stderr, /Fix: /)

      writeFileSync(manifest, original.replace('version: 1', 'version: 99'))
      const newer = await alpha.approve('nobody', {exit: 1, json: false})
      assert.match(newer.stderr, /version 99; this fleet understands versions up to 1/)
      assert.match(newer.stderr, /Upgrade fleet/)
    } finally {
      writeFileSync(manifest, original)
    }
  })
})
