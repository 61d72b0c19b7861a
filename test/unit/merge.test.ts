import assert from 'node:assert/strict'

import {mergeFleets} from '../../src/lib/manifest/merge.ts'
import type {Fleet} from '../../src/lib/manifest/schema.ts'
import {fleetOf, machineEntry} from '../support/roster.ts'

const machine = machineEntry
const base: Fleet = fleetOf([machine('alpha', 'active'), machine('beta', 'pending')], [{path: '.zshrc', encrypt: false}])

describe('manifest three-way merge', function () {
  it("keeps both sides' added paths and both sides' removals", function () {
    const mine = {...base, paths: [...base.paths, {path: '.vimrc', encrypt: false}]}
    const theirs = {...base, paths: [{path: '.gitconfig', encrypt: false}]} // removed .zshrc, added .gitconfig
    assert.deepEqual(
      mergeFleets(base, mine, theirs)
        .paths.map((p) => p.path)
        .sort(),
      ['.gitconfig', '.vimrc'],
    )
  })

  it('an approval on one side and a new machine on the other both survive; the later change of a machine wins', function () {
    const mine = {...base, machines: [base.machines[0], machine('beta', 'active', '2026-02-01T00:00:00.000Z')]}
    const theirs = {...base, machines: [...base.machines, machine('gamma', 'pending')]}
    const merged = mergeFleets(base, mine, theirs)
    assert.deepEqual(
      merged.machines.map((m) => [m.name, m.state]),
      [
        ['alpha', 'active'],
        ['beta', 'active'],
        ['gamma', 'pending'],
      ],
    )
  })

  describe('a revocation is permanent', function () {
    const later = '2026-03-01T00:00:00.000Z'
    const stateOf = (fleet: Fleet, name: string) => fleet.machines.find((m) => m.name === name)?.state
    const activeBeta = {...base, machines: [base.machines[0], machine('beta', 'active')]}

    it('a revocation on either side wins over a later change of the same machine on the other', function () {
      const revoked = {...activeBeta, machines: [activeBeta.machines[0], machine('beta', 'revoked', '2026-02-01T00:00:00.000Z')]}
      const changedLater = {...activeBeta, machines: [activeBeta.machines[0], {...machine('beta', 'active', later), sshPublicKey: 'ssh-ed25519 AAAAC3Nz beta'}]}
      assert.equal(stateOf(mergeFleets(activeBeta, revoked, changedLater), 'beta'), 'revoked', 'revoked on this side')
      assert.equal(stateOf(mergeFleets(activeBeta, changedLater, revoked), 'beta'), 'revoked', 'revoked on the forge')
    })

    it('an approval made later than the revocation does not bring the machine back, in either order', function () {
      const pendingBase = base // beta pending
      const revoked = {...base, machines: [base.machines[0], machine('beta', 'revoked', '2026-02-01T00:00:00.000Z')]}
      const approvedLater = {...base, machines: [base.machines[0], machine('beta', 'active', later)]}
      assert.equal(stateOf(mergeFleets(pendingBase, revoked, approvedLater), 'beta'), 'revoked')
      assert.equal(stateOf(mergeFleets(pendingBase, approvedLater, revoked), 'beta'), 'revoked')
    })

    it('a revoked name taken by a new key on one side stays revoked, with the revoked key', function () {
      const revoked = {...base, machines: [base.machines[0], machine('beta', 'revoked')]}
      const retaken = {...revoked, machines: [revoked.machines[0], {...machine('beta', 'pending', later), recipient: 'age1other'}]}
      for (const [mine, theirs] of [
        [revoked, retaken],
        [retaken, revoked],
      ]) {
        const beta = mergeFleets(revoked, mine, theirs).machines.find((m) => m.name === 'beta')!
        assert.deepEqual([beta.state, beta.recipient], ['revoked', 'age1beta'])
      }
    })

    it('a revoked machine dropped from the roster on one side is kept', function () {
      const revoked = {...base, machines: [base.machines[0], machine('beta', 'revoked')]}
      const dropped = {...revoked, machines: [revoked.machines[0]]}
      assert.equal(stateOf(mergeFleets(revoked, dropped, revoked), 'beta'), 'revoked')
      assert.equal(stateOf(mergeFleets(revoked, revoked, dropped), 'beta'), 'revoked')
    })
  })

  it("each side's change to a different setting is kept: a rotation request beside another machine's new pull interval", function () {
    const mine = {...base, settings: {...base.settings, agents: {...base.settings.agents, pullIntervalSeconds: 60}}}
    const theirs = {...base, settings: {...base.settings, rotationRequestedAt: '2026-11-30T00:00:00.000Z'}}
    for (const merged of [mergeFleets(base, mine, theirs), mergeFleets(base, theirs, mine)]) {
      assert.equal(merged.settings.agents.pullIntervalSeconds, 60)
      assert.equal(merged.settings.rotationRequestedAt, '2026-11-30T00:00:00.000Z')
    }
  })

  it('settings changed on one side win over the untouched other', function () {
    const mine = {...base, settings: {...base.settings, agents: {...base.settings.agents, pullIntervalSeconds: 60}}}
    assert.equal(mergeFleets(base, mine, base).settings.agents.pullIntervalSeconds, 60)
    assert.equal(mergeFleets(base, base, mine).settings.agents.pullIntervalSeconds, 60)
  })
})
