// The CLI as a whole: every command explains itself with examples, reports JSON where it reports, and bad usage
// exits 2.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {REPO_ROOT, runFleet} from '../support/cli.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('the fleet CLI', function () {
  let root: string
  let machine: Machine
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {examples?: unknown[]; flags: Record<string, unknown>}>
  }
  const ids = Object.keys(manifest.commands)

  before(() => {
    root = makeTempDir('cli')
    machine = new Machine(root, 'alpha')
  })
  after(() => removeTempDir(root))

  it('ships a manifest listing every command', function () {
    for (const id of [
      'enroll',
      'sync',
      'status',
      'paths',
      'add-path',
      'remove-path',
      'resolve',
      'machines:list',
      'machines:approve',
      'machines:revoke',
      'agents:install',
      'agents:run',
    ]) {
      assert.ok(ids.includes(id), `${id} in oclif.manifest.json`)
    }
  })

  for (const id of ids) {
    it(`fleet ${id.replace(/:/g, ' ')} --help has examples`, async function () {
      assert.ok((manifest.commands[id].examples ?? []).length > 0, 'examples in the manifest')
      const result = await runFleet([...id.split(':'), '--help'], {env: machine.env})
      assert.equal(result.exitCode, 0)
      assert.match(result.stdout, /EXAMPLES/)
      assert.match(result.stdout, new RegExp(`\\$ fleet ${id.replace(/:/g, ' ')}`))
    })
  }

  it('commands that report accept --json', function () {
    for (const id of ['enroll', 'sync', 'status', 'paths', 'add-path', 'machines:list', 'agents:list']) {
      assert.ok('json' in manifest.commands[id].flags, `${id} --json`)
    }
  })

  it('a command on a machine that is not enrolled says so, with the fix (exit 1)', async function () {
    for (const args of [['sync'], ['status', '--json'], ['machines', 'list']]) {
      const result = await runFleet(args, {env: machine.env})
      assert.equal(result.exitCode, 1, args.join(' '))
      assert.match(result.stdout + result.stderr, /not enrolled/)
      assert.match(result.stdout + result.stderr, /fleet enroll/)
    }
    const json = await runFleet(['status', '--json'], {env: machine.env})
    assert.equal(JSON.parse(json.stdout).error.code, 'NOT_ENROLLED')
  })

  it('bad usage exits 2', async function () {
    for (const args of [
      ['sync', '--bogus'],
      ['machines', 'approve'],
      ['agents', 'render', '--manager', 'upstart', '--out', root],
      ['resolve', 'x', '--mine', '--theirs'],
    ]) {
      const result = await runFleet(args, {env: machine.env})
      assert.equal(result.exitCode, 2, `${args.join(' ')}: ${result.stderr}`)
    }
  })

  it('fleet --version answers', async function () {
    const result = await runFleet(['--version'], {env: machine.env})
    assert.equal(result.exitCode, 0)
    assert.match(result.stdout, /@dotfleet\/fleet\/\d+\.\d+\.\d+/)
  })
})
