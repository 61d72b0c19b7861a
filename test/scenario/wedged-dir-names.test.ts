// Directories whose names chezmoi reads as attributes (external_…, remove_…): chezmoi add writes them as they are
// and reads them back as another target. They travel under their own names, both ways, and touch nothing else.
import assert from 'node:assert/strict'
import {lstatSync} from 'node:fs'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

describe('directories named like chezmoi attributes (external_, remove_)', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-dir-names')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.claude/keep.md', 'kept\n')
    await alpha.addPath('.claude')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('new in a managed directory: they reach the other machine under their own names; its own x and y are untouched', async function () {
    beta.write('.claude/x/f.md', "beta's own x\n")
    beta.write('.claude/y/f.md', "beta's own y\n")
    alpha.write('.claude/external_x/f.md', 'in external_x\n')
    alpha.write('.claude/remove_y/f.md', 'in remove_y\n')
    alpha.write('.claude/remove_y/external_z/g.md', 'nested\n')
    await alpha.sync()
    assert.equal(alpha.exists('.claude/x'), false, 'no x made from external_x here')
    assert.equal(alpha.exists('.claude/y'), false, 'no y made from remove_y here')
    assert.equal((await alpha.chezmoi(['status'])).trim(), '')
    assert.ok((await forge.files()).includes('dot_claude/literal_external_x/f.md'), (await forge.files()).join(', '))

    await beta.sync()
    assert.equal(beta.read('.claude/external_x/f.md'), 'in external_x\n')
    assert.equal(beta.read('.claude/remove_y/f.md'), 'in remove_y\n')
    assert.equal(beta.read('.claude/remove_y/external_z/g.md'), 'nested\n')
    assert.equal(beta.read('.claude/x/f.md'), "beta's own x\n")
    assert.equal(beta.read('.claude/y/f.md'), "beta's own y\n")

    // Edited and added to on beta, deleted on alpha: each travels under the same names.
    beta.write('.claude/external_x/f.md', 'edited on beta\n')
    beta.write('.claude/external_x/new.md', 'new on beta\n')
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('.claude/external_x/f.md'), 'edited on beta\n')
    assert.equal(alpha.read('.claude/external_x/new.md'), 'new on beta\n')
    alpha.remove('.claude/remove_y')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.exists('.claude/remove_y'), false)
    assert.equal(beta.read('.claude/y/f.md'), "beta's own y\n")
    for (const machine of [alpha, beta]) assert.equal((await machine.chezmoi(['status'])).trim(), '', machine.name)
    assert.equal(lstatSync(beta.path('.claude/x')).isDirectory(), true)
  })

  it('a managed path itself named remove_…: add-path takes it, and it reaches the other machine', async function () {
    alpha.write('remove_tools/run.sh', 'echo tools\n')
    await alpha.addPath('remove_tools')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('remove_tools/run.sh'), 'echo tools\n')
    const paths = await beta.paths({json: false})
    assert.match(paths.stdout, /~\/remove_tools\s+in sync/)
  })
})
