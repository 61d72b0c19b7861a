// ~/.ssh/authorized_keys follows the roster: every machine keeps a marked block of the active machines' SSH keys
// (recorded with `fleet enroll --ssh-key`), its own lines stay, and a revoked machine's key leaves every machine at
// its next sync — proved with a real sshd on 127.0.0.1 reading one machine's authorized_keys.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {type FleetRun, printed} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import {HandClone} from '../support/hand-clone.ts'
import {Machine} from '../support/machine.ts'
import {Sshd} from '../support/sshd.ts'

const AUTHORIZED_KEYS = '.ssh/authorized_keys'
const BEGIN = /^# BEGIN fleet:/
const END = '# END fleet'
/** A line of beta's own authorized_keys, there before beta joined the fleet. */
const BETA_OWN = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBetaOwnKeyBetaOwnKeyBetaOwnKeyBetaOwnKey0 beta-own'

/** The keys in the fleet's block of a machine's authorized_keys (sorted), and every line outside it (in order). */
function splitBlock(machine: Machine): {block: string[]; own: string[]} {
  const lines = machine.authorizedKeys() ?? []
  const start = lines.findIndex((line) => BEGIN.test(line))
  const end = lines.indexOf(END)
  if (start === -1) return {block: [], own: lines}
  assert.ok(end > start, `${machine.name}'s block has no end marker:\n${lines.join('\n')}`)
  return {block: lines.slice(start + 1, end).sort(), own: [...lines.slice(0, start), ...lines.slice(end + 1)]}
}

/** Log in to `sshd` with a machine's private key and run `true`: whether sshd let it in. */
async function canLogIn(sshd: Sshd, key: string): Promise<boolean> {
  const result = await execa('ssh', [...sshd.clientOptions(key), `${sshd.user}@127.0.0.1`, 'true'], {reject: false, stdin: 'ignore'})
  return result.exitCode === 0
}

describe('authorized_keys follows the roster', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine
  let gamma: Machine
  const keys: Record<string, string> = {}
  let sshd: Sshd | undefined

  const syncAll = async () => {
    for (const machine of [alpha, beta, gamma]) await machine.sync()
  }

  before(async function () {
    fleet = await TestFleet.start('authorized-keys', {machines: ['alpha', 'beta', 'gamma'], joined: 0})
    ;[alpha, beta, gamma] = fleet.machines
    // What each machine had before it joined: alpha no authorized_keys, beta a key of its own (in a 0755 ~/.ssh),
    // gamma an empty file.
    for (const machine of [alpha, beta, gamma]) keys[machine.name] = await machine.makeSshKey()
    beta.write(AUTHORIZED_KEYS, `${BETA_OWN}\n`, 0o644)
    await beta.shell('chmod 0755 .ssh')
    gamma.write(AUTHORIZED_KEYS, '', 0o600)
    await alpha.enroll(fleet.url)
    await fleet.join(beta)
    await fleet.join(gamma)
  })
  after(async () => {
    await sshd?.stop()
    await fleet?.remove()
  })

  it('each machine records its key; at their next syncs every machine holds the block of the three keys, 0600 in a 0700 ~/.ssh', async function () {
    for (const machine of [alpha, beta, gamma]) {
      const recorded = (await machine.recordSshKey('.ssh/id_ed25519.pub')).result
      assert.equal(recorded.sshPublicKey, keys[machine.name])
    }
    await syncAll()
    const roster = (await alpha.listMachines()).result.machines
    assert.deepEqual(
      roster.map((m) => [m.name, m.sshPublicKey]),
      [alpha, beta, gamma].map((m) => [m.name, keys[m.name]]),
    )
    for (const machine of [alpha, beta, gamma]) {
      assert.deepEqual(splitBlock(machine).block, [keys.alpha, keys.beta, keys.gamma].sort(), `${machine.name}'s block`)
      assert.equal(machine.mode(AUTHORIZED_KEYS), 0o600, `${machine.name}'s authorized_keys`)
      assert.equal(machine.mode('.ssh'), 0o700, `${machine.name}'s ~/.ssh`)
    }
    assert.deepEqual(splitBlock(alpha).own, [], 'alpha had no file: only the block')
    assert.deepEqual(splitBlock(gamma).own, [], 'gamma had an empty file: only the block')
    assert.deepEqual(splitBlock(beta).own, [BETA_OWN])
    const status = (await beta.status()).result
    assert.deepEqual([status.conflicts, status.lastSync?.outcome], [[], 'ok'])
  })

  it('a line added by hand stays through syncs, and a machine that records another key replaces its old one everywhere', async function () {
    beta.edit(AUTHORIZED_KEYS, (text) => `${text}# a note of beta's own\n`)
    await beta.sync()
    keys.alpha = await alpha.makeSshKey()
    await alpha.recordSshKey('.ssh/id_ed25519.pub')
    await syncAll()
    for (const machine of [alpha, beta, gamma])
      assert.deepEqual(splitBlock(machine).block, [keys.alpha, keys.beta, keys.gamma].sort(), `${machine.name}'s block`)
    assert.deepEqual(splitBlock(beta).own.slice(-1), ["# a note of beta's own"])
    assert.equal(splitBlock(beta).own.length, 2, 'beta keeps its own key and its note')
    const roster = (await alpha.listMachines()).result.machines
    assert.equal(roster.filter((m) => m.name === 'alpha').length, 1, 'one entry for alpha, with the new key')
  })

  it('revoking gamma takes its key out of every other machine at its next sync; their own lines stay, and sshd lets gamma in no more', async function () {
    sshd = await Sshd.start(join(fleet.root, 'sshd-beta'), {authorizedKeysFile: beta.path(AUTHORIZED_KEYS)})
    const key = (machine: Machine) => machine.path('.ssh/id_ed25519')
    assert.equal(await canLogIn(sshd, key(gamma)), true, `gamma's key opens beta before the revocation\n${sshd.output}`)
    assert.equal(await canLogIn(sshd, key(alpha)), true, `alpha's key opens beta\n${sshd.output}`)

    await alpha.revoke('gamma')
    await alpha.sync()
    await beta.sync()
    for (const machine of [alpha, beta]) assert.deepEqual(splitBlock(machine).block, [keys.alpha, keys.beta].sort(), `${machine.name}'s block`)
    assert.deepEqual(splitBlock(beta).own, [BETA_OWN, "# a note of beta's own"])
    assert.equal(beta.mode(AUTHORIZED_KEYS), 0o600)

    assert.equal(await canLogIn(sshd, key(gamma)), false, 'the revoked key no longer logs in to beta')
    assert.equal(await canLogIn(sshd, key(alpha)), true, `an active machine's key still does\n${sshd.output}`)
  })

  it("a fleet from before fleet kept authorized_keys gets the entry at an active machine's next sync", async function () {
    const hand = await HandClone.make(fleet.forge, join(fleet.root, 'hand-older'), fleet.root)
    await hand.git(['rm', '-q', '-r', 'private_dot_ssh'])
    await hand.pushAll('as a fleet made before fleet kept authorized_keys was')
    await beta.sync()
    // beta as a machine of such a fleet is: its sync state has never looked for the entry.
    const stateFile = beta.syncFiles.state
    const {authorizedKeysChecked, ...older} = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>
    assert.equal(authorizedKeysChecked, true)
    writeFileSync(stateFile, JSON.stringify(older))
    const laid = await beta.sync()
    assert.ok(
      laid.result.notes.some((note) => note.includes('now holds the active machines')),
      `the sync says so: ${laid.result.notes.join('; ')}`,
    )
    assert.ok((await fleet.forge.files()).includes('private_dot_ssh/modify_private_authorized_keys'), 'the entry is in the forge again')
    await alpha.sync()
    assert.deepEqual(splitBlock(alpha).block, splitBlock(beta).block)
    assert.ok(splitBlock(alpha).block.length > 0)
  })

  it('a revoked machine enrolling again, or another taking its name, is refused with the fix', async function () {
    const again = await gamma.enroll(undefined, {exit: 2})
    assert.equal(again.error?.code, 'KEY_REVOKED')
    assert.match(again.error?.fix ?? '', /enroll under a new name .*approve it/)

    // Another machine (its own HOME, a new key) that asks for the revoked name.
    const newcomer = new Machine(join(fleet.root, 'elsewhere'), 'gamma')
    const taken = await newcomer.enroll(fleet.url, {exit: 2})
    assert.equal(taken.error?.code, 'NAME_REVOKED')
    assert.match(taken.error?.fix ?? '', /enroll under a new name .*approve it/)
    assert.equal(newcomer.exists(newcomer.sourceDir), false, 'nothing was set up for the refused name')
    const roster = (await alpha.listMachines()).result.machines
    assert.deepEqual(
      roster.filter((m) => m.name === 'gamma').map((m) => [m.state, m.sshPublicKey]),
      [['revoked', keys.gamma]],
    )
  })

  it('--ssh-key refuses a private key without showing it, and a file that is not a public key', async function () {
    const secretBody = readFileSync(beta.path('.ssh/id_ed25519'), 'utf8').split('\n')[1]
    const given = await beta.recordSshKey('.ssh/id_ed25519', {exit: 2})
    assert.equal(given.error?.code, 'PRIVATE_SSH_KEY')
    assert.match(given.error?.fix ?? '', /--ssh-key .*id_ed25519\.pub/)
    assert.ok(!given.stdout.includes(secretBody) && !given.stderr.includes(secretBody), 'the private key never reaches the output')

    beta.write('not-a-key.pub', 'ssh-ed25519 this-is-not-base64!\n')
    assert.equal((await beta.recordSshKey('not-a-key.pub', {exit: 2})).error?.code, 'BAD_SSH_KEY')
    assert.equal((await beta.recordSshKey('missing.pub', {exit: 2})).error?.code, 'BAD_SSH_KEY')
    const roster = (await beta.listMachines()).result.machines
    assert.equal(roster.find((m) => m.name === 'beta')?.sshPublicKey, keys.beta, 'the recorded key is unchanged')
  })

  it('SSH addresses: enroll --ssh-address and `machines address` record them in the roster (list shows them), --clear removes one, a bad one is refused', async function () {
    const json = <T>(run: FleetRun): T => JSON.parse(run.stdout) as T
    const recorded = json<{sshAddress?: string}>(
      await alpha.ok(['enroll', '--name', 'alpha', '--yes', '--no-agents', '--ssh-address', 'me@alpha.lan:2201', '--json']),
    )
    assert.equal(recorded.sshAddress, 'me@alpha.lan:2201')
    const set = json<{changed: boolean; pushed: number}>(await beta.ok(['machines', 'address', 'beta.lan', '--json']))
    assert.deepEqual([set.changed, set.pushed > 0], [true, true])
    const again = json<{changed: boolean}>(await beta.ok(['machines', 'address', 'beta.lan', '--json']))
    assert.equal(again.changed, false, 'the same address again changes nothing')

    const addresses = async (machine: Machine) => Object.fromEntries((await machine.listMachines()).result.machines.map((m) => [m.name, m.sshAddress ?? null]))
    assert.deepEqual(await addresses(alpha), {alpha: 'me@alpha.lan:2201', beta: 'beta.lan', gamma: null}, 'the forge has both addresses')
    const table = (await alpha.listMachines({json: false})).stdout
    assert.match(table, /SSH ADDRESS/)
    assert.match(table, /^beta .* beta\.lan$/m)

    // Something ssh would read as an option, and a port that cannot be: refused with the accepted forms, nothing changed.
    for (const bad of ['-oProxyCommand=touch /tmp/x', 'me@host:70000']) {
      const refused = await beta.fleet(['machines', 'address', '--json', '--', bad])
      assert.equal(refused.exitCode, 2, printed(refused))
      assert.match(JSON.parse(refused.stdout).error.fix, /user@host:port/)
    }
    const badEnroll = await alpha.fleet(['enroll', '--name', 'alpha', '--yes', '--no-agents', '--ssh-address', 'a b', '--json'])
    assert.equal(badEnroll.exitCode, 2, printed(badEnroll))
    assert.equal((await beta.fleet(['machines', 'address', 'beta.lan', '--clear', '--json'])).exitCode, 2, 'both an address and --clear')
    const shown = await beta.ok(['machines', 'address', '--json'])
    assert.deepEqual(
      json<{sshAddress?: string; changed: boolean}>(shown),
      {machine: 'beta', sshAddress: 'beta.lan', changed: false, pushed: 0},
      'no argument: shown',
    )

    await beta.ok(['machines', 'address', '--clear'])
    assert.deepEqual(await addresses(alpha), {alpha: 'me@alpha.lan:2201', beta: null, gamma: null})
  })

  it('add-path ~/.ssh is refused while the fleet keeps authorized_keys, with the fix', async function () {
    beta.write('.ssh/config', 'Host *\n  ServerAliveInterval 60\n')
    const refused = await beta.addPath('.ssh', {exit: 2})
    assert.equal(refused.error?.code, 'FLEET_AUTHORIZED_KEYS')
    assert.match(refused.error?.fix ?? '', /fleet add-path ~\/\.ssh\/config/)
    assert.equal((await beta.addPath(AUTHORIZED_KEYS, {exit: 2})).error?.code, 'FLEET_AUTHORIZED_KEYS')
    await beta.addPath('.ssh/config')
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('.ssh/config'), beta.read('.ssh/config'))
    assert.deepEqual(splitBlock(alpha).block, [keys.alpha, keys.beta].sort(), 'the block is as it was')
  })
})

describe('authorized_keys in a fleet that syncs ~/.ssh itself', function () {
  let fleet: TestFleet

  before(async function () {
    fleet = await TestFleet.start('authorized-keys-own', {machines: ['alpha', 'beta'], joined: 1})
  })
  after(() => fleet?.remove())

  it('a fleet made before fleet kept authorized_keys, whose ~/.ssh is a managed path: enroll says so and lays nothing; syncs go on', async function () {
    const [alpha, beta] = fleet.machines
    // The fleet as an older fleet left it: no entry for authorized_keys; then ~/.ssh added as a path.
    await alpha.git(['rm', '-q', '-r', 'private_dot_ssh'])
    await alpha.git(['commit', '-q', '-m', 'as an older fleet was'])
    alpha.write(AUTHORIZED_KEYS, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlphaOwnKeyAlphaOwnKeyAlphaOwnKeyAlphaOwn0 alpha-own\n', 0o600)
    await alpha.addPath('.ssh')
    await alpha.sync()

    await alpha.makeSshKey('keys/id_ed25519')
    const recorded = await alpha.recordSshKey('keys/id_ed25519.pub')
    assert.ok(
      recorded.result.notes.some((note) => note.includes('~/.ssh/authorized_keys is synced as part of ~/.ssh')),
      `enroll says why it keeps no block:\n${recorded.stdout}`,
    )
    assert.deepEqual(alpha.authorizedKeys(), ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlphaOwnKeyAlphaOwnKeyAlphaOwnKeyAlphaOwn0 alpha-own'])

    await fleet.join(beta)
    await beta.enroll()
    await beta.sync()
    await alpha.sync()
    assert.deepEqual(beta.authorizedKeys(), alpha.authorizedKeys(), 'the file travels as any file of ~/.ssh')
    assert.equal((await alpha.git(['ls-files'])).split('\n').filter((f) => f.includes('modify_')).length, 0, 'no modify_ entry beside the file')
  })
})
