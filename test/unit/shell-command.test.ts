// A command printed in a fix means, pasted into a shell, exactly the words fleet meant.
import assert from 'node:assert/strict'

import {execa} from 'execa'

import {homeShellPath, shellCommand} from '../../src/lib/errors/shell-command.ts'

const AWKWARD = ['plain', 'with space', "it's", 'a"b', '$(touch pwned)', '`id`', 'a&b<c>d|e;f', '*', '~x', 'new\nline', '', '-n']

describe('shell commands printed in fixes', function () {
  it('every word reaches the program as it was, whatever it holds', async function () {
    const printed = shellCommand('printf', '%s\\0', ...AWKWARD)
    const {stdout} = await execa('sh', ['-c', printed], {stripFinalNewline: false})
    assert.deepEqual(stdout.split('\0').slice(0, -1), AWKWARD)
  })

  it('a path under $HOME keeps ~ outside the quotes, so the shell expands it', async function () {
    const {stdout} = await execa('sh', ['-c', `printf '%s' ${homeShellPath("dir with 'quote'/f $(x)")}`], {env: {HOME: '/home/someone'}})
    assert.equal(stdout, "/home/someone/dir with 'quote'/f $(x)")
    assert.equal(homeShellPath('.config/nvim'), '~/.config/nvim')
  })
})

describe('the ssh command a fix prints for a forge', function () {
  it('reaches the host and port git would, IPv6 included', async function () {
    const {sshCommandFor} = await import('../../src/lib/git/git.ts')
    assert.equal(sshCommandFor('ssh://git@example.org:2222/me/dots.git'), 'ssh -p 2222 -T git@example.org')
    assert.equal(sshCommandFor('ssh://git@[::1]:2222/me/dots.git'), 'ssh -p 2222 -T git@::1')
    assert.equal(sshCommandFor('git@github.com:me/dots.git'), 'ssh -T git@github.com')
    assert.equal(sshCommandFor('git@[fe80::1]:me/dots.git'), 'ssh -T git@fe80::1')
    assert.equal(sshCommandFor('ssh://example.org/dots.git'), 'ssh -T example.org')
  })
})
