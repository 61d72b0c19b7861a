// Agent definitions: launchd plists that parse back (with the plist package and Python's plistlib) carrying the
// spec's values, systemd units that pass `systemd-analyze verify`, and install/uninstall that call the service
// manager only for what changed. launchctl and systemctl cannot run here: recording stand-ins take their place.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'
import {parse} from 'plist'

import {renderLaunchd, renderSystemd, type RenderContext} from '../../src/lib/agents/render.ts'
import {coreAgents} from '../../src/lib/agents/spec.ts'
import {agentSettingsSchema} from '../../src/lib/manifest/schema.ts'
import {recordingShim, setAgentSettings} from '../support/agents.ts'
import {FLEET_BIN} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import {Forge} from '../support/forge.ts'
import {Machine, NODE_BIN_DIR} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const STRANGE = `we "q" 'q' &<> $(x) % é 日`

async function plistlib(file: string): Promise<any> {
  const {stdout} = await execa('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file])
  return JSON.parse(String(stdout))
}

async function systemdVerify(files: string[]): Promise<{exitCode: number; output: string}> {
  const result = await execa('systemd-analyze', ['verify', ...files], {reject: false, all: true})
  return {exitCode: result.exitCode ?? -1, output: String(result.all)}
}

describe('agents: rendered definitions', function () {
  let fleet: TestFleet
  let root: string
  let alpha: Machine
  before(async function () {
    fleet = await TestFleet.start('agentdefs', {machines: ['alpha']})
    ;({
      root,
      machines: [alpha],
    } = fleet)
  })
  after(() => fleet?.remove())

  it('launchd plists parse back with the plist package and with plistlib, carrying the spec', async function () {
    const out = join(root, 'plists')
    await alpha.renderAgents('launchd', out)
    const watcherFile = join(out, 'dev.dotfleet.watcher.plist')
    const pullerFile = join(out, 'dev.dotfleet.puller.plist')
    for (const read of [async (f: string) => parse(readFileSync(f, 'utf8')) as any, plistlib]) {
      const watcher = await read(watcherFile)
      const puller = await read(pullerFile)
      assert.equal(watcher.Label, 'dev.dotfleet.watcher')
      assert.deepEqual(watcher.ProgramArguments.slice(1), [FLEET_BIN, 'agents', 'watch'])
      assert.ok(watcher.ProgramArguments[0].startsWith('/'), 'node is an absolute path')
      assert.equal(watcher.KeepAlive, true)
      assert.equal(watcher.StartInterval, undefined)
      assert.deepEqual(puller.ProgramArguments.slice(2), ['sync', '--reason', 'timer'])
      assert.equal(puller.StartInterval, 300)
      assert.equal(puller.KeepAlive, undefined)
      const path = watcher.EnvironmentVariables.PATH.split(':')
      for (const tool of ['git', 'chezmoi']) {
        const dir = String((await execa('sh', ['-c', `dirname "$(command -v ${tool})"`])).stdout)
        assert.ok(path.includes(dir), `PATH holds the directory of ${tool}`)
      }
      assert.equal(watcher.StandardOutPath, join(alpha.home, 'Library/Logs/fleet/watcher.log'))
    }
  })

  it('systemd units pass systemd-analyze verify: a resident service, a oneshot service with a timer', async function () {
    const out = join(root, 'units')
    await alpha.renderAgents('systemd', out)
    assert.deepEqual(readdirSync(out).sort(), ['dev.dotfleet.puller.service', 'dev.dotfleet.puller.timer', 'dev.dotfleet.watcher.service'])
    const verify = await systemdVerify(readdirSync(out).map((f) => join(out, f)))
    assert.equal(verify.exitCode, 0, verify.output)
    const watcher = readFileSync(join(out, 'dev.dotfleet.watcher.service'), 'utf8')
    assert.match(watcher, /^Type=simple$/m)
    assert.match(watcher, /^Restart=always$/m)
    const timer = readFileSync(join(out, 'dev.dotfleet.puller.timer'), 'utf8')
    assert.match(timer, /^OnUnitActiveSec=300s$/m)
    assert.match(timer, /^OnActiveSec=/m, 'the timer also fires the first time')
    assert.match(readFileSync(join(out, 'dev.dotfleet.puller.service'), 'utf8'), /^Type=oneshot$/m)
  })

  it('paths with spaces, quotes, &<>, $, % and non-ASCII letters survive escaping in both formats', async function () {
    const dir = join(root, STRANGE)
    mkdirSync(join(dir, 'bin'), {recursive: true})
    symlinkSync(process.execPath, join(dir, 'bin', 'node'))
    const ctx: RenderContext = {
      node: join(dir, 'bin', 'node'),
      entry: join(dir, 'run.js'),
      env: {PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, XDG_STATE_HOME: join(dir, 'state')},
      launchdLogDir: join(dir, 'Library/Logs/fleet'),
    }
    for (const spec of coreAgents(agentSettingsSchema.parse({}))) {
      const [plistFile] = renderLaunchd(spec, ctx)
      const file = join(root, plistFile.name)
      const {writeFileSync} = await import('node:fs')
      writeFileSync(file, plistFile.content)
      for (const parsed of [parse(plistFile.content) as any, await plistlib(file)]) {
        assert.deepEqual(parsed.ProgramArguments, [ctx.node, ctx.entry, ...spec.argv])
        assert.deepEqual(parsed.EnvironmentVariables, ctx.env)
        assert.equal(parsed.StandardOutPath, join(ctx.launchdLogDir, `${spec.id}.log`))
      }
      const unitDir = join(root, `units-${spec.id}`)
      mkdirSync(unitDir, {recursive: true})
      const files = renderSystemd(spec, ctx).map((f) => {
        writeFileSync(join(unitDir, f.name), f.content)
        return join(unitDir, f.name)
      })
      const verify = await systemdVerify(files)
      assert.equal(verify.exitCode, 0, verify.output)
    }
  })
})

describe('agents: install and uninstall call the service manager only for what changed', function () {
  let root: string
  let alpha: Machine
  let shims: string
  before(async function () {
    root = makeTempDir('agentinstall')
    shims = join(root, 'shims')
    mkdirSync(shims)
    const forge = await Forge.create(root)
    alpha = new Machine(root, 'alpha', {PATH: `${shims}:${NODE_BIN_DIR}:${process.env.PATH}`})
    await alpha.enroll(forge.url)
  })
  after(() => removeTempDir(root))

  it('systemd: first install enables and starts each unit; a second install calls nothing; a changed agent is reloaded alone', async function () {
    const systemctl = recordingShim(shims, 'systemctl')
    const unitDir = join(alpha.home, '.config/systemd/user')
    const first = (await alpha.installAgents()).result
    assert.equal(first.manager, 'systemd')
    assert.deepEqual(first.changed.sort(), ['puller', 'watcher'])
    const mutating = () => systemctl.calls().filter((c) => !['show-environment', 'is-active'].includes(c[1]))
    assert.deepEqual(mutating(), [
      ['--user', 'daemon-reload'],
      ['--user', 'enable', 'dev.dotfleet.watcher.service'],
      ['--user', 'restart', 'dev.dotfleet.watcher.service'],
      ['--user', 'enable', 'dev.dotfleet.puller.timer'],
      ['--user', 'restart', 'dev.dotfleet.puller.timer'],
    ])
    assert.ok(existsSync(join(unitDir, 'dev.dotfleet.watcher.service')))

    const before = mutating().length
    const second = (await alpha.installAgents()).result
    assert.deepEqual(second.changed, [])
    assert.equal(mutating().length, before, 'nothing changed, nothing called')

    await setAgentSettings(alpha, {pullIntervalSeconds: 600})
    const third = (await alpha.installAgents()).result
    assert.deepEqual(third.changed, ['puller'])
    assert.deepEqual(mutating().slice(before), [
      ['--user', 'daemon-reload'],
      ['--user', 'enable', 'dev.dotfleet.puller.timer'],
      ['--user', 'restart', 'dev.dotfleet.puller.timer'],
    ])
    assert.match(readFileSync(join(unitDir, 'dev.dotfleet.puller.timer'), 'utf8'), /OnUnitActiveSec=600s/)

    const listed = (await alpha.listAgents()).result
    assert.deepEqual(
      listed.agents.map((a) => [a.id, a.installed, a.current, a.source]),
      [
        ['watcher', true, true, '@dotfleet/fleet'],
        ['puller', true, true, '@dotfleet/fleet'],
      ],
    )

    const gone = (await alpha.uninstallAgents()).result
    assert.deepEqual(gone.removed.sort(), ['puller', 'watcher'])
    assert.deepEqual(readdirSync(unitDir), [])
    assert.deepEqual(mutating().slice(-3), [
      ['--user', 'disable', '--now', 'dev.dotfleet.watcher.service'],
      ['--user', 'disable', '--now', 'dev.dotfleet.puller.timer'],
      ['--user', 'daemon-reload'],
    ])
  })

  it('launchd: bootout then bootstrap for each changed agent, and nothing the second time', async function () {
    const launchctl = recordingShim(shims, 'launchctl')
    const uid = process.getuid!()
    await alpha.installAgents({manager: 'launchd'})
    const dir = join(alpha.home, 'Library/LaunchAgents')
    assert.deepEqual(launchctl.calls(), [
      ['bootout', `gui/${uid}/dev.dotfleet.watcher`],
      ['bootstrap', `gui/${uid}`, join(dir, 'dev.dotfleet.watcher.plist')],
      ['bootout', `gui/${uid}/dev.dotfleet.puller`],
      ['bootstrap', `gui/${uid}`, join(dir, 'dev.dotfleet.puller.plist')],
    ])
    await alpha.installAgents({manager: 'launchd'})
    assert.equal(launchctl.calls().length, 4)
    await alpha.uninstallAgents()
    assert.deepEqual(readdirSync(dir), [])
  })

  it('enroll installs the agents where a service manager answers', async function () {
    const systemctl = recordingShim(shims, 'systemctl')
    const beta = new Machine(root, 'beta', {PATH: `${shims}:${NODE_BIN_DIR}:${process.env.PATH}`})
    const result = await beta.enroll(`file://${join(root, 'forge.git')}`, {agents: true, json: false})
    assert.match(result.stdout, /watcher and puller installed into systemd/)
    assert.ok(systemctl.calls().some((c) => c[1] === 'enable' && c[2] === 'dev.dotfleet.watcher.service'))

    // Another machine changes the puller's period: beta's next sync rewrites and reloads that agent alone.
    const before = systemctl.calls().length
    await setAgentSettings(alpha, {pullIntervalSeconds: 900})
    const synced = (await beta.sync()).result
    assert.ok(
      synced.notes.some((n) => /updated the agents.*puller/.test(n)),
      JSON.stringify(synced.notes),
    )
    assert.match(readFileSync(join(beta.home, '.config/systemd/user/dev.dotfleet.puller.timer'), 'utf8'), /OnUnitActiveSec=900s/)
    const calls = systemctl
      .calls()
      .slice(before)
      .filter((c) => !['show-environment', 'is-active'].includes(c[1]))
    assert.deepEqual(calls, [
      ['--user', 'daemon-reload'],
      ['--user', 'enable', 'dev.dotfleet.puller.timer'],
      ['--user', 'restart', 'dev.dotfleet.puller.timer'],
    ])
  })
})
