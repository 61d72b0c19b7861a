// Joining a fleet whose forge is reached over ssh:// — a real sshd of the test's own on 127.0.0.1.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {Sshd} from '../support/sshd.ts'

const SECRETS = '.config/fleet/secrets.env'

describe('enroll over ssh://: join, approve, and a forge that is down', function () {
  let fleet: TestFleet
  let root: string
  let sshd: Sshd
  let forge: Forge
  let url: string
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('enroll-ssh', {ssh: true, joined: 0})
    ;({
      root,
      forge,
      url,
      machines: [alpha, beta],
    } = fleet)
    sshd = fleet.sshd!
  })
  after(() => fleet?.remove())

  it('starts a fleet on the forge over ssh://', async function () {
    const result = await alpha.enroll(url, {json: false})
    assert.match(result.stdout, /alpha is active/)
    assert.equal(await alpha.git(['remote', 'get-url', 'origin']), url)
    assert.notEqual(await forge.head(), '', 'the first push went through sshd to the bare repo')
  })

  it('joins beta over ssh:// as pending, and the roster fetched over ssh says so', async function () {
    const result = await beta.enroll(url, {json: false})
    assert.match(result.stdout, /beta is pending/)
    assert.match(result.stdout, /fleet machines approve beta/)
    assert.equal(await beta.git(['remote', 'get-url', 'origin']), url)
    assert.equal(beta.exists(SECRETS), false, 'a pending machine must not get encrypted files')

    const roster = (await beta.listMachines()).result
    assert.equal(roster.source, 'forge', `the roster should come from the forge over ssh: ${JSON.stringify(roster)}\n--- sshd\n${sshd.output}`)
    assert.deepEqual(
      roster.machines.map((m) => [m.name, m.state]),
      [
        ['alpha', 'active'],
        ['beta', 'pending'],
      ],
    )
  })

  it('alpha approves beta; beta enrolls again and gets the decrypted secrets file (0600)', async function () {
    const approve = (await alpha.approve('beta')).result
    assert.equal(approve.state, 'active')
    assert.equal(approve.recipients, 2)

    await beta.enroll()
    assert.equal(beta.read(SECRETS), alpha.read(SECRETS))
    assert.equal(beta.mode(SECRETS), 0o600)
    assert.equal(beta.mode(beta.identityFile), 0o600)

    const roster = (await beta.listMachines()).result
    assert.equal(roster.source, 'forge')
    assert.deepEqual(
      roster.machines.map((m) => [m.name, m.state]),
      [
        ['alpha', 'active'],
        ['beta', 'active'],
      ],
    )
  })

  it('an ssh forge that is down: exit 3, "cannot be reached", nothing created', async function () {
    const down = await Sshd.start(join(root, 'sshd-down'))
    const downUrl = down.url(forge.path)
    await down.stop()
    const gamma = new Machine(root, 'gamma', down.env)
    const result = await gamma.enroll(downUrl, {exit: 3, json: false})
    assert.match(result.stderr, /cannot be reached/)
    assert.equal(gamma.exists(gamma.identityFile), false)
  })

  it('ssh that does not know the host key, or a key the forge refuses: exit 3 with the fix for each, and the fix works', async function () {
    // ssh as a person's first contact with a forge: no entry in known_hosts, and asking is not allowed (no terminal).
    const strict = (key: string) => sshd.gitSshCommand.replace('StrictHostKeyChecking=accept-new', 'StrictHostKeyChecking=ask').replace(sshd.clientKey, key)
    const unknownHosts = join(root, 'delta-known_hosts')
    writeFileSync(unknownHosts, '')
    const command = strict(sshd.clientKey).replace(sshd.knownHosts, unknownHosts)
    const delta = new Machine(root, 'delta', {GIT_SSH_COMMAND: command})
    const first = await delta.enroll(url, {exit: 3, json: false})
    assert.match(first.stderr, /Host key verification failed/)
    const printed = /accept it: (ssh .*?) — then/.exec(first.stderr)?.[1]
    assert.equal(printed, `ssh -p ${sshd.port} -T ${sshd.user}@127.0.0.1`)
    assert.equal(delta.exists(delta.identityFile), false)

    // The printed command, answered "yes" as a person would (with this test's key and files), then enroll again.
    const [, ...args] = printed.split(' ')
    const accept = [
      '-F',
      '/dev/null',
      '-i',
      sshd.clientKey,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${unknownHosts}`,
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      'BatchMode=yes',
      ...args,
      'true',
    ]
    await execa('ssh', accept, {reject: false})
    assert.match(readFileSync(unknownHosts, 'utf8'), /ssh-ed25519/, 'the host key is now known')
    await delta.enroll(url)

    // A key the forge does not know.
    const stranger = join(root, 'stranger_ed25519')
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger])
    const epsilon = new Machine(root, 'epsilon', {GIT_SSH_COMMAND: strict(stranger)})
    const refused = await epsilon.enroll(url, {exit: 3, json: false})
    assert.match(refused.stderr, /Permission denied \(publickey/)
    assert.match(refused.stderr, /Fix: The forge refused this machine's SSH key\. Add its public key/)
  })
})
