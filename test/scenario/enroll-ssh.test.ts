// Joining a fleet whose forge is reached over ssh:// — a real sshd of the test's own on 127.0.0.1.
import assert from 'node:assert/strict'
import {join} from 'node:path'

import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {Sshd} from '../support/sshd.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const SECRETS = '.config/fleet/secrets.env'

describe('enroll over ssh://: join, approve, and a forge that is down', function () {
  let root: string
  let sshd: Sshd
  let forge: Forge
  let url: string
  let alpha: Machine
  let beta: Machine

  before(async function () {
    root = makeTempDir('enroll-ssh')
    sshd = await Sshd.start(join(root, 'sshd'))
    forge = await Forge.create(root)
    url = sshd.url(forge.path)
    alpha = new Machine(root, 'alpha', sshd.env)
    beta = new Machine(root, 'beta', sshd.env)
  })
  after(async function () {
    await sshd?.stop()
    if (root) removeTempDir(root)
  })

  it('starts a fleet on the forge over ssh://', async function () {
    const result = await alpha.enroll(url)
    assert.match(result.stdout, /alpha is active/)
    assert.equal(await alpha.git(['remote', 'get-url', 'origin']), url)
    assert.notEqual(await forge.head(), '', 'the first push went through sshd to the bare repo')
  })

  it('joins beta over ssh:// as pending, and the roster fetched over ssh says so', async function () {
    const result = await beta.enroll(url)
    assert.match(result.stdout, /beta is pending/)
    assert.match(result.stdout, /fleet machines approve beta/)
    assert.equal(await beta.git(['remote', 'get-url', 'origin']), url)
    assert.equal(beta.exists(SECRETS), false, 'a pending machine must not get encrypted files')

    const roster = (await beta.ok(['machines', 'list', '--json'])).json()
    assert.equal(roster.source, 'forge', `the roster should come from the forge over ssh: ${JSON.stringify(roster)}\n--- sshd\n${sshd.output}`)
    assert.deepEqual(roster.machines.map((m: any) => [m.name, m.state]), [['alpha', 'active'], ['beta', 'pending']])
  })

  it('alpha approves beta; beta enrolls again and gets the decrypted secrets file (0600)', async function () {
    const approve = (await alpha.ok(['machines', 'approve', 'beta', '--json'])).json()
    assert.equal(approve.state, 'active')
    assert.equal(approve.recipients, 2)

    await beta.enroll(undefined)
    assert.equal(beta.read(SECRETS), alpha.read(SECRETS))
    assert.equal(beta.mode(SECRETS), 0o600)
    assert.equal(beta.mode('.config/fleet/identity.txt'), 0o600)

    const roster = (await beta.ok(['machines', 'list', '--json'])).json()
    assert.equal(roster.source, 'forge')
    assert.deepEqual(roster.machines.map((m: any) => [m.name, m.state]), [['alpha', 'active'], ['beta', 'active']])
  })

  it('an ssh forge that is down: exit 3, "cannot be reached", nothing created', async function () {
    const down = await Sshd.start(join(root, 'sshd-down'))
    const downUrl = down.url(forge.path)
    await down.stop()
    const gamma = new Machine(root, 'gamma', down.env)
    const result = await gamma.fleet(['enroll', '--forge', downUrl, '--name', 'gamma', '--no-agents'])
    assert.equal(result.exitCode, 3, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
    assert.match(result.stderr, /cannot be reached/)
    assert.equal(gamma.exists('.config/fleet/identity.txt'), false)
  })
})
