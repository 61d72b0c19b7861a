// `fleet plugins install NAME` end to end, against a private npm registry of the test's own (verdaccio on
// 127.0.0.1): a short name means fleet's own @dotfleet/plugin-NAME, whose command, agent and check then appear and
// which the fleet's manifest then enables (another machine's doctor says to install it); a short name with only an
// unscoped package of that name is refused unless --allow-unscoped; uninstalling takes it all away again.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type AgentsList from '../../src/commands/agents/list.ts'
import type PluginsInstall from '../../src/commands/plugins/install.ts'
import type PluginsUninstall from '../../src/commands/plugins/uninstall.ts'
import {HOOK_TIMEOUT_MS} from '../../src/lib/plugins/fan-out.ts'
import {recordingShim} from '../support/agents.ts'
import {CommandRun, FLEET_BIN, NODE, REPO_ROOT, type ResultOf} from '../support/cli.ts'
import {checkOf} from '../support/doctor.ts'
import {Forge} from '../support/forge.ts'
import {Machine, NODE_BIN_DIR} from '../support/machine.ts'
import {Registry} from '../support/registry.ts'
import {freePort} from '../support/sshd.ts'
import {Terminal} from '../support/terminal.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const FIXTURES = join(REPO_ROOT, 'test/fixtures/plugins')
const HELLO = '@dotfleet/plugin-hello'
const TASK_DURATIONS = '@dotfleet/plugin-task-durations'
/** The hello plugin's agent: its systemd units once installed. */
const GREETER_UNITS = ['dev.dotfleet.hello-greeter.service', 'dev.dotfleet.hello-greeter.timer']

/** `fleet ARGS --json` on `machine`, expecting `exit`, with its parsed result or error. */
async function fleetJson<T>(machine: Machine, args: string[], exit = 0, options: {timeout?: number} = {}): Promise<CommandRun<T>> {
  const run = new CommandRun<T>(`fleet ${args.join(' ')} --json on ${machine.name}`, await machine.fleet([...args, '--json'], options))
  assert.equal(run.exitCode, exit, `${run.command} exited ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
  return run
}

/** The plugins the manifest enables, as the forge has it. */
async function enabledAtForge(forge: Forge): Promise<string> {
  return (await forge.show('.chezmoidata/fleet.yaml')) ?? ''
}

describe('fleet plugins install: short names from a private registry', function () {
  let root: string
  let registry: Registry
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  let unitDir: string

  const agentIds = async (machine: Machine) =>
    (await fleetJson<ResultOf<typeof AgentsList>>(machine, ['agents', 'list'])).result.agents.map((agent) => `${agent.id} from ${agent.source}`)
  const installedPlugins = async (machine: Machine) =>
    (await fleetJson<Array<{name: string; type: string}>>(machine, ['plugins'])).result
      .filter((plugin) => plugin.type === 'user' || plugin.type === 'link')
      .map((plugin) => plugin.name)
      .sort()

  before(async function () {
    root = makeTempDir('plugins-install')
    registry = await Registry.start(join(root, 'registry'), {localOnly: ['decoy']})
    const shims = join(root, 'shims')
    mkdirSync(shims, {recursive: true})
    recordingShim(shims, 'systemctl')
    forge = await Forge.create(root)
    // alpha names the registry with FLEET_NPM_REGISTRY and keeps its plugins in FLEET_DATA_DIR, and has a service
    // manager (a recording stand-in for systemctl); beta names the registry in its ~/.npmrc, the way npm users do.
    alpha = new Machine(root, 'alpha', {
      ...registry.env,
      FLEET_NPM_REGISTRY: registry.url,
      FLEET_DATA_DIR: join(root, 'alpha-data'),
      PATH: `${shims}:${NODE_BIN_DIR}:${process.env.PATH}`,
    })
    beta = new Machine(root, 'beta', registry.env)
    beta.write('.npmrc', `registry=${registry.url}\n`)
    unitDir = join(alpha.home, '.config/systemd/user')
    await Promise.all([registry.publish(join(FIXTURES, 'hello')), registry.publish(join(FIXTURES, 'decoy')), alpha.enroll(forge.url, {agents: true})])
    await beta.enroll(forge.url)
    await alpha.approve('beta')
  })
  after(async () => {
    await registry?.stop()
    if (root) removeTempDir(root)
  })

  it("installs @dotfleet/plugin-hello for `hello`: its command runs, its agent is installed, its check is in doctor, and the fleet's manifest enables it", async function () {
    const run = await fleetJson<ResultOf<typeof PluginsInstall>>(alpha, ['plugins', 'install', 'hello'])
    assert.deepEqual(run.result.installed, [{name: HELLO, version: '1.0.0'}])
    assert.deepEqual(run.result.fleet, {enrolled: true, changed: [HELLO], pushed: 1})
    assert.match(run.stderr, /Agents: watcher, puller and hello-greeter installed into systemd/)

    assert.equal((await alpha.ok(['hello', 'alpha'])).stdout.trim(), 'hello, alpha')
    assert.ok(existsSync(join(root, 'alpha-data/node_modules', HELLO, 'package.json')), 'installed into FLEET_DATA_DIR')
    assert.deepEqual(await agentIds(alpha), ['watcher from @dotfleet/fleet', 'puller from @dotfleet/fleet', `hello-greeter from ${HELLO}`])
    for (const unit of GREETER_UNITS) assert.ok(existsSync(join(unitDir, unit)), `${unit} is installed`)
    // The agent finds the plugin where this fleet installed it.
    assert.match(readFileSync(join(unitDir, GREETER_UNITS[0]), 'utf8'), new RegExp(`FLEET_DATA_DIR=${join(root, 'alpha-data')}`))

    const check = checkOf((await alpha.doctor({check: 'hello.ready'})).result, 'hello.ready')
    assert.deepEqual([check.status, check.group], ['ok', 'hello'])
    assert.equal(checkOf((await alpha.doctor({check: 'plugins.installed'})).result, 'plugins.installed').status, 'ok')
    assert.match(await enabledAtForge(forge), /plugins:\n\s+- "?@dotfleet\/plugin-hello"?\n/)
  })

  it('another machine of the fleet is told to install it until it does (its registry from its ~/.npmrc)', async function () {
    await beta.sync()
    const lacking = checkOf((await beta.doctor({check: 'plugins.installed'})).result, 'plugins.installed')
    assert.equal(lacking.status, 'warn')
    assert.match(lacking.message, /lacks: @dotfleet\/plugin-hello/)
    assert.equal(lacking.fix, 'fleet plugins install hello')

    const run = await fleetJson<ResultOf<typeof PluginsInstall>>(beta, ['plugins', 'install', 'hello'])
    assert.deepEqual(run.result.fleet, {enrolled: true, changed: [], pushed: 0}, 'the manifest enabled it already')
    assert.doesNotMatch(run.stderr, /Agents:/, 'beta has no agents installed: nothing is said of them')
    assert.equal(checkOf((await beta.doctor({check: 'plugins.installed'})).result, 'plugins.installed').status, 'ok')

    // With the forge away, installing a plugin the manifest lists already has nothing to push: said so, not an error.
    renameSync(forge.path, `${forge.path}.away`)
    try {
      const offline = await fleetJson<ResultOf<typeof PluginsInstall>>(beta, ['plugins', 'install', 'hello'])
      assert.deepEqual([offline.result.fleet.enrolled, 'changed' in offline.result.fleet && offline.result.fleet.changed], [true, []])
      assert.match('forgeError' in offline.result.fleet ? (offline.result.fleet.forgeError ?? '') : '', /cannot be reached/)
    } finally {
      renameSync(`${forge.path}.away`, forge.path)
    }
  })

  it('refuses `decoy` (only an unscoped package has that name), naming both names and the registry; installs nothing; a registry that does not answer is said so', async function () {
    const run = await fleetJson<never>(alpha, ['plugins', 'install', 'decoy'], 2)
    assert.equal(run.error?.code, 'NO_SUCH_PLUGIN')
    assert.match(run.error?.message ?? '', new RegExp(`@dotfleet/plugin-decoy in ${registry.url}.*unscoped package "decoy"`))
    assert.match(run.error?.fix ?? '', /fleet plugins install decoy --allow-unscoped/)
    assert.deepEqual(await installedPlugins(alpha), [HELLO])
    assert.equal(existsSync(join(root, 'alpha-data/node_modules/decoy')), false)

    // A registry that does not answer is not taken for one without the package.
    const silent = `http://127.0.0.1:${await freePort()}/`
    const unreachable = new CommandRun<never>(
      'install from a silent registry',
      await alpha.fleet(['plugins', 'install', 'decoy', '--json'], {env: {FLEET_NPM_REGISTRY: silent}}),
    )
    assert.equal(unreachable.exitCode, 1, unreachable.stdout)
    assert.equal(unreachable.error?.code, 'REGISTRY_UNREACHABLE')
    assert.match(unreachable.error?.message ?? '', new RegExp(`${silent}.*ECONNREFUSED`))
  })

  it("a plugin, package or version the registry does not have is said so with the registry and the fix, not in npm's words", async function () {
    const [neither, version, scoped] = await Promise.all([
      fleetJson<never>(alpha, ['plugins', 'install', 'nosuchplugin', '--allow-unscoped'], 2),
      fleetJson<never>(alpha, ['plugins', 'install', 'hello@9.9.9'], 1),
      fleetJson<never>(alpha, ['plugins', 'install', '@dotfleet/plugin-nosuch'], 2),
    ])
    assert.equal(neither.error?.code, 'NO_SUCH_PLUGIN')
    assert.match(neither.error?.message ?? '', new RegExp(`${registry.url} has neither @dotfleet/plugin-nosuchplugin .* nor a package "nosuchplugin"`))
    assert.doesNotMatch(neither.error?.fix ?? '', /--allow-unscoped/, 'no unscoped package to allow')
    assert.equal(version.error?.code, 'NO_SUCH_VERSION')
    assert.match(version.error?.message ?? '', new RegExp(`${registry.url} has @dotfleet/plugin-hello, but no version or tag "9\\.9\\.9"`))
    assert.match(version.error?.fix ?? '', /npm view @dotfleet\/plugin-hello versions dist-tags .*fleet plugins install hello$/)
    assert.doesNotMatch(version.stdout + version.stderr, /ETARGET|npm-cli/)
    assert.equal(scoped.error?.code, 'NO_SUCH_PLUGIN')
    assert.match(scoped.error?.message ?? '', new RegExp(`no package @dotfleet/plugin-nosuch in ${registry.url}`))
    assert.deepEqual(await installedPlugins(alpha), [HELLO], 'nothing installed')
  })

  it('--allow-unscoped installs the unscoped package', async function () {
    const run = await fleetJson<ResultOf<typeof PluginsInstall>>(alpha, ['plugins', 'install', 'decoy', '--allow-unscoped'])
    assert.deepEqual(run.result.installed, [{name: 'decoy', version: '1.0.0'}])
    assert.equal((await alpha.ok(['decoy'])).stdout.trim(), 'decoy installed')
    assert.deepEqual(await installedPlugins(alpha), [HELLO, 'decoy'])
  })

  it('in a terminal, fleet asks before it installs the unscoped package: no refuses (exit 2), yes installs it', async function () {
    const {CI: _ci, ...terminalEnv} = beta.env
    const ask = async (answer: string) => {
      const terminal = new Terminal({columns: 200, rows: 30})
      try {
        await terminal.start([NODE, FLEET_BIN, 'plugins', 'install', 'decoy'], terminalEnv, beta.home)
        await terminal.waitFor(/There is no @dotfleet\/plugin-decoy in .*Install the unscoped package "decoy" instead\?/)
        await terminal.type(answer)
        await terminal.send('Enter')
        return {exitCode: await terminal.waitForExit(), screen: await terminal.screen({history: true})}
      } finally {
        await terminal.stop()
      }
    }
    const refused = await ask('n')
    assert.equal(refused.exitCode, 2, refused.screen)
    assert.deepEqual(await installedPlugins(beta), [HELLO])
    const accepted = await ask('y')
    assert.equal(accepted.exitCode, 0, accepted.screen)
    assert.deepEqual(await installedPlugins(beta), [HELLO, 'decoy'])
  })

  it('uninstalling hello takes its command, agent and check away, and the fleet no longer enables it', async function () {
    const run = await fleetJson<ResultOf<typeof PluginsUninstall>>(alpha, ['plugins', 'uninstall', 'hello'])
    assert.deepEqual(run.result, {uninstalled: [HELLO], fleet: {enrolled: true, changed: [HELLO], pushed: 1}})
    assert.match(run.stderr, /Agents: watcher and puller installed into systemd .*removed hello-greeter/)

    assert.notEqual((await alpha.fleet(['hello'])).exitCode, 0, 'the command is gone')
    assert.deepEqual(await agentIds(alpha), ['watcher from @dotfleet/fleet', 'puller from @dotfleet/fleet'])
    for (const unit of GREETER_UNITS) assert.equal(existsSync(join(unitDir, unit)), false, `${unit} is removed`)
    assert.equal((await alpha.doctor({check: 'hello.ready', exit: 2})).error?.code, 'UNKNOWN_CHECK', 'the check is gone')
    assert.doesNotMatch(await enabledAtForge(forge), /plugin-hello/)
    assert.deepEqual(await installedPlugins(alpha), ['decoy'])
  })

  it('task-durations from the registry: `install task-durations` brings its commands, its agent and its checks; uninstalling takes them away', async function () {
    await registry.publish(await registry.pack(join(REPO_ROOT, 'plugins/task-durations')))
    const install = await fleetJson<ResultOf<typeof PluginsInstall>>(alpha, ['plugins', 'install', 'task-durations'], 0, {timeout: 180_000})
    assert.deepEqual(
      install.result.installed.map((plugin) => plugin.name),
      [TASK_DURATIONS],
    )
    assert.match(install.stderr, /Agents: .*task-durations-pull-fleet installed into systemd/)

    await alpha.ok(['task-durations', 'record', 'build', '12.5'])
    const estimate = await fleetJson<{count: number}>(alpha, ['task-durations', 'estimate', 'build'])
    assert.equal(estimate.result.count, 1)
    assert.ok((await agentIds(alpha)).includes(`task-durations-pull-fleet from ${TASK_DURATIONS}`))
    const checks = (await alpha.doctor({exit: 'any'})).result.checks.filter((check) => check.group === 'task-durations')
    const ids = checks.map((check) => check.id)
    assert.ok(ids.includes('task-durations.rsync') && ids.includes('task-durations.last-pull'), `its checks ran: ${JSON.stringify(checks)}`)
    assert.ok(!ids.includes('task-durations.hook'), `its checks ran: ${JSON.stringify(checks)}`)

    await fleetJson<ResultOf<typeof PluginsUninstall>>(alpha, ['plugins', 'uninstall', 'task-durations'])
    assert.notEqual((await alpha.fleet(['task-durations', 'estimate', 'build'])).exitCode, 0, 'its commands are gone')
    assert.ok(!(await agentIds(alpha)).some((agent) => agent.startsWith('task-durations')), 'its agent is gone')
    assert.equal((await alpha.doctor({check: 'task-durations.rsync', exit: 2})).error?.code, 'UNKNOWN_CHECK', 'its checks are gone')
  })

  it('a plugin whose fleet:agents hook never settles is reported by `agents list` and `agents install`, which list and install the others and exit', async function () {
    await alpha.ok(['plugins', 'link', join(FIXTURES, 'agents-hangs'), '--no-install'])
    const started = Date.now()
    const [list, install] = await Promise.all([fleetJson<ResultOf<typeof AgentsList>>(alpha, ['agents', 'list']), alpha.ok(['agents', 'install'])])
    const wallMs = Date.now() - started
    assert.deepEqual(
      list.result.agents.map((agent) => agent.id),
      ['watcher', 'puller'],
    )
    assert.deepEqual(
      list.result.failures.map((failure) => failure.source),
      ['agents-hangs'],
    )
    assert.match(list.result.failures[0].error, /did not finish within 10\.0 s/)
    // oclif wraps a warning, each line after a ›.
    const warning = install.stderr.replaceAll(/\s*\n\s*›\s*/g, ' ')
    assert.match(warning, /Plugin agents-hangs could not contribute agents: its fleet:agents hook did not finish/)
    assert.match(install.stdout, /watcher and puller installed into systemd .*already current/)
    assert.ok(wallMs < HOOK_TIMEOUT_MS + 8000, `they ended ${wallMs} ms after they started`)
  })

  it("`plugins reset` takes the plugins' agents away too; an agent whose plugin was removed by hand is one doctor notices and --fix removes", async function () {
    await fleetJson<ResultOf<typeof PluginsInstall>>(alpha, ['plugins', 'install', 'hello'])
    const reset = await alpha.ok(['plugins', 'reset'])
    assert.match(reset.stdout, /Agents: watcher and puller installed into systemd .*removed hello-greeter/)
    for (const unit of GREETER_UNITS) assert.equal(existsSync(join(unitDir, unit)), false, `${unit} is removed`)
    assert.deepEqual(await installedPlugins(alpha), [])

    // Removed behind fleet's back (the plugin manager's list edited): its agent is still installed.
    await fleetJson<ResultOf<typeof PluginsInstall>>(alpha, ['plugins', 'install', 'hello'])
    const list = join(root, 'alpha-data/package.json')
    const data = JSON.parse(readFileSync(list, 'utf8')) as {oclif: {plugins: Array<{name: string}>}}
    data.oclif.plugins = data.oclif.plugins.filter((plugin) => plugin.name !== HELLO)
    writeFileSync(list, JSON.stringify(data))
    const orphan = checkOf((await alpha.doctor({check: 'agents.current', exit: 'any'})).result, 'agents.current')
    assert.equal(orphan.status, 'warn')
    assert.match(orphan.message, /nothing contributes it any more: hello-greeter \(from @dotfleet\/plugin-hello\)/)
    assert.match(orphan.fix ?? '', /fleet agents install/)
    await alpha.doctor({fix: true, exit: 'any'})
    for (const unit of GREETER_UNITS) assert.equal(existsSync(join(unitDir, unit)), false, `${unit} is removed by --fix`)
    assert.equal(checkOf((await alpha.doctor({check: 'agents.current'})).result, 'agents.current').status, 'ok')
  })
})
