// Never wedged: a managed directory that is a link (stow-style: ~/.config/nvim → ~/dotfiles/nvim) travels as the
// directory's contents. Other machines get real files, nothing they had is lost, the link stays where it is, and
// edits travel both ways through it.
import assert from 'node:assert/strict'
import {lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

/** What a command printed, with oclif's wrapping of warnings undone. */
const printed = (run: {stdout: string; stderr: string}) => (run.stdout + run.stderr).replace(/\s*\n\s*›\s*/g, ' ').replace(/\s+/g, ' ')

/** Every file below a directory, relative to it, with its content. */
function filesIn(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(dir, relative), {withFileTypes: true})) {
      const path = relative ? `${relative}/${entry.name}` : entry.name
      if (entry.isDirectory()) walk(path)
      else files[path] = readFileSync(join(dir, path), 'utf8')
    }
  }
  walk('')
  return files
}

describe('never wedged: a managed directory that is a link', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('wedged-symlink')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('dotfiles/nvim/init.lua', 'vim.o.number = true\n')
    alpha.write('dotfiles/nvim/lua/plugins.lua', 'return {}\n')
    mkdirSync(alpha.path('.config'), {recursive: true})
    symlinkSync(alpha.path('dotfiles/nvim'), alpha.path('.config/nvim'))
    // beta already has a real ~/.config/nvim of its own.
    beta.write('.config/nvim/init.lua', '-- beta before the fleet\n')
    beta.write('.config/nvim/lua/beta-only.lua', 'return "beta"\n')
  })
  after(() => fleet?.remove())

  it('add-path syncs the linked directory as its contents: beta gets real files, keeps its own, alpha keeps its link', async function () {
    const added = await alpha.addPath('.config/nvim', {json: false})
    assert.match(printed(added), /link to the directory .*dotfiles\/nvim: its contents are synced/)
    assert.equal(await forge.show('dot_config/nvim/init.lua'), 'vim.o.number = true\n')
    assert.equal(await forge.show('dot_config/nvim/lua/plugins.lua'), 'return {}\n')
    assert.ok(!(await forge.files()).some((f) => f.includes('symlink_')), 'no link travels')

    await beta.sync()
    assert.ok(lstatSync(beta.path('.config/nvim')).isDirectory(), 'a real directory on beta')
    assert.equal(beta.read('.config/nvim/init.lua'), 'vim.o.number = true\n')
    assert.equal(beta.read('.config/nvim/lua/plugins.lua'), 'return {}\n')
    assert.equal(beta.read('.config/nvim/lua/beta-only.lua'), 'return "beta"\n', "beta's own file is still there")
    // beta's own init.lua was replaced by the fleet's: it is in the backup, nothing lost.
    const backups = beta.locations.backupsDir
    const kept = readdirSync(backups)
      .map((stamp) => filesIn(join(backups, stamp))['.config/nvim/init.lua'])
      .filter(Boolean)
    assert.deepEqual(kept, ['-- beta before the fleet\n'])

    // beta's own file travels to alpha, into the directory the link points to; the link stays.
    await beta.sync()
    await alpha.sync()
    assert.ok(lstatSync(alpha.path('.config/nvim')).isSymbolicLink(), 'alpha keeps its link')
    assert.equal(alpha.read('dotfiles/nvim/lua/beta-only.lua'), 'return "beta"\n')
    const status = await alpha.status({json: false})
    assert.doesNotMatch(status.stdout, /\.config\/nvim\b(?!\/)/, 'the link is not reported as an edit')
  })

  it("an edit in alpha's ~/dotfiles/nvim travels to beta, and an edit on beta travels back through the link; both settle", async function () {
    alpha.write('dotfiles/nvim/init.lua', 'vim.o.number = true\nvim.o.relativenumber = true\n')
    alpha.write('dotfiles/nvim/after/ftplugin/lua.lua', 'vim.bo.shiftwidth = 2\n')
    await alpha.sync()
    await beta.sync()
    assert.equal(beta.read('.config/nvim/init.lua'), 'vim.o.number = true\nvim.o.relativenumber = true\n')
    assert.equal(beta.read('.config/nvim/after/ftplugin/lua.lua'), 'vim.bo.shiftwidth = 2\n')

    beta.write('.config/nvim/lua/plugins.lua', 'return {"telescope"}\n')
    beta.remove('.config/nvim/after/ftplugin/lua.lua')
    await beta.sync()
    await alpha.sync()
    assert.equal(alpha.read('dotfiles/nvim/lua/plugins.lua'), 'return {"telescope"}\n')
    assert.equal(alpha.exists('dotfiles/nvim/after/ftplugin/lua.lua'), false, 'a deletion travels through the link')
    assert.ok(lstatSync(alpha.path('.config/nvim')).isSymbolicLink())

    // Nothing left over: the next sync on each machine takes the quick path.
    const again = (await alpha.sync()).result
    assert.equal(again.outcome, 'quick', JSON.stringify(again))
  })

  it('a link to a file, or to nothing, is refused with what to add instead; a link inside a managed directory to a fixed path is warned about', async function () {
    alpha.write('dotfiles/zshrc', 'export EDITOR=nvim\n')
    symlinkSync(alpha.path('dotfiles/zshrc'), alpha.path('.zshrc'))
    const file = await alpha.addPath('.zshrc', {exit: 2, json: false})
    assert.match(file.stderr, /link to the file .*dotfiles\/zshrc/)
    assert.match(file.stderr, /Fix: Add the file it points to instead: fleet add-path .*dotfiles\/zshrc/)
    await alpha.addPath('dotfiles/zshrc') // the printed fix works

    symlinkSync(alpha.path('nowhere'), alpha.path('.broken'))
    const broken = await alpha.addPath('.broken', {exit: 2, json: false})
    assert.match(broken.stderr, /does not exist/)

    alpha.write('.tool/config', 'x\n')
    symlinkSync('/usr/share', alpha.path('.tool/share'))
    const inner = await alpha.addPath('.tool', {json: false})
    assert.match(printed(inner), /\.tool\/share is a link to \/usr\/share, a path fixed on this machine/)
  })
})
