// The forge address: URLs kept as given, local paths made absolute, the same repository recognised however it
// is written; and what the forge holds, or that it cannot be reached (exit 3).
import assert from 'node:assert/strict'
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {ExitCode, ForgeUnreachableError} from '../../src/lib/errors/index.ts'
import {normalizeForge, probeForge, sameForge} from '../../src/lib/forge/forge.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const GIT_ENV = {GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C'}

async function git(args: string[], cwd?: string): Promise<string> {
  return String((await execa('git', args, {cwd, env: GIT_ENV})).stdout)
}

describe('forge: addresses and probing', function () {
  describe('normalizeForge', function () {
    const kept: Array<[string, string]> = [
      ['ssh://git@example.org/me/dotfiles.git', 'ssh://git@example.org/me/dotfiles.git'],
      ['ssh://git@example.org:2222/me/dotfiles.git/', 'ssh://git@example.org:2222/me/dotfiles.git'],
      ['git@github.com:me/dotfiles.git', 'git@github.com:me/dotfiles.git'],
      ['git@github.com:me/dotfiles.git//', 'git@github.com:me/dotfiles.git'],
      ['https://example.org/me/dotfiles.git', 'https://example.org/me/dotfiles.git'],
      ['https://example.org/me/dotfiles/', 'https://example.org/me/dotfiles'],
      ['file:///srv/git/dotfiles.git', 'file:///srv/git/dotfiles.git'],
    ]
    for (const [given, expected] of kept) {
      it(`keeps ${given} as ${expected}`, function () {
        assert.equal(normalizeForge(given, '/somewhere/else'), expected)
      })
    }

    const local: Array<[string, string, string]> = [
      ['forge.git', '/home/me', '/home/me/forge.git'],
      ['./git/forge.git/', '/home/me', '/home/me/git/forge.git'],
      ['../shared/forge.git', '/home/me/work', '/home/me/shared/forge.git'],
      ['/srv/git/forge.git/', '/home/me', '/srv/git/forge.git'],
    ]
    for (const [given, cwd, expected] of local) {
      it(`makes ${given} (in ${cwd}) the absolute path ${expected}`, function () {
        assert.equal(normalizeForge(given, cwd), expected)
      })
    }

    it('uses the current directory by default for a relative path', function () {
      assert.equal(normalizeForge('forge.git'), join(process.cwd(), 'forge.git'))
    })
  })

  describe('sameForge', function () {
    let root: string
    let repo: string
    before(async function () {
      root = makeTempDir('forge-same')
      repo = join(root, 'x', 'y.git')
      mkdirSync(join(root, 'x'))
      await git(['init', '--quiet', '--bare', repo])
      symlinkSync(repo, join(root, 'link.git'))
      symlinkSync(join(root, 'x'), join(root, 'xlink'))
    })
    after(() => removeTempDir(root))

    it('file:///x/y.git, /x/y.git, /x/y.git/ and a symlink to it are the same forge', function () {
      const forms = [repo, `${repo}/`, `file://${repo}`, join(root, 'link.git'), `file://${join(root, 'link.git')}`, join(root, 'xlink', 'y.git')]
      for (const a of forms) for (const b of forms) assert.equal(sameForge(a, b), true, `${a} vs ${b}`)
    })

    it('the same for a path that does not exist (yet)', function () {
      assert.equal(sameForge('file:///nowhere/y.git', '/nowhere/y.git/'), true)
    })

    it('a different repository is a different forge', function () {
      assert.equal(sameForge(repo, join(root, 'x', 'z.git')), false)
      assert.equal(sameForge(`file://${repo}`, 'ssh://git@example.org/x/y.git'), false)
    })

    it('URLs compare as given, ignoring a trailing slash', function () {
      assert.equal(sameForge('ssh://git@example.org/me/d.git', 'ssh://git@example.org/me/d.git/'), true)
      assert.equal(sameForge('git@github.com:me/d.git', 'git@github.com:me/d.git'), true)
      assert.equal(sameForge('git@github.com:me/d.git', 'git@github.com:you/d.git'), false)
    })
  })

  describe('probeForge', function () {
    let root: string
    before(() => {
      root = makeTempDir('forge-probe')
    })
    after(() => removeTempDir(root))

    it('an empty bare repository is empty, with no branches', async function () {
      const bare = join(root, 'empty.git')
      await git(['init', '--quiet', '--bare', '--initial-branch=main', bare])
      for (const url of [bare, `file://${bare}`]) {
        const probe = await probeForge(url)
        assert.deepEqual(probe, {url, empty: true, branches: []})
      }
    })

    it('a repository with a pushed commit lists its branches', async function () {
      const bare = join(root, 'full.git')
      const work = join(root, 'work')
      await git(['init', '--quiet', '--bare', '--initial-branch=main', bare])
      await git(['init', '--quiet', '--initial-branch=main', work])
      writeFileSync(join(work, 'README'), 'hello\n')
      await git(['add', 'README'], work)
      await git(['-c', 'user.name=Test', '-c', 'user.email=test@example.org', 'commit', '--quiet', '-m', 'first'], work)
      await git(['push', '--quiet', bare, 'HEAD:main', 'HEAD:refs/heads/other', 'HEAD:refs/tags/v1'], work)
      const probe = await probeForge(`file://${bare}`)
      assert.equal(probe.empty, false)
      assert.deepEqual([...probe.branches].sort(), ['main', 'other'], 'branches only, no tags')
    })

    it('a path that does not exist: ForgeUnreachableError, exit code 3, naming the forge, with a fix', async function () {
      const missing = join(root, 'missing.git')
      await assert.rejects(probeForge(missing), (error: unknown) => {
        assert.ok(error instanceof ForgeUnreachableError, `expected ForgeUnreachableError, got ${String(error)}`)
        assert.equal(error.exitCode, 3)
        assert.equal(error.exitCode, ExitCode.forgeUnreachable)
        assert.equal(error.code, 'FORGE_UNREACHABLE')
        assert.ok(error.message.includes(missing))
        assert.ok(error.fix)
        return true
      })
    })

    it('a directory that is not a repository is unreachable too', async function () {
      const plain = join(root, 'plain')
      mkdirSync(plain)
      await assert.rejects(probeForge(plain), (error: unknown) => error instanceof ForgeUnreachableError && error.exitCode === 3)
    })
  })
})
