// The doctor's runner with real processes: a check past its time limit is reported failed within it and the
// processes it started are stopped; a FleetError's fix is shown; a check that cannot look is skipped; --fix repairs
// only what is fixable and not ok, then looks again.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {type CheckResult, fail, ok, type DoctorCheck} from '../../src/lib/doctor/check.ts'
import {DoctorContext} from '../../src/lib/doctor/context.ts'
import {describeDoctor} from '../../src/lib/doctor/describe.ts'
import {type DoctorReport, FORGE_SILENT, runCheck, runDoctor, summarize} from '../../src/lib/doctor/doctor.ts'
import {pluginShortName} from '../../src/lib/plugins/fleet-view.ts'
import {FleetError} from '../../src/lib/errors/index.ts'
import {run} from '../../src/lib/process/run.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** The process's state letter from /proc (Z: ended, waiting to be reaped), or undefined when there is no such process. */
function processState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
  } catch {
    return undefined
  }
}

async function waitFor<T>(what: string, get: () => T | undefined, withinMs = 2000): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = get()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The pid a shell wrote into `file`, once it is there. */
const pidIn = (file: string) =>
  waitFor(`a pid in ${file}`, () => (existsSync(file) && readFileSync(file, 'utf8').trim() ? Number(readFileSync(file, 'utf8')) : undefined))

/** True once the process has ended (gone, or a zombie waiting for its parent). */
const ended = (pid: number) => waitFor(`process ${pid} ending`, () => (['Z', undefined].includes(processState(pid)) ? true : undefined)).catch(() => false)

describe('doctor: the runner', function () {
  let dir: string
  let context: DoctorContext
  before(() => {
    dir = makeTempDir('doctor-unit')
    context = new DoctorContext({env: {HOME: dir}})
  })
  after(() => {
    // Should a test have failed with a sleep still running, it does not outlive the tests.
    for (const file of ['alone.pid', 'grouped.pid'].map((name) => join(dir, name)).filter((file) => existsSync(file))) {
      try {
        process.kill(Number(readFileSync(file, 'utf8')), 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    removeTempDir(dir)
  })

  it('a check past its time limit is failed within it, and the sleeps it started (alone and in a process group) are stopped', async function () {
    const alone = join(dir, 'alone.pid')
    const grouped = join(dir, 'grouped.pid')
    const check: DoctorCheck = {
      id: 'test.slow',
      group: 'Tests',
      timeoutMs: 400,
      async run(_context, signal) {
        await Promise.all([
          run('sh', ['-c', `echo $$ > ${alone}; exec sleep 30`], {signal}),
          // Like git with its ssh helper: a child of the command, in the command's own process group.
          run('sh', ['-c', `sleep 30 & echo $! > ${grouped}; wait`], {signal, processGroup: true}),
        ])
        return ok('finished')
      },
    }
    const started = Date.now()
    const result = await runCheck(context, check)
    const took = Date.now() - started
    assert.equal(result.status, 'fail')
    assert.equal(result.message, 'The check did not finish within 0.4 s and was stopped.')
    assert.ok(took >= 400 && took < 900, `the check was reported after ${took} ms`)
    for (const file of [alone, grouped]) {
      const pid = await pidIn(file)
      assert.ok(await ended(pid), `the sleep in ${file} (pid ${pid}) still runs`)
    }
  })

  it('a check that throws a FleetError is failed with its fix; one that cannot look is skipped', async function () {
    const thrown = await runCheck(context, {
      id: 'test.throws',
      group: 'Tests',
      async run() {
        throw new FleetError('The gizmo is unplugged.\nMore detail.', {fix: 'Plug the gizmo in.'})
      },
    })
    assert.deepEqual(
      {status: thrown.status, message: thrown.message, fix: thrown.fix},
      {status: 'fail', message: 'The check could not run: The gizmo is unplugged.', fix: 'Plug the gizmo in.'},
    )

    const skipped = await runCheck(context, {
      id: 'test.needs',
      group: 'Tests',
      run: (ctx) => ctx.need('the gizmo list', Promise.reject(new Error('no such file\nstack'))).then(() => ok('read')),
    })
    assert.deepEqual({status: skipped.status, message: skipped.message}, {status: 'skip', message: 'Skipped: the gizmo list could not be read (no such file).'})
  })

  it('runs checks at once, or one after another when serial', async function () {
    const pause = (id: string): DoctorCheck => ({id, group: 'Tests', run: () => run('sleep', ['0.3']).then(() => ok('slept'))})
    const checks = [pause('test.a'), pause('test.b'), pause('test.c')]
    const together = await runDoctor(context, {checks})
    const serial = await runDoctor(context, {checks, serial: true})
    assert.deepEqual(together.summary, {ok: 3, warn: 0, fail: 0, skip: 0})
    assert.ok(together.durationMs < 800, `at once: ${together.durationMs} ms`)
    assert.ok(serial.durationMs >= 900, `one after another: ${serial.durationMs} ms`)
  })

  it('--fix repairs only the fixable checks that are not ok, then looks again', async function () {
    const broken = new Set(['test.mode', 'test.manual', 'test.stuck'])
    const repaired: string[] = []
    const check = (id: string, fixable: boolean, repair?: () => Promise<string>): DoctorCheck => ({
      id,
      group: 'Tests',
      run: async () => (broken.has(id) ? fail(`${id} is broken`, `repair ${id}`, fixable) : ok(`${id} is fine`)),
      repair: repair
        ? async () => {
            repaired.push(id)
            return repair()
          }
        : undefined,
    })
    const checks = [
      check('test.mode', true, async () => {
        broken.delete('test.mode')
        return 'set the mode to 0600'
      }),
      check('test.manual', false, async () => 'should not run'),
      check('test.fine', true, async () => 'should not run'),
      check('test.stuck', true, async () => {
        throw new FleetError('The lock is held by a live process.', {fix: 'Wait for it, then run again.'})
      }),
    ]
    const report = await runDoctor(context, {checks, fix: true})
    assert.deepEqual(repaired, ['test.mode', 'test.stuck'])
    assert.deepEqual(report.repairs, [
      {id: 'test.mode', changed: 'set the mode to 0600'},
      {id: 'test.stuck', error: 'The lock is held by a live process.', fix: 'Wait for it, then run again.'},
    ])
    assert.deepEqual(
      report.checks.map(({id, status}) => ({id, status})),
      [
        {id: 'test.mode', status: 'ok'},
        {id: 'test.manual', status: 'fail'},
        {id: 'test.fine', status: 'ok'},
        {id: 'test.stuck', status: 'fail'},
      ],
    )
  })

  it('--check runs one check; an id that is neither the core’s nor a plugin’s is a usage error', async function () {
    const checks: DoctorCheck[] = [
      {id: 'test.one', group: 'Tests', run: async () => ok('one')},
      {id: 'test.two', group: 'Tests', run: async () => ok('two')},
    ]
    const plugins = async (_signal: AbortSignal, only?: string) => {
      const all = [{id: 'plug.three', group: 'plug', status: 'ok' as const, message: 'three'}]
      return {results: all.filter((result) => only === undefined || result.id === only), seen: all.map((result) => result.id)}
    }
    assert.deepEqual(
      (await runDoctor(context, {checks, plugins, only: 'test.two'})).checks.map((result) => result.id),
      ['test.two'],
    )
    assert.deepEqual(
      (await runDoctor(context, {checks, plugins, only: 'plug.three'})).checks.map((result) => result.id),
      ['plug.three'],
    )
    await assert.rejects(runDoctor(context, {checks, plugins, only: 'test.nine'}), (error: FleetError) => {
      assert.equal(error.code, 'UNKNOWN_CHECK')
      assert.equal(error.exitCode, 2)
      assert.match(error.fix!, /test\.one, test\.two/)
      assert.match(error.fix!, /the plugins': plug\.three/, "the plugins' check ids are named too")
      return true
    })
  })

  it('--fix repairs this machine first, then what needs the forge; not those when forge.reachable failed', async function () {
    const order: string[] = []
    const broken = (id: string, repairNeedsForge?: boolean): DoctorCheck => ({
      id,
      group: 'Tests',
      run: async () => fail(`${id} is broken`, `repair ${id}`, true),
      repair: async () => {
        order.push(id)
        return `repaired ${id}`
      },
      repairNeedsForge,
    })
    const checks = [broken('test.sync', true), broken('test.mode'), broken('test.push', true), broken('test.lock')]
    await runDoctor(context, {checks, fix: true})
    assert.deepEqual(order, ['test.mode', 'test.lock', 'test.sync', 'test.push'])

    order.length = 0
    const silent: DoctorCheck = {id: 'forge.reachable', group: 'Forge', run: async () => fail('The forge did not answer.', 'Check the network.')}
    const report = await runDoctor(context, {checks: [...checks, silent], fix: true})
    assert.deepEqual(order, ['test.mode', 'test.lock'])
    assert.deepEqual(
      report.repairs?.filter((repair) => repair.notTried),
      [
        {id: 'test.sync', notTried: FORGE_SILENT},
        {id: 'test.push', notTried: FORGE_SILENT},
      ],
    )
  })

  it('a skipped check names the check that reports what it needed, or the reason cut short', async function () {
    const reported = await runCheck(context, {id: 'test.roster', group: 'Tests', run: (ctx) => ctx.need('the manifest', ctx.manifest()).then(() => ok('read'))})
    assert.equal(reported.message, 'Skipped: the manifest could not be read (see source.repo).', 'not enrolled here: source.repo says so')
    const long = await runCheck(context, {
      id: 'test.long',
      group: 'Tests',
      run: (ctx) => ctx.need('the gizmo list', Promise.reject(new Error(`${'a very long reason '.repeat(20)}\nmore`))).then(() => ok('read')),
    })
    assert.ok(long.message.length < 160, long.message)
    assert.match(long.message, /^Skipped: the gizmo list could not be read \(a very long reason .*…\)\.$/)
  })

  it('a plugin’s checks go by its short name: no scope, no plugin- prefix', function () {
    assert.equal(pluginShortName('@dotfleet/plugin-slowpoke'), 'slowpoke')
    assert.equal(pluginShortName('plugin-durations'), 'durations')
    assert.equal(pluginShortName('checks-good'), 'checks-good')
  })
})

describe('doctor: the report in words', function () {
  const result = (id: string, group: string, status: CheckResult['status'], message: string, extra: Partial<CheckResult> = {}): CheckResult => ({
    id,
    group,
    status,
    message,
    ...extra,
  })
  const report = (checks: CheckResult[], repairs?: DoctorReport['repairs']): DoctorReport => ({
    at: new Date(0).toISOString(),
    checks,
    summary: summarize(checks),
    repairs,
    durationMs: 100,
  })

  it('keeps a message as written, adding only a missing full stop', function () {
    const lines = describeDoctor(
      report([result('tools.git', 'Tools', 'ok', 'git 2.39.5 at /usr/bin/git'), result('tools.chezmoi', 'Tools', 'ok', 'chezmoi 2.73.3.')]),
    )
    assert.match(lines.join('\n'), /tools\.git +git 2\.39\.5 at \/usr\/bin\/git\.$/m)
    assert.match(lines.join('\n'), /tools\.chezmoi +chezmoi 2\.73\.3\.$/m)
  })

  it('adds no full stop to a fix, nor after a command in backticks, and lines up long ids', function () {
    const text = describeDoctor(
      report([
        result('plugins.installed', 'Plugins', 'warn', 'The fleet enables a plugin this machine lacks: hello', {
          fix: 'fleet plugins install hello --allow-unscoped',
        }),
        result('agents.current', 'Agents', 'warn', 'Stale: run `fleet agents install`', {fix: '`fleet agents install`', fixable: true}),
        result('task-durations.pull-fleet-key', 'task-durations', 'ok', 'The key is there'),
      ]),
    ).join('\n')
    assert.match(text, /fix: fleet plugins install hello --allow-unscoped$/m)
    assert.match(text, /Stale: run `fleet agents install`$/m)
    assert.match(text, /fix: `fleet agents install` \(`fleet doctor --fix` does it\)$/m)
    assert.match(text, /^ {2}! plugins\.installed {13}The fleet/m, 'the id column is as wide as the longest id')
    assert.match(text, /^ {2}✓ task-durations\.pull-fleet-key The key is there\.$/m)
  })

  it('says checks skipped for one reason once: in their group, or after the groups when the reason spans them', function () {
    const why = 'Skipped: no agents are installed here (see agents.installed).'
    const notEnrolled = "Skipped: this machine's fleet could not be read (see source.repo)."
    const text = describeDoctor(
      report([
        result('source.repo', 'Source repo', 'fail', 'This machine is not enrolled in a fleet.', {fix: 'Run `fleet enroll`.'}),
        result('source.clean', 'Source repo', 'skip', notEnrolled),
        result('keys.mode', 'Keys', 'skip', notEnrolled),
        result('agents.installed', 'Agents', 'warn', 'No agents are installed.'),
        ...['agents.running', 'agents.current', 'agents.path', 'agents.linger'].map((id) => result(id, 'Agents', 'skip', why)),
      ]),
    ).join('\n')
    assert.match(
      text,
      /^ {2}- agents\.running, agents\.current, agents\.path, agents\.linger: skipped, no agents are installed here \(see agents\.installed\)\.$/m,
    )
    assert.match(text, /^- source\.clean, keys\.mode: skipped, this machine's fleet could not be read \(see source\.repo\)\.$/m)
    assert.doesNotMatch(text, /^Keys$/m, 'a group with nothing left to show is left out')
    assert.equal(text.split(why.slice(9)).length, 2, 'the reason is said once')
  })

  it('heads what --fix did "--fix:", with what it did not try; says when it found nothing to repair', function () {
    const checks = [result('sync.last', 'Sync', 'fail', 'The last sync failed.', {fix: 'Run `fleet sync`.'})]
    const tried = describeDoctor(
      report(checks, [
        {id: 'keys.mode', changed: 'set ~/.config/fleet/identity.txt to mode 0600'},
        {id: 'sync.last', notTried: FORGE_SILENT},
      ]),
    )
    assert.deepEqual(tried.slice(0, 3), ['--fix:', '  ✓ keys.mode: set ~/.config/fleet/identity.txt to mode 0600', `  - sync.last: not tried: ${FORGE_SILENT}`])
    const none = describeDoctor(report(checks, []))
    assert.ok(none.includes('Nothing here that --fix can repair; the fixes above need you.'), none.join('\n'))
  })
})
