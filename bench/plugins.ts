// The task-durations plugin: pull-fleet over 8 peers on 127.0.0.1 against one peer's copy alone, estimate --fleet over
// 20 hosts × 100,000 rows against the same query over one host's file, and `fleet --version` with the plugin linked
// against `node -e 0`.
import {availableParallelism} from 'node:os'
import {mkdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import type {DuckDBConnection} from '@duckdb/node-api'

import {registerHostPackage} from '../dist/lib/plugins/host-package.js'
import {readManifest} from '../dist/lib/manifest/store.js'
import {FLEET_BIN, NODE, REPO_ROOT} from '../test/support/cli.ts'
import {TestFleet} from '../test/support/fleet.ts'
import type {Machine} from '../test/support/machine.ts'
import {addPeer, clientKey, delayLogins, type Peer, PEER_FILE} from '../plugins/task-durations/test/support/peers.ts'
import {loadClockTicks, readStat, seconds} from './support/proc-cpu.ts'
import {interleaved, timeProcess} from './support/process-time.ts'
import {fmt, median, type Target} from './support/stats.ts'

const PLUGIN_DIR = join(REPO_ROOT, 'plugins/task-durations')
const PLUGIN_DIST = `${PLUGIN_DIR}/dist`

export interface PluginsBenchOptions {
  /** Timed rounds of each measurement (after `warmup` untimed ones); medians are reported. */
  runs?: number
  warmup?: number
  /** Peers pulled from (8). */
  peers?: number
  /** How many peers pullFleet pulls at once in-process (the plugin's default unless told; the command always uses it). */
  concurrency?: number
  /** For the second set of pull runs, every login to a peer waits this long before its command runs (300 ms). */
  delayMs?: number
  /** Rows in each peer's file (100,000). */
  peerRows?: number
  /** Hosts in the fleet tree that estimate --fleet reads (20), and rows in each host's file (100,000). */
  hosts?: number
  hostRows?: number
}

/** One set of pull-fleet runs: wall time and CPU, medians, and the ratios. */
export interface PullFigures {
  /** Every login to a peer waited this long before its command ran (0: 127.0.0.1 as it is). */
  delayMs: number
  medianMs: {
    /** `fleet task-durations pull-fleet --json`, every peer's file copied anew, spawn to exit. */
    command: number
    /** pullFleet over every peer, in this process (the command less Node's start-up and reading the roster). */
    allPeers: number
    /** pullFleet over one peer at a time, in this process: the slowest peer's median. */
    slowestPeerAlone: number
    /** The same, the fastest peer's median. */
    fastestPeerAlone: number
    /** Each peer's median alone, added up: the peers one after another. */
    peersOneAfterAnother: number
  }
  /** The CPU those runs cost this machine (this process, what it reaped, the peers' sshd and their sessions), median. */
  cpuMs: {command: number; allPeers: number; slowestPeerAlone: number}
  ratio: {allToSlowestAlone: number; commandToSlowestAlone: number; oneAfterAnotherToAll: number; cpuFloorToSlowestAlone: number}
}

export interface PluginsBenchReport {
  runs: number
  pull: {
    peers: number
    rowsPerPeer: number
    bytesPerPeer: number
    /** How many peers pullFleet pulled at once. */
    concurrency: number
    /** This machine's cores: the CPU of every peer at once, spread over them, is the least wall time it can take here. */
    cores: number
    /** The peers on 127.0.0.1 as they are: every peer's side runs on this machine's cores too. */
    loopback: PullFigures
    /** Every login delayed, as peers further away answer later: what running the peers at once saves. */
    delayed: PullFigures
  }
  estimate: {
    hosts: number
    rowsPerHost: number
    medianMs: {fleet: number; oneHost: number}
    ratio: {fleetToOneHost: number}
  }
  startup: {
    medianMs: {nodeE0: number; versionWithPlugin: number; versionWithoutPlugin: number}
    ratio: {withPluginToNode: number; withoutPluginToNode: number}
  }
  targets: Target[]
}

const GOAL_PULL_RATIO = 1.5
const GOAL_ESTIMATE_MS = 1000
const GOAL_STARTUP_RATIO = 5

export async function benchPlugins(options: PluginsBenchOptions = {}): Promise<PluginsBenchReport> {
  const runs = options.runs ?? 7
  const warmup = options.warmup ?? 2
  const peerCount = options.peers ?? 8
  const peerRows = options.peerRows ?? 100_000
  const hosts = options.hosts ?? 20
  const hostRows = options.hostRows ?? 100_000
  // The plugin's modules import fleet's API as `@dotfleet/fleet`: here, as in `fleet`, that is this checkout's build.
  registerHostPackage(new URL('../dist/index.js', import.meta.url).href)
  process.stderr.write(`  plugins: setting up a machine and ${peerCount} peers, each behind its own sshd on 127.0.0.1…\n`)
  const fleet = await TestFleet.start('bench-plugins', {machines: ['alpha']})
  const peers: Peer[] = []
  try {
    const [alpha] = fleet.machines
    const key = await clientKey(alpha)
    const env = {...alpha.env, FLEET_SSH_IDENTITY: key.file}
    for (let i = 1; i <= peerCount; i++) peers.push(await addPeer(fleet, alpha, `peer${i}`, key.publicKey))
    await alpha.ok(['plugins', 'link', PLUGIN_DIR, '--no-install'])
    await withDuckDB(async (db) => {
      for (const peer of peers) await writeDurations(db, peer.machine.path(PEER_FILE), peer.machine.name, peerRows)
    })
    const bytesPerPeer = statSync(peers[0].machine.path(PEER_FILE)).size

    const cores = availableParallelism()
    const {PULL_CONCURRENCY} = (await import(`${PLUGIN_DIST}/lib/pull.js`)) as typeof import('../plugins/task-durations/src/lib/pull.ts')
    const pullOptions = {runs, warmup, cores, concurrency: options.concurrency ?? PULL_CONCURRENCY}
    const loopback = await benchPull(alpha, env, peers, {...pullOptions, delayMs: 0})
    const delayMs = options.delayMs ?? 300
    for (const peer of peers) delayLogins(peer, delayMs)
    const delayed = await benchPull(alpha, env, peers, {...pullOptions, delayMs})
    process.stderr.write(`  plugins: estimate --fleet over ${hosts} hosts × ${hostRows.toLocaleString('en')} rows…\n`)
    const estimate = await benchEstimate(alpha, env, {runs, warmup, hosts, hostRows})
    process.stderr.write('  plugins: fleet --version with the plugin linked…\n')
    const startup = await benchStartupWithPlugin(alpha, fleet.root, {runs: Math.max(runs, 15), warmup})

    const pullTarget = (figures: PullFigures, where: string): Target => ({
      name: `pull-fleet, ${peerCount} peers / the slowest peer alone (in-process, median), ${where}`,
      target: `≤ ${GOAL_PULL_RATIO}×`,
      value: figures.ratio.allToSlowestAlone,
      unit: '×',
      met: figures.ratio.allToSlowestAlone <= GOAL_PULL_RATIO,
    })
    return {
      runs,
      pull: {peers: peerCount, rowsPerPeer: peerRows, bytesPerPeer, concurrency: pullOptions.concurrency, cores, loopback, delayed},
      estimate: {hosts, rowsPerHost: hostRows, medianMs: estimate, ratio: {fleetToOneHost: estimate.fleet / estimate.oneHost}},
      startup: {
        medianMs: startup,
        ratio: {withPluginToNode: startup.versionWithPlugin / startup.nodeE0, withoutPluginToNode: startup.versionWithoutPlugin / startup.nodeE0},
      },
      targets: [
        pullTarget(loopback, '127.0.0.1'),
        pullTarget(delayed, `logins delayed ${delayMs} ms`),
        {
          name: `estimate --fleet, ${hosts} hosts × ${hostRows.toLocaleString('en')} rows, median wall time`,
          target: `≤ ${GOAL_ESTIMATE_MS / 1000} s`,
          value: estimate.fleet / 1000,
          unit: 's',
          met: estimate.fleet <= GOAL_ESTIMATE_MS,
        },
        {
          name: '`fleet --version` with the plugin linked / `node -e 0`',
          target: `≤ ${GOAL_STARTUP_RATIO}×`,
          value: startup.versionWithPlugin / startup.nodeE0,
          unit: '×',
          met: startup.versionWithPlugin / startup.nodeE0 <= GOAL_STARTUP_RATIO,
        },
      ],
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.sshd.stop()))
    await fleet.remove()
  }
}

/**
 * pull-fleet's wall time with every peer, against each peer's copy alone; every run copies every file anew (the tree
 * removed before it; the pinned host keys kept). Interleaved: the command, pullFleet over all, each peer alone. Beside
 * the wall time, the CPU that each run cost this machine: this process and what it reaped (the command, rsync, ssh)
 * and the peers' sshd (their sessions, rsync on the peer's side included) — here every peer's side runs on the same
 * cores as this machine's.
 */
async function benchPull(
  alpha: Machine,
  env: NodeJS.ProcessEnv,
  peers: Peer[],
  options: {runs: number; warmup: number; cores: number; concurrency: number; delayMs: number},
): Promise<PullFigures> {
  const {pullFleet} = (await import(`${PLUGIN_DIST}/lib/pull.js`)) as typeof import('../plugins/task-durations/src/lib/pull.ts')
  const {durationsPaths} = (await import(`${PLUGIN_DIST}/lib/paths.js`)) as typeof import('../plugins/task-durations/src/lib/paths.ts')
  await loadClockTicks()
  const paths = durationsPaths(env)
  const roster = (await readManifest(alpha.sourceDir)).machines.filter((machine) => machine.name !== alpha.name)
  const settings = {paths, env, concurrency: options.concurrency}
  const sshdPids = peers.map((peer) => Number(readFileSync(join(peer.sshd.dir, 'sshd.pid'), 'utf8').trim()))
  const cpuTicks = () => [process.pid, ...sshdPids].reduce((sum, pid) => sum + ((stat) => (stat ? stat.self + stat.reaped : 0))(readStat(pid)), 0)
  const cpuSamples: Record<string, number[]> = {}
  const timed = (name: string, work: () => Promise<unknown>) => async () => {
    rmSync(paths.fleetDir, {recursive: true, force: true})
    const ticks = cpuTicks()
    const start = process.hrtime.bigint()
    await work()
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    ;(cpuSamples[name] ??= []).push(seconds(cpuTicks() - ticks) * 1000)
    return ms
  }
  const expectCopied = (report: {peers: Array<{peer: string; status: string; message: string}>}) => {
    const bad = report.peers.filter((peer) => peer.status !== 'copied')
    if (bad.length > 0) throw new Error(`not copied: ${bad.map((peer) => `${peer.peer} (${peer.message})`).join(', ')}`)
  }
  const commands: Record<string, () => Promise<number>> = {
    command: timed('command', async () => {
      const run = await alpha.fleet(['task-durations', 'pull-fleet', '--json'], {env})
      if (run.exitCode !== 0) throw new Error(`pull-fleet exited ${run.exitCode}: ${run.stdout}${run.stderr}`)
      expectCopied(run.json())
    }),
    all: timed('all', async () => expectCopied(await pullFleet(roster, settings))),
  }
  for (const peer of roster) commands[peer.name] = timed(peer.name, async () => expectCopied(await pullFleet([peer], settings)))
  const delayed = options.delayMs > 0 ? `, every login delayed ${options.delayMs} ms` : ''
  process.stderr.write(`  plugins: pull-fleet, ${peers.length} peers, against each alone (${options.runs} rounds${delayed})…\n`)
  const samples = await interleaved(commands, options.runs, options.warmup)
  const cpu = (name: string) => median(cpuSamples[name].slice(options.warmup))
  const alone = roster.map((peer) => ({wall: median(samples[peer.name]), cpu: cpu(peer.name)}))
  const slowest = alone.reduce((a, b) => (b.wall > a.wall ? b : a))
  const medianMs = {
    command: median(samples.command),
    allPeers: median(samples.all),
    slowestPeerAlone: slowest.wall,
    fastestPeerAlone: Math.min(...alone.map((peer) => peer.wall)),
    peersOneAfterAnother: alone.reduce((sum, peer) => sum + peer.wall, 0),
  }
  const cpuMs = {command: cpu('command'), allPeers: cpu('all'), slowestPeerAlone: slowest.cpu}
  return {
    delayMs: options.delayMs,
    medianMs,
    cpuMs,
    ratio: {
      allToSlowestAlone: medianMs.allPeers / medianMs.slowestPeerAlone,
      commandToSlowestAlone: medianMs.command / medianMs.slowestPeerAlone,
      oneAfterAnotherToAll: medianMs.peersOneAfterAnother / medianMs.allPeers,
      cpuFloorToSlowestAlone: cpuMs.allPeers / options.cores / medianMs.slowestPeerAlone,
    },
  }
}

/** `estimate TASK --fleet` over the tree of `hosts` hosts, against `estimate TASK` over this machine's own file, both as commands. */
async function benchEstimate(alpha: Machine, env: NodeJS.ProcessEnv, options: {runs: number; warmup: number; hosts: number; hostRows: number}) {
  const {durationsPaths, hostFile} = (await import(`${PLUGIN_DIST}/lib/paths.js`)) as typeof import('../plugins/task-durations/src/lib/paths.ts')
  const paths = durationsPaths(env)
  rmSync(paths.fleetDir, {recursive: true, force: true})
  await withDuckDB(async (db) => {
    for (let i = 1; i <= options.hosts; i++) {
      const host = `host${String(i).padStart(2, '0')}`
      mkdirSync(join(paths.fleetDir, `host=${host}`), {recursive: true})
      await writeDurations(db, hostFile(paths, host), host, options.hostRows)
    }
    await writeDurations(db, paths.localFile, alpha.name, options.hostRows)
  })
  const estimate = (fleet: boolean) => async () => {
    const start = process.hrtime.bigint()
    const run = await alpha.fleet(['task-durations', 'estimate', 'task-7', ...(fleet ? ['--fleet'] : []), '--json'], {env})
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    const result = run.exitCode === 0 ? run.json<{count: number; hosts?: unknown[]}>() : undefined
    const expected = (fleet ? options.hosts + 1 : 1) * Math.ceil(options.hostRows / TASKS)
    if (!result || Math.abs(result.count - expected) > options.hosts + 1) throw new Error(`estimate${fleet ? ' --fleet' : ''}: ${run.stdout}${run.stderr}`)
    return ms
  }
  const samples = await interleaved({fleet: estimate(true), oneHost: estimate(false)}, options.runs, options.warmup)
  return {fleet: median(samples.fleet), oneHost: median(samples.oneHost)}
}

/** `fleet --version` on the machine with the plugin linked, and in a HOME without plugins, against `node -e 0`. */
async function benchStartupWithPlugin(alpha: Machine, root: string, options: {runs: number; warmup: number}) {
  const bare = {...alpha.env, HOME: join(root, 'no-plugins')}
  mkdirSync(bare.HOME, {recursive: true})
  const samples = await interleaved(
    {
      nodeE0: () => timeProcess(NODE, ['-e', '0']),
      versionWithPlugin: () => timeProcess(NODE, [FLEET_BIN, '--version'], {env: alpha.env, cwd: alpha.home}),
      versionWithoutPlugin: () => timeProcess(NODE, [FLEET_BIN, '--version'], {env: bare, cwd: bare.HOME}),
    },
    options.runs,
    options.warmup,
  )
  return {nodeE0: median(samples.nodeE0), versionWithPlugin: median(samples.versionWithPlugin), versionWithoutPlugin: median(samples.versionWithoutPlugin)}
}

/** The distinct tasks in a generated file. */
const TASKS = 50

type Connection = DuckDBConnection

/** An in-memory DuckDB for `work` (loaded only by this benchmark), closed afterwards. */
async function withDuckDB<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
  const {DuckDBInstance} = await import('@duckdb/node-api')
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    return await work(connection)
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

/** `rows` durations of host `host` (TASKS tasks, in turn) written to `file` as the plugin writes local.parquet. */
async function writeDurations(connection: Connection, file: string, host: string, rows: number): Promise<void> {
  const {DURATIONS_COLUMNS} = (await import(`${PLUGIN_DIST}/lib/record.js`)) as typeof import('../plugins/task-durations/src/lib/record.ts')
  mkdirSync(join(file, '..'), {recursive: true})
  await connection.run(`CREATE OR REPLACE TEMP TABLE durations (${DURATIONS_COLUMNS})`)
  await connection.run(
    `INSERT INTO durations SELECT 'task-' || (i % ${TASKS}), 1 + (i * 7919 % 600) / 10.0, $host, TIMESTAMPTZ '2026-01-01' + to_seconds(i) FROM range(${rows}) AS t(i)`,
    {host},
  )
  await connection.run(`COPY durations TO '${file.replaceAll("'", "''")}' (FORMAT parquet)`)
}

export function printPlugins(report: PluginsBenchReport): void {
  const {pull, estimate, startup} = report
  const row = (name: string, ms: number, note = '') => console.log(`    ${name.padEnd(44)} ${fmt(ms).padStart(8)}   ${note}`)
  console.log(`\nPlugins: task-durations (median of ${report.runs} rounds each, interleaved; Node ${process.version}, ${pull.cores} cores)`)
  for (const figures of [pull.loopback, pull.delayed]) {
    const where = figures.delayMs > 0 ? `every login delayed ${figures.delayMs} ms` : 'as they are'
    console.log(
      `  pull-fleet, ${pull.peers} peers on 127.0.0.1 (${where}), ${pull.concurrency} at once, ${pull.rowsPerPeer.toLocaleString('en')} rows (${(pull.bytesPerPeer / 1e6).toFixed(1)} MB) each, every file copied anew:`,
    )
    const {medianMs, cpuMs, ratio} = figures
    row(`the command, ${pull.peers} peers`, medianMs.command, `${ratio.commandToSlowestAlone.toFixed(2)}× the slowest peer alone; CPU ${fmt(cpuMs.command)}`)
    row(
      `pullFleet, ${pull.peers} peers (in-process)`,
      medianMs.allPeers,
      `${ratio.allToSlowestAlone.toFixed(2)}× the slowest peer alone; CPU ${fmt(cpuMs.allPeers)}`,
    )
    row('pullFleet, the slowest peer alone', medianMs.slowestPeerAlone, `CPU ${fmt(cpuMs.slowestPeerAlone)}`)
    row('pullFleet, the fastest peer alone', medianMs.fastestPeerAlone)
    row(`the ${pull.peers} peers alone, added up`, medianMs.peersOneAfterAnother, `${ratio.oneAfterAnotherToAll.toFixed(2)}× all at once`)
    row(
      `CPU of all at once ÷ ${pull.cores} cores`,
      cpuMs.allPeers / pull.cores,
      `${ratio.cpuFloorToSlowestAlone.toFixed(2)}× the slowest peer alone: the least it can take here`,
    )
  }
  console.log(`  estimate, the whole command (${estimate.hosts} hosts × ${estimate.rowsPerHost.toLocaleString('en')} rows, and this machine's file):`)
  row('estimate TASK --fleet', estimate.medianMs.fleet, `${estimate.ratio.fleetToOneHost.toFixed(2)}× one host's file`)
  row('estimate TASK (one host’s file)', estimate.medianMs.oneHost)
  console.log('  start-up:')
  row('node -e 0', startup.medianMs.nodeE0)
  row('fleet --version, the plugin linked', startup.medianMs.versionWithPlugin, `${startup.ratio.withPluginToNode.toFixed(2)}× node -e 0`)
  row('fleet --version, no plugin', startup.medianMs.versionWithoutPlugin, `${startup.ratio.withoutPluginToNode.toFixed(2)}× node -e 0`)
  for (const t of report.targets) console.log(`  target ${t.name}: ${t.target} — ${t.value.toFixed(2)} ${t.unit}, ${t.met ? 'met' : 'NOT met'}`)
}
