import assert from 'node:assert/strict'

import {mergeFleets} from '../../src/lib/manifest/merge.ts'
import {type Fleet, type Machine, settingsSchema} from '../../src/lib/manifest/schema.ts'

const machine = (name: string, state: Machine['state'], updatedAt = '2026-01-01T00:00:00.000Z'): Machine => ({
  name,
  hostname: name,
  os: 'linux',
  recipient: `age1${name}`,
  state,
  enrolledAt: '2026-01-01T00:00:00.000Z',
  updatedAt,
})

const base: Fleet = {
  version: 1,
  id: 'fleet-1234',
  createdAt: '2026-01-01T00:00:00.000Z',
  settings: settingsSchema.parse({}),
  paths: [{path: '.zshrc', encrypt: false}],
  machines: [machine('alpha', 'active'), machine('beta', 'pending')],
  plugins: [],
}

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

  it('settings changed on one side win over the untouched other', function () {
    const mine = {...base, settings: {...base.settings, agents: {...base.settings.agents, pullIntervalSeconds: 60}}}
    assert.equal(mergeFleets(base, mine, base).settings.agents.pullIntervalSeconds, 60)
    assert.equal(mergeFleets(base, base, mine).settings.agents.pullIntervalSeconds, 60)
  })
})
