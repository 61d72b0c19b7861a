import assert from 'node:assert/strict'

import {UsageError} from '../../src/lib/errors/index.ts'
import {ensureMachine} from '../../src/lib/fleet/roster.ts'
import {parseSshAddress} from '../../src/lib/fleet/ssh-address.ts'
import type {Fleet} from '../../src/lib/manifest/schema.ts'
import {fleetOf, machineEntry} from '../support/roster.ts'

const machine = machineEntry
const fleet = (): Fleet => fleetOf([machine('alpha', 'active'), machine('old', 'revoked')])

const refusal = (run: () => unknown): UsageError => {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error))
    return error
  }
  assert.fail('not refused')
}

describe('roster: who may enroll under which name', function () {
  it('a revoked name is never taken again, by a new key: the fix is a new name and an approval', function () {
    const roster = fleet()
    const error = refusal(() => ensureMachine(roster, 'old', 'age1newkey', '/id.txt'))
    assert.equal(error.code, 'NAME_REVOKED')
    assert.match(error.fix ?? '', /enroll under a new name \(fleet enroll --name <new-name>\), then have an active machine approve it/)
    assert.deepEqual(roster.machines, fleet().machines, 'the roster is unchanged')
  })

  it('a revoked key is refused under its own name and under a new one', function () {
    assert.equal(refusal(() => ensureMachine(fleet(), 'old', 'age1old', '/id.txt')).code, 'KEY_REVOKED')
    const error = refusal(() => ensureMachine(fleet(), 'fresh', 'age1old', '/id.txt'))
    assert.equal(error.code, 'KEY_REVOKED')
    assert.match(error.fix ?? '', /Move this machine's identity file \(\/id\.txt\) aside/)
  })

  it('a name held by another key is refused, and the fix no longer says revoking frees it', function () {
    const error = refusal(() => ensureMachine(fleet(), 'alpha', 'age1other', '/id.txt'))
    assert.equal(error.code, 'NAME_TAKEN')
    assert.match(error.fix ?? '', /the name stays taken/)
  })

  it("enrolling again with another SSH key replaces the entry's key; the same key changes nothing", function () {
    const roster = fleet()
    const now = new Date('2026-05-01T00:00:00.000Z')
    const first = ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshPublicKey: 'ssh-ed25519 AAAAfirst a', now})
    assert.deepEqual(
      [first.added, first.changed, first.machine.sshPublicKey, first.machine.updatedAt],
      [false, true, 'ssh-ed25519 AAAAfirst a', now.toISOString()],
    )
    const again = ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshPublicKey: 'ssh-ed25519 AAAAfirst a'})
    assert.equal(again.changed, false)
    ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshPublicKey: 'ssh-ed25519 AAAAsecond a'})
    assert.deepEqual(
      roster.machines.filter((m) => m.name === 'alpha').map((m) => m.sshPublicKey),
      ['ssh-ed25519 AAAAsecond a'],
    )
  })

  it('an SSH address given alone is recorded beside the SSH key, which stays; the same address again changes nothing', function () {
    const roster = fleet()
    ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshPublicKey: 'ssh-ed25519 AAAAfirst a'})
    const recorded = ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshAddress: 'me@alpha.lan:2222'})
    assert.deepEqual([recorded.changed, recorded.machine.sshAddress, recorded.machine.sshPublicKey], [true, 'me@alpha.lan:2222', 'ssh-ed25519 AAAAfirst a'])
    assert.equal(ensureMachine(roster, 'alpha', 'age1alpha', '/id.txt', {sshAddress: 'me@alpha.lan:2222'}).changed, false)
  })

  it('a new machine starts pending beside an active one, with its SSH key', function () {
    const {machine: added, added: wasAdded} = ensureMachine(fleet(), 'beta', 'age1beta', '/id.txt', {sshPublicKey: 'ssh-ed25519 AAAAbeta b'})
    assert.deepEqual([wasAdded, added.state, added.sshPublicKey], [true, 'pending', 'ssh-ed25519 AAAAbeta b'])
  })
})

describe('SSH addresses', function () {
  it('are read as [user@]host[:port]; a bad one is refused saying why', function () {
    assert.deepEqual(parseSshAddress('me@[::1]:2222'), {user: 'me', host: '::1', port: 2222})
    const why = (text: string) => refusal(() => parseSshAddress(text)).message
    assert.match(why('me@host:99999'), /port 99999 is outside 1-65535/)
    assert.match(why('::1'), /IPv6 host goes in brackets \(\[::1\]\)/)
    assert.match(why('me@fe80::1'), /IPv6 host goes in brackets \(\[fe80::1\]\)/)
    assert.match(why('-oProxyCommand=x'), /read it as an option/)
    assert.match(why('host:ssh'), /port "ssh" is not a number/)
    assert.match(refusal(() => parseSshAddress('a b')).fix!, /user@host:port/)
  })
})
