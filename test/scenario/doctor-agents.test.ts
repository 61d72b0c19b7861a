// fleet doctor's Agents and Managed paths checks on a real machine of a real fleet. launchctl, systemctl and loginctl
// cannot run here: thin stand-ins first on PATH record the calls and answer (see recordingShim); what fleet writes is
// checked for real — the plist through the plist package. A healthy machine is all ok; then, one after another: an
// agent's definition removed, one edited, lingering off, a launchd PATH that finds neither git nor chezmoi, no agents
// at all, a managed file deleted, a template's output edited — each caught with its fix, and `--fix` repairing what
// it says it repairs.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'
import {build, parse} from 'plist'

import {recordingShim} from '../support/agents.ts'
import {checkOf, statusesOf} from '../support/doctor.ts'
import {Forge} from '../support/forge.ts'
import {Machine, NODE_BIN_DIR} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const AGENT_CHECKS = ['agents.installed', 'agents.running', 'agents.current', 'agents.path', 'agents.linger']
const MANAGED_CHECKS = ['managed.paths', 'managed.templates']

/** A stand-in for loginctl that says what `linger` holds: `Linger=yes` or `Linger=no`. */
function lingerShim(dir: string): (linger: 'yes' | 'no') => void {
  const answer = join(dir, 'linger')
  writeFileSync(join(dir, 'loginctl'), `#!/bin/sh\nprintf 'Linger=%s\\n' "$(cat '${answer}')"\n`, {mode: 0o755})
  return (linger) => writeFileSync(answer, linger)
}

/** The command in a fix that starts with `start` (fixes quote commands in backticks). */
function command(fix: string | undefined, start: string): string {
  const found = [...(fix ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]).find((c) => c.startsWith(start))
  assert.ok(found, `a \`${start} …\` command in the fix: ${fix}`)
  return found
}

describe('doctor: agents and managed paths', function () {
  this.timeout(120_000)
  let root: string
  let shims: string
  let alpha: Machine
  let linger: (value: 'yes' | 'no') => void
  let unitDir: string

  before(async function () {
    root = makeTempDir('doctor-agents')
    shims = join(root, 'shims')
    mkdirSync(shims)
    recordingShim(shims, 'systemctl')
    recordingShim(shims, 'launchctl')
    linger = lingerShim(shims)
    linger('yes')
    const forge = await Forge.create(root)
    alpha = new Machine(root, 'alpha', {PATH: `${shims}:${NODE_BIN_DIR}:${process.env.PATH}`})
    alpha.write('.gitconfig', '[user]\n\tname = alpha\n')
    await alpha.enroll(forge.url, {agents: true})
    await alpha.addPath('.gitconfig')
    unitDir = join(alpha.home, '.config/systemd/user')
  })
  after(() => removeTempDir(root))

  it('a healthy machine: its agents are installed, running and current, lingering is on, every managed path is here', async function () {
    const report = (await alpha.doctor({exit: 'any'})).result
    assert.deepEqual(
      statusesOf(report, [...AGENT_CHECKS, 'managed.paths', 'managed.templates']),
      {
        'agents.installed': 'ok',
        'agents.running': 'ok',
        'agents.current': 'ok',
        'agents.path': 'skip',
        'agents.linger': 'ok',
        'managed.paths': 'ok',
        'managed.templates': 'ok',
      },
      JSON.stringify(report.checks, null, 1),
    )
    assert.match(checkOf(report, 'agents.installed').message, /watcher, puller installed into systemd/)
    assert.match(checkOf(report, 'agents.running').message, /active and enabled in systemd/)
    assert.match(checkOf(report, 'managed.paths').message, /^All 2 managed paths are here and managed by chezmoi\.$/)
  })

  it("an agent's definition removed: agents.installed warns, and --fix installs it again", async function () {
    const watcher = join(unitDir, 'dev.dotfleet.watcher.service')
    const written = readFileSync(watcher, 'utf8')
    rmSync(watcher)
    const installed = checkOf((await alpha.doctor({check: 'agents.installed'})).result, 'agents.installed')
    assert.equal(installed.status, 'warn')
    assert.match(installed.message, /^Not installed into systemd: watcher \(no definition in ~\/\.config\/systemd\/user\)\.$/)
    assert.equal(installed.fix, '`fleet agents install`')
    assert.equal(installed.fixable, true)
    const fixed = (await alpha.doctor({fix: true, exit: 'any'})).result
    assert.match(fixed.repairs!.find((r) => r.id === 'agents.installed')!.changed!, /installed into systemd/)
    assert.equal(readFileSync(watcher, 'utf8'), written, 'the definition is back')
    assert.equal(checkOf(fixed, 'agents.installed').status, 'ok')
  })

  it("an agent's definition edited: agents.current warns, and --fix writes what fleet writes now", async function () {
    const timer = join(unitDir, 'dev.dotfleet.puller.timer')
    const written = readFileSync(timer, 'utf8')
    writeFileSync(timer, written.replace(/OnUnitActiveSec=\d+s/, 'OnUnitActiveSec=5s'))
    const current = checkOf((await alpha.doctor({exit: 'any'})).result, 'agents.current')
    assert.equal(current.status, 'warn')
    assert.match(current.message, /^The definition of puller is not what fleet writes now/)
    assert.equal(current.fixable, true)
    const fixed = (await alpha.doctor({fix: true, exit: 'any'})).result
    assert.equal(readFileSync(timer, 'utf8'), written)
    assert.equal(checkOf(fixed, 'agents.current').status, 'ok')
  })

  it('lingering off on a machine without a graphical session: agents.linger warns with the command', async function () {
    linger('no')
    const found = checkOf((await alpha.doctor({check: 'agents.linger'})).result, 'agents.linger')
    assert.equal(found.status, 'warn')
    assert.match(found.message, /^Lingering is off .*systemd stops the agents when you log out\.$/)
    assert.equal(found.fix, '`loginctl enable-linger $USER`')
    linger('yes')
    const graphical = checkOf((await alpha.doctor({check: 'agents.linger', env: {DISPLAY: ':0'}})).result, 'agents.linger')
    assert.equal(graphical.status, 'skip')
  })

  it("launchd: the plist's PATH finds git and chezmoi; one that finds neither warns, and --fix writes it again", async function () {
    await alpha.uninstallAgents()
    await alpha.installAgents({manager: 'launchd'})
    const plistFile = join(alpha.home, 'Library/LaunchAgents/dev.dotfleet.watcher.plist')
    const ok = (await alpha.doctor({exit: 'any'})).result
    assert.deepEqual(statusesOf(ok, AGENT_CHECKS), {
      'agents.installed': 'ok',
      'agents.running': 'ok',
      'agents.current': 'ok',
      'agents.path': 'ok',
      'agents.linger': 'skip',
    })
    const plist = parse(readFileSync(plistFile, 'utf8')) as {EnvironmentVariables: Record<string, string>}
    writeFileSync(plistFile, build({...plist, EnvironmentVariables: {...plist.EnvironmentVariables, PATH: '/nonexistent:/also-not'}}))
    const found = (await alpha.doctor({exit: 'any'})).result
    const path = checkOf(found, 'agents.path')
    assert.equal(path.status, 'warn')
    assert.match(path.message, /watcher finds no git and no chezmoi \(~\/Library\/LaunchAgents\/dev\.dotfleet\.watcher\.plist\)/)
    assert.equal(path.fixable, true)
    assert.equal(checkOf(found, 'agents.current').status, 'warn')
    const fixed = (await alpha.doctor({fix: true, exit: 'any'})).result
    assert.deepEqual(statusesOf(fixed, ['agents.path', 'agents.current']), {'agents.path': 'ok', 'agents.current': 'ok'})
    const again = parse(readFileSync(plistFile, 'utf8')) as {EnvironmentVariables: Record<string, string>}
    for (const tool of ['git', 'chezmoi']) {
      const dir = String((await execa('sh', ['-c', `dirname "$(command -v ${tool})"`], {env: alpha.env})).stdout)
      assert.ok(again.EnvironmentVariables.PATH.split(':').includes(dir), `the PATH holds the directory of ${tool}`)
    }
  })

  it('no agents installed at all: said once, as a warning with `fleet agents install`; the other agent checks are skipped', async function () {
    await alpha.uninstallAgents()
    const report = (await alpha.doctor({exit: 'any'})).result
    const installed = checkOf(report, 'agents.installed')
    assert.equal(installed.status, 'warn')
    assert.match(installed.message, /^No agents are installed on this machine/)
    assert.match(installed.fix!, /^`fleet agents install`/)
    assert.notEqual(installed.fixable, true)
    for (const id of AGENT_CHECKS.slice(1)) assert.equal(checkOf(report, id).status, 'skip', id)
  })

  it('a managed file deleted here: managed.paths warns, and its fix brings the fleet’s version back', async function () {
    const before = alpha.read('.gitconfig')
    alpha.remove('.gitconfig')
    const found = checkOf((await alpha.doctor({check: 'managed.paths'})).result, 'managed.paths')
    assert.equal(found.status, 'warn')
    assert.equal(found.message, 'Managed by the fleet but missing here: ~/.gitconfig.')
    assert.match(found.fix!, /fleet remove-path ~\/\.gitconfig/)
    await alpha.shell(command(found.fix, 'chezmoi apply'))
    assert.equal(alpha.read('.gitconfig'), before)
    assert.equal(checkOf((await alpha.doctor({check: 'managed.paths'})).result, 'managed.paths').status, 'ok')
  })

  it("a template's output edited here: managed.templates warns (chezmoi would overwrite it), with the fix", async function () {
    const source = alpha.sourceFile('dot_greeting.tmpl')
    writeFileSync(source, 'hello from {{ .chezmoi.os }}\n')
    await alpha.chezmoi(['apply', '--force', alpha.path('.greeting')])
    await alpha.sync()
    assert.equal(checkOf((await alpha.doctor({check: 'managed.templates'})).result, 'managed.templates').status, 'ok')
    alpha.write('.greeting', 'edited by hand\n')
    const found = checkOf((await alpha.doctor({check: 'managed.templates'})).result, 'managed.templates')
    assert.equal(found.status, 'warn')
    assert.match(found.message, /^Edited here, but made by a template .*: ~\/\.greeting\.$/)
    assert.match(found.fix!, /chezmoi edit ~\/\.greeting/)
    await alpha.shell(command(found.fix, 'chezmoi apply'))
    assert.equal(alpha.read('.greeting'), `hello from ${process.platform}\n`)
    assert.equal(existsSync(source), true)
    assert.equal(checkOf((await alpha.doctor({check: 'managed.templates'})).result, 'managed.templates').status, 'ok')
  })

  it('chezmoi unusable or the manifest invalid: the managed checks are skipped, pointing at the check that says why', async function () {
    const old = join(root, 'old-chezmoi')
    mkdirSync(old)
    writeFileSync(join(old, 'chezmoi'), '#!/bin/sh\necho "chezmoi version v2.50.0, commit 0, built at 2024-07-01T00:00:00Z, built by test"\n', {mode: 0o755})
    const tooOld = (await alpha.doctor({exit: 'any', env: {PATH: `${old}:${alpha.env.PATH}`}})).result
    assert.equal(checkOf(tooOld, 'tools.chezmoi').status, 'fail')
    for (const id of MANAGED_CHECKS) {
      assert.equal(checkOf(tooOld, id).status, 'skip', id)
      assert.match(checkOf(tooOld, id).message, /\(see tools\.chezmoi\)\.$/)
    }

    const manifest = readFileSync(alpha.manifestFile, 'utf8')
    writeFileSync(alpha.manifestFile, 'machines: [\n')
    const invalid = (await alpha.doctor({exit: 'any'})).result
    for (const id of MANAGED_CHECKS) {
      assert.equal(checkOf(invalid, id).status, 'skip', id)
      assert.match(checkOf(invalid, id).message, /\(see manifest\.valid\)\.$/)
    }
    writeFileSync(alpha.manifestFile, manifest)

    // chezmoi usable, but failing: its own reason, with the home directory as ~.
    const real = String((await execa('sh', ['-c', 'command -v chezmoi'], {env: alpha.env})).stdout).trim()
    const failing = join(root, 'failing-chezmoi')
    writeFileSync(
      failing,
      `#!/bin/sh\ncase "$*" in *--version*) exec '${real}' "$@" ;; esac\necho "chezmoi: $HOME/.gitconfig: permission denied" >&2\nexit 1\n`,
      {
        mode: 0o755,
      },
    )
    const failed = checkOf((await alpha.doctor({check: 'managed.paths', exit: 1, env: {FLEET_CHEZMOI: failing}})).result, 'managed.paths')
    assert.equal(failed.message, '`chezmoi managed` failed: ~/.gitconfig: permission denied.')
  })

  it('a chezmoi that hangs: the check is stopped at its time limit, with every process it started', async function () {
    const real = String((await execa('sh', ['-c', 'command -v chezmoi'], {env: alpha.env})).stdout).trim()
    const pidFile = join(root, 'sleep.pid')
    const wrapper = join(root, 'hanging-chezmoi')
    // chezmoi's version is real; any other command starts a long sleep and waits for it.
    writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *--version*) exec '${real}' "$@" ;; esac\nsleep 1000 &\necho $! > '${pidFile}'\nwait\n`, {mode: 0o755})
    const found = checkOf((await alpha.doctor({check: 'managed.paths', exit: 1, env: {FLEET_CHEZMOI: wrapper}})).result, 'managed.paths')
    assert.equal(found.status, 'fail')
    assert.match(found.message, /did not finish within .* and was stopped/)
    const sleep = Number(readFileSync(pidFile, 'utf8'))
    assert.ok(sleep > 0)
    const gone = async () => {
      // Up to 10 s: on a busy machine the signal that ends the group can be delivered late.
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(sleep, 0)
        } catch {
          return true
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return false
    }
    assert.ok(await gone(), `the sleep the chezmoi wrapper started (pid ${sleep}) is gone`)
  })
})
