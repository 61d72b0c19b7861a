// task-durations through the real fleet CLI: the plugin (this checkout's build) linked into an enrolled machine's
// fleet. `record` appends rows that read back exactly (whatever the task's name), two records at once keep both
// rows, bad input is a usage error that writes nothing; `estimate` answers count 0 on an empty tree, reads the fleet
// tree with its host names as text, and names a truncated file with the fix; `fleet agents list` shows the agent.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {DuckDBInstance} from '@duckdb/node-api'

import {printed} from '../../../test/support/cli.ts'

import {TestFleet} from '../../../test/support/fleet.ts'
import type {Machine, VerbOptions} from '../../../test/support/machine.ts'
import type {Estimate} from '../src/lib/estimate.ts'
import {type DurationsPaths, durationsPaths, hostFile} from '../src/lib/paths.ts'
import type {RecordedDuration} from '../src/lib/record.ts'

/** This checkout's plugin (its dist and manifest, from `npm run build`). */
const PLUGIN_DIR = fileURLToPath(new URL('..', import.meta.url))
/** oclif warns on every run that a linked ESM plugin is not transpiled from its source: not what these tests read. */
const env = {OCLIF_DISABLE_LINKED_ESM_WARNING: '1'}
const TASK = `it's "make" $(rm -rf ~) & ; \`x\``

interface Row {
  task: string
  seconds: number
  host: string
  recorded_at: string
}

/** The rows of a Parquet file, as DuckDB reads them (recorded_at as ISO text), from a plain-named copy (see writeDurations). */
async function rowsOf(file: string): Promise<Row[]> {
  const copy = join(mkdtempSync(join(tmpdir(), 'durations-')), 'local.parquet')
  copyFileSync(file, copy)
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    const reader = await connection.runAndReadAll(
      "SELECT task, seconds, host, strftime(recorded_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS recorded_at FROM read_parquet($1, hive_partitioning = false)",
      [copy],
    )
    return reader.getRowObjectsJS() as unknown as Row[]
  } finally {
    connection.closeSync()
    instance.closeSync()
    rmSync(dirname(copy), {recursive: true})
  }
}

/** A peer's file, as its own `record`s would have written it, laid into this machine's fleet tree. */
async function layPeerFile(paths: DurationsPaths, host: string, durations: Array<[string, number]>): Promise<string> {
  return writeDurations(hostFile(paths, host), host, durations)
}

/** A durations file at `file` (through a plain-named copy: DuckDB would read `file` as a glob pattern), as `host`'s records. */
async function writeDurations(file: string, host: string, durations: Array<[string, number]>): Promise<string> {
  mkdirSync(dirname(file), {recursive: true})
  const plain = join(mkdtempSync(join(tmpdir(), 'durations-')), 'local.parquet')
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    await connection.run('CREATE TABLE durations (task VARCHAR, seconds DOUBLE, host VARCHAR, recorded_at TIMESTAMPTZ)')
    for (const [task, seconds] of durations) await connection.run('INSERT INTO durations VALUES ($1, $2, $3, now())', [task, seconds, host])
    await connection.run(`COPY durations TO '${plain.replaceAll("'", "''")}' (FORMAT parquet)`)
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
  copyFileSync(plain, file)
  rmSync(dirname(plain), {recursive: true})
  return file
}

describe('task-durations: record and estimate', function () {
  let fleet: TestFleet
  let alpha: Machine
  let loner: Machine
  let paths: DurationsPaths
  /** A data directory whose path DuckDB would read as a glob (`*`, `[…]`) matching its sibling `sXtar`, not itself. */
  let globEnv: NodeJS.ProcessEnv

  const record = (machine: Machine, args: string[], options: VerbOptions = {}) =>
    machine.fleet(['task-durations', 'record', ...args, '--json'], {env, ...options}).then((run) => {
      if (options.exit !== 'any') assert.equal(run.exitCode, options.exit ?? 0, `record ${args.join(' ')}\n${run.stdout}\n${run.stderr}`)
      return run
    })
  const estimate = async (task: string, flags: string[] = []): Promise<Estimate> => {
    const run = await alpha.fleet(['task-durations', 'estimate', task, ...flags, '--json'], {env})
    assert.equal(run.exitCode, 0, run.stdout + run.stderr)
    return run.json<Estimate>()
  }

  before(async function () {
    fleet = await TestFleet.start('taskdurations', {machines: ['alpha', 'loner'], joined: 1})
    ;[alpha, loner] = fleet.machines
    globEnv = {...env, FLEET_DATA_DIR: join(alpha.home, 'data', 's*t[ab]r')}
    await Promise.all([
      ...[alpha, loner].map((machine) => machine.ok(['plugins', 'link', PLUGIN_DIR, '--no-install'], {env})),
      alpha.ok(['plugins', 'link', PLUGIN_DIR, '--no-install'], {env: globEnv}), // FLEET_DATA_DIR holds the linked plugins too
    ])
    paths = durationsPaths(alpha.env)
  })
  after(async () => {
    await fleet?.remove()
  })

  it('estimates count 0 before anything is recorded, on this machine and over an empty fleet tree', async function () {
    mkdirSync(join(paths.fleetDir, 'host=gamma'), {recursive: true}) // a peer pull-fleet has not reached yet
    assert.deepEqual(await estimate('build'), {task: 'build', scope: 'machine', count: 0, medianSeconds: null, p90Seconds: null})
    assert.deepEqual(await estimate('build', ['--fleet']), {task: 'build', scope: 'fleet', count: 0, medianSeconds: null, p90Seconds: null, hosts: []})
    const text = await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet'], {env})
    assert.equal(text.stdout, 'No records of build across the fleet yet.')
  })

  it('records rows that read back exactly, whatever the task is called, keeps every row of records made at once, and estimates from them', async function () {
    const first = (await record(alpha, [TASK, '1.5'])).json<RecordedDuration>()
    assert.equal(first.task, TASK)
    assert.equal(first.host, 'alpha')
    assert.equal(first.rows, 1)
    // Three at the same time: each waits for the others, none loses its row.
    await Promise.all(['10', '2', '0'].map((seconds) => record(alpha, ['build', seconds])))
    const text = await alpha.fleet(['task-durations', 'record', 'build', '4e0'], {env})
    assert.equal(text.stdout, 'Recorded build: 4 s on alpha (5 records here).')

    const rows = await rowsOf(paths.localFile)
    assert.deepEqual(rows.map(({task, seconds, host}) => [task, seconds, host]).sort(), [
      ['build', 0, 'alpha'],
      ['build', 10, 'alpha'],
      ['build', 2, 'alpha'],
      ['build', 4, 'alpha'],
      [TASK, 1.5, 'alpha'],
    ])
    assert.equal(rows.find((row) => row.task === TASK)?.recorded_at, first.recordedAt)
    // Only the file: no temporary copy and no lock left beside it.
    assert.deepEqual(readdirSync(paths.dir).sort(), ['fleet', 'local.parquet'])

    // build: 0, 2, 4, 10 → median 3, p90 at 0.9 × 3 between 4 and 10 → 8.2.
    assert.deepEqual(await estimate('build'), {task: 'build', scope: 'machine', count: 4, medianSeconds: 3, p90Seconds: 8.2})
    const line = await alpha.fleet(['task-durations', 'estimate', TASK], {env})
    assert.equal(line.stdout, `${TASK}: 1 record on this machine, median 1.5 s, p90 1.5 s.`)
  })

  it('refuses an empty task and a duration that is not a number of seconds (exit 2, with the fix), writing nothing', async function () {
    const before = readFileSync(paths.localFile)
    const refusals: Array<Promise<void>> = []
    for (const [task, seconds, says] of [
      ['build', 'abc', /SECONDS must be a number of seconds, 0 or more; "abc" is not/],
      ['build', 'Infinity', /"Infinity" is not/],
      ['build', '0x10', /"0x10" is not/],
      ['build', '-1', /"-1" is not/],
      ['build', '99999999999999999999', /^SECONDS is 100000000000000000000 s, more than ten years \(315360000 s\)/],
      ['  ', '3', /TASK is empty/],
      ['build\nthe site', '3', /^TASK "build\\nthe site" holds a control character/],
    ] as const) {
      refusals.push(
        record(alpha, [task, seconds], {exit: 2}).then((run) => {
          const {error} = run.json<{error: {message: string; fix: string}}>()
          assert.match(error.message, says)
          assert.match(error.fix, /fleet task-durations record "build the site" 42\.5/)
        }),
      )
    }
    for (const [task, says] of [
      ['', /TASK is empty/],
      ['build\u001b[2J', /holds a control character/],
    ] as const) {
      refusals.push(
        alpha.fleet(['task-durations', 'estimate', task, '--json'], {env}).then((run) => {
          assert.equal(run.exitCode, 2, printed(run))
          const {error} = run.json<{error: {message: string; fix: string}}>()
          assert.match(error.message, says)
          assert.match(error.fix, /fleet task-durations estimate "build the site"/)
        }),
      )
    }
    await Promise.all(refusals)
    assert.deepEqual(readFileSync(paths.localFile), before)
  })

  it('removes the temporary file a killed record left behind, and keeps one whose process still runs', async function () {
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    const abandoned = join(paths.dir, `.local.parquet.${dead}.0badcafe.tmp`)
    const inUse = join(paths.dir, `.local.parquet.${process.pid}.0badcafe.tmp`)
    for (const file of [abandoned, inUse]) writeFileSync(file, 'half a file')
    try {
      await record(alpha, ['lint', '1'])
      assert.equal(existsSync(abandoned), false, 'the killed record’s temporary file is removed')
      assert.equal(existsSync(inUse), true, 'a running process’s file is left alone')
    } finally {
      rmSync(inUse, {force: true})
    }
  })

  it('reads and writes only its own files when the data directory’s path has glob characters (* and [)', async function () {
    const globPaths = durationsPaths(globEnv)
    const sibling = join(alpha.home, 'data', 'sXtar', 'task-durations')
    await writeDurations(join(sibling, 'local.parquet'), 'intruder', [['build', 100]])
    await writeDurations(hostFile(durationsPaths({FLEET_DATA_DIR: join(alpha.home, 'data', 'sXtar')}), 'intruder'), 'intruder', [['build', 100]])
    const siblingFiles = readFileSync(join(sibling, 'local.parquet'))

    const recorded = await alpha.fleet(['task-durations', 'record', 'build', '1e-7'], {env: globEnv})
    assert.equal(recorded.stdout, 'Recorded build: 0.0000001 s on alpha (1 record here).', printed(recorded))
    assert.deepEqual(
      (await rowsOf(globPaths.localFile)).map((row) => [row.task, row.host]),
      [['build', 'alpha']],
    )
    assert.deepEqual(readFileSync(join(sibling, 'local.parquet')), siblingFiles, 'the sibling’s file is untouched')

    await writeDurations(hostFile(globPaths, 'beta'), 'beta', [['build', 3]])
    const fleetWide = await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet', '--json'], {env: globEnv})
    assert.deepEqual(
      fleetWide.json<Estimate>().hosts?.map((host) => [host.host, host.count]),
      [
        ['alpha', 1],
        ['beta', 1],
      ],
      printed(fleetWide),
    )

    // A broken copy there is named as it is, with ~ and only the part that needs it quoted in the fix.
    const broken = hostFile(globPaths, 'gamma')
    mkdirSync(dirname(broken), {recursive: true})
    writeFileSync(broken, 'not parquet')
    const run = await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet', '--json'], {env: globEnv})
    const {error} = run.json<{error: {message: string; fix: string}}>()
    assert.match(error.message, /^~\/data\/s\*t\[ab\]r\/task-durations\/fleet\/host=gamma\/local\.parquet cannot be read: /)
    assert.ok(error.fix.includes("rm ~/data/'s*t[ab]r'/task-durations/fleet/host=gamma/local.parquet,"), error.fix)
  })

  it('says a machine that has not enrolled needs `fleet enroll`, and records nothing', async function () {
    const run = await record(loner, ['build', '3'], {exit: 1})
    assert.equal(run.json<{error: {code: string}}>().error.code, 'NOT_ENROLLED')
    assert.match(run.json<{error: {fix: string}}>().error.fix, /fleet enroll/)
    assert.equal(existsSync(durationsPaths(loner.env).localFile), false)
  })

  it('--fleet adds every peer’s copy, each host named by its directory and kept as text (host=123)', async function () {
    await layPeerFile(paths, '123', [
      ['build', 20],
      ['build', 30],
      ['test', 5],
    ])
    await layPeerFile(paths, 'beta', [['test', 7]])
    const fleetWide = await estimate('build', ['--fleet'])
    // alpha: 0, 2, 4, 10; 123: 20, 30 → median 7, p90 at 0.9 × 5 = 4.5 → 20 + 0.5 × 10 = 25.
    assert.deepEqual(fleetWide, {
      task: 'build',
      scope: 'fleet',
      count: 6,
      medianSeconds: 7,
      p90Seconds: 25,
      hosts: [
        {host: '123', count: 2, medianSeconds: 25, p90Seconds: 29},
        {host: 'alpha', count: 4, medianSeconds: 3, p90Seconds: 8.2},
        {host: 'beta', count: 0, medianSeconds: null, p90Seconds: null},
      ],
    })
    // Without --fleet: this machine's records alone.
    assert.equal((await estimate('build')).count, 4)

    const text = await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet'], {env})
    assert.equal(
      text.stdout,
      [
        'build: 6 records across the fleet, median 7 s, p90 25 s.',
        '',
        'HOST   COUNT  MEDIAN  P90',
        '123    2      25 s    29 s',
        'alpha  4      3 s     8.2 s',
        'beta   0      —       —',
      ].join('\n'),
    )
  })

  it('names a truncated copy and how to fetch it again, and estimates again once it is gone', async function () {
    const good = readFileSync(hostFile(paths, 'beta'))
    const broken = hostFile(paths, 'delta')
    mkdirSync(dirname(broken), {recursive: true})
    writeFileSync(broken, good.subarray(0, good.length - 40))

    const run = await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet', '--json'], {env})
    assert.equal(run.exitCode, 1, run.stdout + run.stderr)
    const {error} = run.json<{error: {code: string; message: string; fix: string}}>()
    assert.equal(error.code, 'UNREADABLE_FILE')
    assert.match(error.message, /^~\/\.local\/share\/fleet\/task-durations\/fleet\/host=delta\/local\.parquet cannot be read: .*No estimate was made\.$/)
    assert.match(error.fix, /rm ~\/\.local\/share\/fleet\/task-durations\/fleet\/host=delta\/local\.parquet.*fleet task-durations pull-fleet/)
    // This machine's own estimate does not read the fleet tree.
    assert.equal((await estimate('build')).count, 4)

    // Two broken copies: both named, each with why, and both in the fix.
    const alsoBroken = hostFile(paths, 'epsilon')
    mkdirSync(dirname(alsoBroken), {recursive: true})
    writeFileSync(alsoBroken, 'not parquet at all')
    const both = (await alpha.fleet(['task-durations', 'estimate', 'build', '--fleet', '--json'], {env})).json<{error: {message: string; fix: string}}>().error
    assert.match(
      both.message,
      /^2 files cannot be read\. No estimate was made\.\n {2}~\/\.local\/share\/fleet\/task-durations\/fleet\/host=delta\/local\.parquet cannot be read: .+\n {2}~\/\.local\/share\/fleet\/task-durations\/fleet\/host=epsilon\/local\.parquet cannot be read: .+$/,
    )
    assert.match(
      both.fix,
      /rm \S+host=delta\/local\.parquet \S+host=epsilon\/local\.parquet, then run `fleet task-durations pull-fleet` to fetch the files of delta, epsilon again/,
    )
    rmSync(alsoBroken)

    rmSync(broken)
    assert.equal((await estimate('build', ['--fleet'])).count, 6)
  })

  it('records nothing onto a local file it cannot read, and leaves the file as it was', async function () {
    const good = readFileSync(paths.localFile)
    const truncated = good.subarray(0, good.length - 40)
    writeFileSync(paths.localFile, truncated)
    try {
      const {error} = (await record(alpha, ['build', '3'], {exit: 1})).json<{error: {code: string; message: string; fix: string}}>()
      assert.equal(error.code, 'UNREADABLE_FILE')
      assert.match(error.message, /^~\/\.local\/share\/fleet\/task-durations\/local\.parquet cannot be read: .*Nothing was recorded\.$/)
      assert.match(
        error.fix,
        /^Move it aside: mv ~\/\.local\/share\/fleet\/task-durations\/local\.parquet ~\/\.local\/share\/fleet\/task-durations\/local\.parquet\.broken/,
      )
      assert.deepEqual(readFileSync(paths.localFile), truncated)
    } finally {
      writeFileSync(paths.localFile, good)
    }
  })

  it('contributes its pull-fleet agent, every 5 minutes', async function () {
    const listed = (await alpha.listAgents({env})).result
    const agent = listed.agents.find((a) => a.id === 'task-durations-pull-fleet')
    assert.deepEqual(agent && [agent.label, agent.source, agent.kind, agent.intervalSeconds], [
      'dev.dotfleet.task-durations-pull-fleet',
      '@dotfleet/plugin-task-durations',
      'interval',
      300,
    ])
    assert.deepEqual(listed.failures, [])
  })
})
