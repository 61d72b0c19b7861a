// Plugins' checks through the fleet:doctor hook: real oclif plugins linked into a machine's fleet (`fleet plugins
// link`), one with good checks, one whose hook throws, one that returns something that is not a check, and one whose
// hook never settles while a `sleep` it started runs. Doctor shows the good plugin's checks and the core's, makes each
// bad plugin a failed check of its own within the plugin timeout, stops the hung plugin's sleep, and exits.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {CHECK_TIMEOUT_MS, type CheckResult} from '../../src/lib/doctor/check.ts'
import {CORE_CHECKS} from '../../src/lib/doctor/checks/index.ts'
import {REPO_ROOT} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'

const PLUGINS = ['checks-good', 'checks-throws', 'checks-garbage', 'checks-hangs']
/** The plugin timeout for these runs: long enough for a plugin to load on a busy machine, short enough to wait for. */
const PLUGIN_TIMEOUT_MS = 1500
const env = {FLEET_DOCTOR_PLUGIN_TIMEOUT_MS: String(PLUGIN_TIMEOUT_MS)}
/** The longest time limit doctor has (the plugins' or a core check's): it never runs much longer. */
const LONGEST_MS = Math.max(PLUGIN_TIMEOUT_MS, ...CORE_CHECKS.map((check) => check.timeoutMs ?? CHECK_TIMEOUT_MS))
/** Starting Node and fleet, and printing, on a busy machine. */
const STARTUP_MS = 6000

/** The process's state letter from /proc (Z: ended, waiting to be reaped), or undefined when there is no such process. */
function processState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
  } catch {
    return undefined
  }
}

async function ended(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const state = processState(pid)
    if (state === undefined || state === 'Z') return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The sleeps the hung plugin started, one per doctor run, in order. */
function hungSleeps(machine: Machine): number[] {
  const file = join(machine.home, 'checks-hangs.pid')
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map(Number) : []
}

function stopProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

function byId(checks: CheckResult[], id: string): CheckResult {
  const found = checks.find((check) => check.id === id)
  assert.ok(found, `no check ${id} in ${checks.map((check) => check.id).join(', ')}`)
  return found
}

describe('doctor: plugins’ checks', function () {
  let fleet: TestFleet
  let alpha: Machine
  before(async function () {
    fleet = await TestFleet.start('doctorplugins', {machines: ['alpha']})
    ;[alpha] = fleet.machines
    for (const plugin of PLUGINS) await alpha.ok(['plugins', 'link', join(REPO_ROOT, 'test/fixtures/plugins', plugin), '--no-install'])
  })
  after(async () => {
    // Should the hung plugin's sleeps have outlived doctor (a test failed), they do not outlive the tests.
    if (alpha) for (const pid of hungSleeps(alpha)) stopProcess(pid)
    await fleet?.remove()
  })

  it('shows a plugin’s checks under its name beside the core’s; a hook that throws, returns garbage or hangs is that plugin’s failed check, within the timeout', async function () {
    const started = Date.now()
    const run = await alpha.doctor({exit: 1, env})
    const wallMs = Date.now() - started
    const {checks} = run.result

    for (const check of CORE_CHECKS) byId(checks, check.id)
    assert.deepEqual(
      checks.filter((check) => check.group === 'checks-good').map(({id, status, message, fix}) => ({id, status, message, fix})),
      [
        {id: 'checks-good.ready', status: 'ok', message: 'The good plugin is ready.', fix: undefined},
        // The hook was given the time limit and a live signal.
        {id: 'checks-good.options', status: 'warn', message: `Given ${PLUGIN_TIMEOUT_MS} ms and a signal.`, fix: 'checks-good fix-it'},
      ],
    )
    const failed = (plugin: string, says: RegExp) => {
      const check = byId(checks, `${plugin}.hook`)
      assert.equal(check.status, 'fail')
      assert.equal(check.group, plugin)
      assert.match(check.message, says)
      assert.match(check.fix ?? '', new RegExp(`fleet plugins uninstall ${plugin}`))
      return check
    }
    failed('checks-throws', /hook threw: the widget registry is missing/)
    failed('checks-garbage', /hook returned \{"name":"not a check","healthy":true\}, which is not valid: id must be/)
    const hung = failed('checks-hangs', /hook did not finish within 1\.5 s and was told to stop/)
    assert.ok(hung.durationMs! >= PLUGIN_TIMEOUT_MS - 50 && hung.durationMs! < PLUGIN_TIMEOUT_MS + 1000, `the hung plugin took ${hung.durationMs} ms`)
    assert.deepEqual(
      checks
        .filter((check) => PLUGINS.includes(check.group))
        .map((check) => check.id)
        .sort(),
      ['checks-garbage.hook', 'checks-good.options', 'checks-good.ready', 'checks-hangs.hook', 'checks-throws.hook'],
    )
    assert.ok(run.result.durationMs < LONGEST_MS + 1000, `doctor took ${run.result.durationMs} ms`)
    assert.ok(wallMs < LONGEST_MS + STARTUP_MS, `fleet doctor ran for ${wallMs} ms`)

    // The hung hook honoured its signal: the sleep it started is gone.
    const sleep = hungSleeps(alpha).at(-1)!
    assert.ok(await ended(sleep, 2000), `the hung plugin's sleep (pid ${sleep}) still runs`)
  })

  it('--check runs one plugin check alone, as a person reads it; an id no plugin reported shows the plugins that failed', async function () {
    const started = Date.now()
    const one = await alpha.doctor({check: 'checks-good.ready', json: false, env})
    assert.ok(Date.now() - started < LONGEST_MS + STARTUP_MS, `fleet doctor --check ran for ${Date.now() - started} ms`)
    assert.match(one.stdout, /^checks-good\n {2}✓ checks-good\.ready +The good plugin is ready\.$/m)
    assert.doesNotMatch(one.stdout, /checks-good\.options|checks-throws|checks-hangs/)
    for (const check of CORE_CHECKS) assert.doesNotMatch(one.stdout, new RegExp(`\\b${check.id.replaceAll('.', '\\.')}\\b`))

    // The hung plugin's own check cannot be had: say why, not that there is no such check.
    const lost = await alpha.doctor({check: 'checks-hangs.anything', exit: 1, env})
    assert.deepEqual(lost.result.checks.map((check) => check.id).sort(), ['checks-garbage.hook', 'checks-hangs.hook', 'checks-throws.hook'])
    for (const pid of hungSleeps(alpha)) assert.ok(await ended(pid, 2000), `the hung plugin's sleep (pid ${pid}) still runs`)
  })

  it('a plugin timeout that is not a number of milliseconds is a usage error, with the fix', async function () {
    const run = await alpha.doctor({exit: 2, env: {FLEET_DOCTOR_PLUGIN_TIMEOUT_MS: 'soon'}})
    assert.match(run.error!.message, /FLEET_DOCTOR_PLUGIN_TIMEOUT_MS must be a number of milliseconds, not "soon"/)
    assert.match(run.error!.fix!, /FLEET_DOCTOR_PLUGIN_TIMEOUT_MS=5000/)
  })
})
