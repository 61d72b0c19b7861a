// `fleet agents install` against a real systemd user manager: the units are loaded, the watcher runs and syncs
// a save, the timer is armed, and uninstall takes them away. This machine does not boot with systemd, but its
// systemd binary runs a user manager once /run/systemd/system exists (the marker systemd checks for); the test
// creates that marker only if it is missing, and removes it again. Where that cannot be done, it is skipped
// with the reason.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'

import {execa, type ResultPromise} from 'execa'

import {waitFor} from '../support/agents.ts'
import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const SYSTEMD = ['/lib/systemd/systemd', '/usr/lib/systemd/systemd'].find((p) => existsSync(p))
const MARKER = '/run/systemd/system'

describe('agents: a real systemd user manager', function () {
  this.timeout(120_000)
  let root: string
  let alpha: Machine
  let manager: ResultPromise | undefined
  let createdMarker = false
  let skipReason: string | undefined

  const systemctl = (args: string[]) => execa('systemctl', ['--user', ...args], {env: alpha.env, extendEnv: false, reject: false})

  before(async function () {
    if (process.platform !== 'linux' || !SYSTEMD) skipReason = 'no systemd binary on this machine'
    else if (!existsSync(MARKER)) {
      try {
        mkdirSync(MARKER, {recursive: true})
        createdMarker = true
      } catch (error) {
        skipReason = `cannot create ${MARKER} (${(error as Error).message})`
      }
    }
    if (skipReason) {
      console.log(`      skipped: ${skipReason}`)
      return this.skip()
    }
    root = makeTempDir('systemd')
    const runtime = join(root, 'runtime')
    mkdirSync(runtime, {mode: 0o700})
    const forge = await Forge.create(root)
    alpha = new Machine(root, 'alpha', {XDG_RUNTIME_DIR: runtime})
    manager = execa(SYSTEMD!, ['--user'], {env: alpha.env, extendEnv: false, reject: false, stdin: 'ignore'})
    try {
      await waitFor('the user manager', async () => ['running', 'degraded'].includes(String((await systemctl(['is-system-running'])).stdout).trim()), 15_000)
    } catch {
      skipReason = 'systemd --user did not start here'
      console.log(`      skipped: ${skipReason}`)
      return this.skip()
    }
    alpha.write('.config/app/settings.conf', 'v0\n')
    const enrolled = await alpha.enroll(forge.url, {agents: true, json: false})
    assert.match(enrolled.stdout, /watcher and puller installed into systemd/)
  })

  after(async function () {
    if (manager) {
      await systemctl(['exit'])
      manager.kill('SIGTERM')
      await manager
    }
    if (createdMarker) rmdirSync(MARKER)
    if (root) removeTempDir(root)
  })

  it("enroll installed running units: the watcher is active, the puller's timer is armed", async function () {
    assert.equal(String((await systemctl(['is-active', 'dev.dotfleet.watcher.service'])).stdout).trim(), 'active')
    assert.equal(String((await systemctl(['is-active', 'dev.dotfleet.puller.timer'])).stdout).trim(), 'active')
    assert.equal(String((await systemctl(['is-enabled', 'dev.dotfleet.watcher.service'])).stdout).trim(), 'enabled')
    const listed = (await alpha.listAgents()).result
    assert.equal(listed.manager, 'systemd')
    assert.ok(listed.agents.every((a) => a.installed && a.running && a.current))
  })

  it('the watcher unit syncs a save within seconds', async function () {
    await alpha.addPath('.config/app')
    const forge = new Forge(join(root, 'forge.git'))
    alpha.write('.config/app/settings.conf', 'saved under systemd\n')
    await waitFor('the save on the forge', async () => /saved under systemd/.test((await forge.show('dot_config/app/settings.conf')) ?? ''), 30_000, 250)
  })

  it('uninstall stops and removes the units', async function () {
    await alpha.uninstallAgents()
    assert.notEqual(String((await systemctl(['is-active', 'dev.dotfleet.watcher.service'])).stdout).trim(), 'active')
    assert.equal(existsSync(alpha.path('.config/systemd/user/dev.dotfleet.watcher.service')), false)
  })
})
