// The doctor's runner with real processes: a check past its time limit is reported failed within it and the
// processes it started are stopped; a FleetError's fix is shown; a check that cannot look is skipped; --fix repairs
// only what is fixable and not ok, then looks again.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {fail, ok, type DoctorCheck} from '../../src/lib/doctor/check.ts'
import {DoctorContext} from '../../src/lib/doctor/context.ts'
import {runCheck, runDoctor} from '../../src/lib/doctor/doctor.ts'
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
    const plugins = async (_signal: AbortSignal, only?: string) =>
      [{id: 'plug.three', group: 'plug', status: 'ok' as const, message: 'three'}].filter((result) => only === undefined || result.id === only)
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
      return true
    })
  })
})
