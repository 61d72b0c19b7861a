// Idle cost: CPU and forge requests of three machines' idle agents, the forge on disk or over ssh (BENCHMARKS.md).
import {setTimeout as sleep} from 'node:timers/promises'

import {execa, type ResultPromise} from 'execa'

import {FLEET_BIN, NODE} from '../test/support/cli.ts'
import type {Machine} from '../test/support/machine.ts'
import {
  type AgentSettings,
  BenchFleet,
  forgeHead,
  label,
  settingsText,
  sharedConnectionPids,
  sshdPid,
  syncsBetween,
  type Transport,
} from './support/fleet-bed.ts'
import {gitExecPath, REQUEST_METHOD, requests} from './support/forge-counter.ts'
import {timeProcessCpu} from './support/process-time.ts'
import {CPU_METHOD, loadClockTicks, type ProcStat, readStat, seconds, treeCpu, type UnitCost, unitCost} from './support/proc-cpu.ts'
import {type SharedCheckCost, sharedCheckCost} from './support/ssh-mux.ts'
import {fmt, median, type Target} from './support/stats.ts'
import {toolVersions} from './support/tool-versions.ts'

export interface MachineIdle {
  machine: string
  cpuSeconds: {
    total: number
    supervisorSelf: number
    /** Puller runs that ended in the window (and a restarted watcher, if any). */
    supervisorReaped: number
    watcherSelf: number
    /** git ls-remote (with its upload-pack over file://, its sh and ssh over ssh://), git remote get-url; a sync's git and chezmoi. */
    watcherReaped: number
    /** Processes alive at either end other than the supervisor and the watcher. */
    other: number
    /** The ssh master of the watcher's shared connection (detached: a child of init, counted from its own /proc entry). */
    sharedConnection: number
  }
  watcherRestarted: boolean
  /** Extrapolated from the window as measured. */
  cpuSecondsPerHourWindow: number
  /** The window without puller runs + one puller run's cost × runs per hour. */
  cpuSecondsPerHourSteady: number
  /** The same less what the counting wrapper added on this machine (its measured cost × requests): the agents alone. */
  cpuSecondsPerHourSteadyUncounted: number
  requests: Record<string, number>
  requestsPerMinuteWindow: number
  requestsPerMinuteSteady: number
  syncsInWindow: Record<string, number>
  /** CPU per forge check by the watcher: watcherReaped + a share of watcherSelf, per request. */
  watcherCpuMsPerRequest: number
  /** The puller's turn as it comes while the watcher lives (a sync since the last turn: it ends before the CLI loads). */
  puller: PullerTurnCost
  /** A turn with no sync since the last one (a watcher gone): the quick path. */
  pullerFull: PullerTurnCost
}

export interface PullerTurnCost {
  runs: number
  cpuMs: number
  wallMs: number
  requests: number
  outcomes: string[]
}

export interface IdleReport {
  transport: Transport
  forgeUrl: string
  node: string
  git: string
  chezmoi: string
  settings: AgentSettings
  windowSeconds: number
  cpuMethod: string
  requestMethod: string
  machines: MachineIdle[]
  baseline: {what: string; cpuSeconds: number; cpuSecondsPerHour: number}
  /** Each machine's steady CPU per hour (less wrapper) over the idle node's. */
  ratio: Record<string, number>
  forgeCommitsInWindow: number
  /** Direct costs, for the explanation: one `git ls-remote` as the watcher runs it, one `git remote get-url`. */
  unitCosts: {
    runs: number
    costs: Record<string, UnitCost>
    /** The entries of `costs` that are one forge check over file:// and (idle-ssh) over ssh://, uncounted. */
    lsRemote: {file: string; ssh?: string}
    /** What counting adds to every request on the machine's side: file://, upload-pack through the wrapper minus without it; ssh://, 0 (the wrapper runs in sshd). */
    wrapperMs: number
    /** ssh only: what counting adds on the sshd side per request (counted minus uncounted serverMs). */
    serverWrapperMs?: number
  }
  /** ssh only: the sshd side over the window (all three machines' requests). */
  server?: {what: string; cpuSeconds: number; requests: number; msPerRequest: number; cpuSecondsPerHour: number}
  /** ssh only: one forge check through the shared connection, measured apart. */
  sharedCheck?: SharedCheckCost
  trouble: string[]
  targets: Target[]
}

interface IdleOptions {
  windowSeconds?: number
  pullerRuns?: number
  unitRuns?: number
  settings?: Partial<AgentSettings>
}

/** The idle fleet over file://. */
export function benchIdle(options: IdleOptions = {}): Promise<IdleReport> {
  return measureIdle('file', options)
}

/** The idle fleet with the forge reached over ssh:// (an sshd of our own on 127.0.0.1). */
export function benchIdleSsh(options: IdleOptions = {}): Promise<IdleReport> {
  return measureIdle('ssh', options)
}

async function measureIdle(transport: Transport, options: IdleOptions): Promise<IdleReport> {
  const windowSeconds = options.windowSeconds ?? Number(process.env.BENCH_IDLE_SECONDS ?? 300)
  if (!(windowSeconds > 0)) throw new Error(`BENCH_IDLE_SECONDS must be a number of seconds, not ${process.env.BENCH_IDLE_SECONDS}`)
  const pullerRuns = options.pullerRuns ?? 3
  const unitRuns = options.unitRuns ?? 50
  const name = transport === 'ssh' ? 'idle-ssh' : 'idle'
  await loadClockTicks()
  const execPath = await gitExecPath()
  const fleet = await BenchFleet.create(name, options.settings, transport)
  const sshd = fleet.route.sshd
  let idleNode: ResultPromise | undefined
  try {
    const server = sshd ? sshdPid(sshd) : undefined
    await fleet.startAgents()
    await fleet.settle(Math.max(10_000, fleet.settings.remoteCheckSeconds * 2000))
    // Idle is the quiet pace: the watchers ask every quietCheckSeconds once nothing happened for a while.
    process.stderr.write(`  ${name}: waiting for every watcher to find the fleet quiet…\n`)
    await fleet.waitQuiet()
    idleNode = execa(NODE, ['-e', 'setInterval(() => {}, 1000)'], {stdin: 'ignore', reject: false})
    await sleep(3000) // past its start-up

    const supervisors = fleet.running.map((r) => r.process.pid!)
    const headBefore = forgeHead(fleet.forge)
    const requestsBefore = requests(fleet.counter).length
    const from = Date.now()
    const start = supervisors.map((pid) => treeCpu(pid))
    const mastersAtStart = fleet.machines.map((m) => sharedConnectionPids(m).map((pid) => readStat(pid)!))
    const serverStart = server === undefined ? undefined : treeCpu(server)
    const baseStart = readStat(idleNode.pid!)!
    process.stderr.write(`  ${name}: measuring ${windowSeconds} s of an idle fleet…\n`)
    await sleep(windowSeconds * 1000)
    const end = supervisors.map((pid) => treeCpu(pid))
    const mastersAtEnd = fleet.machines.map((m) => sharedConnectionPids(m).map((pid) => readStat(pid)!))
    const serverEnd = server === undefined ? undefined : treeCpu(server)
    const baseEnd = readStat(idleNode.pid!)!
    const to = Date.now()
    const windowMs = end[0].at - start[0].at
    const inWindow = requests(fleet.counter).slice(requestsBefore)
    const forgeCommitsInWindow =
      forgeHead(fleet.forge) === headBefore ? 0 : Number((await fleet.forge.git(['rev-list', '--count', `${headBefore}..main`])).trim())

    // The puller's turns on each machine, exactly as the puller runs them, their requests counted apart: after a sync
    // (as the watcher's sweep leaves it: the turn ends before the CLI loads), and right after another turn (no sync
    // since: a watcher gone), which syncs (the quick path).
    const probe = fleet.route.probe
    const pullerTurn = async (m: Machine, syncFirst: boolean): Promise<PullerTurnCost> => {
      const cpu: number[] = []
      const wall: number[] = []
      const outcomes: string[] = []
      let counted = 0
      const env = {...m.env, ...probe.env}
      const turn = () => timeProcessCpu(NODE, [FLEET_BIN, 'sync', '--reason', 'timer'], {env, extendEnv: false, cwd: m.home})
      for (let i = 0; i < pullerRuns; i++) {
        await (syncFirst ? execa(NODE, [FLEET_BIN, 'sync', '--reason', 'bench-sweep'], {env, extendEnv: false, cwd: m.home}) : turn())
        const before = probe.count()
        const times = await turn()
        counted += probe.count() - before
        cpu.push(times.cpuMs)
        wall.push(times.wallMs)
        outcomes.push(/^Nothing to do/.test(times.stdout) ? 'skipped' : /^Up to date/.test(times.stdout) ? 'quick' : 'synced')
      }
      return {runs: pullerRuns, cpuMs: median(cpu), wallMs: median(wall), requests: counted / pullerRuns, outcomes}
    }

    const machines: MachineIdle[] = []
    for (const [k, m] of fleet.machines.entries()) {
      const s = start[k]
      const e = end[k]
      const watcherRestarted = s.watcher !== e.watcher
      const d = (x: number, y: number) => seconds(y - x)
      const supervisorSelf = d(s.supervisorSelf, e.supervisorSelf)
      const supervisorReaped = d(s.supervisorReaped, e.supervisorReaped)
      const watcherSelf = watcherRestarted ? 0 : d(s.watcherSelf, e.watcherSelf)
      const watcherReaped = watcherRestarted ? 0 : d(s.watcherReaped, e.watcherReaped)
      const sharedConnection = mastersCpu(mastersAtStart[k], mastersAtEnd[k])
      const total = d(s.total, e.total) + sharedConnection
      const counts: Record<string, number> = {}
      for (const r of inWindow.filter((r) => r.home === m.home)) counts[r.kind] = (counts[r.kind] ?? 0) + 1
      const all = Object.values(counts).reduce((x, y) => x + y, 0)
      const syncsInWindow = syncsBetween(m, from, to)
      const pullerInWindow = Object.entries(syncsInWindow)
        .filter(([key]) => key.startsWith('timer'))
        .reduce((x, [, v]) => x + v, 0)
      const puller = await pullerTurn(m, true)
      const pullerFull = await pullerTurn(m, false)
      const perHour = 3600 / fleet.settings.pullIntervalSeconds
      const windowH = windowMs / 3_600_000
      const windowMin = windowMs / 60_000
      // Steady: the window without its puller runs (their CPU is in the supervisor's reaped time; their requests are
      // one per quick run, as the probe shows), plus the puller's measured run × runs per hour.
      const steadyCpu = (total - supervisorReaped) / windowH + (puller.cpuMs / 1000) * perHour
      const steadyRequests = (all - pullerInWindow * puller.requests) / windowMin + (puller.requests * perHour) / 60
      machines.push({
        machine: label(m),
        cpuSeconds: {
          total,
          supervisorSelf,
          supervisorReaped,
          watcherSelf,
          watcherReaped,
          other: total - supervisorSelf - supervisorReaped - watcherSelf - watcherReaped - sharedConnection,
          sharedConnection,
        },
        watcherRestarted,
        cpuSecondsPerHourWindow: total / windowH,
        cpuSecondsPerHourSteady: steadyCpu,
        cpuSecondsPerHourSteadyUncounted: steadyCpu,
        requests: counts,
        requestsPerMinuteWindow: all / windowMin,
        requestsPerMinuteSteady: steadyRequests,
        syncsInWindow,
        watcherCpuMsPerRequest: all > 0 ? ((watcherSelf + watcherReaped) * 1000) / all : 0,
        puller,
        pullerFull,
      })
    }
    const trouble = fleet.trouble()

    // Unit costs, outside the window and with the agents stopped (so that the sshd's CPU meanwhile is these runs'
    // alone): what one forge check spawns.
    await fleet.stopAgents()
    const a = fleet.machines[0]
    const plainEnv = {...a.env, GIT_EXEC_PATH: execPath, LC_ALL: 'C'}
    const unit = (file: string, args: string[], env: NodeJS.ProcessEnv, runs = unitRuns, serverPid?: number) =>
      unitCost(file, args, {env, cwd: a.sourceDir, runs, server: serverPid})
    const costs: Record<string, UnitCost> = {}
    const lsRemote: IdleReport['unitCosts']['lsRemote'] = {
      file: transport === 'ssh' ? 'git ls-remote file:// (+ upload-pack)' : 'git ls-remote (+ upload-pack)',
    }
    let wrapperMs = 0
    let serverWrapperMs: number | undefined
    let sharedCheck: SharedCheckCost | undefined
    costs['git remote get-url origin'] = await unit('git', ['remote', 'get-url', 'origin'], plainEnv)
    costs[lsRemote.file] = await unit('git', ['ls-remote', '--', fleet.forge.url], plainEnv)
    if (sshd && server !== undefined) {
      // A's own GIT_SSH_COMMAND logs in with A's counted key; the fixture's GIT_SSH_COMMAND with its uncounted one.
      lsRemote.ssh = 'git ls-remote ssh:// (+ sh, ssh)'
      costs[lsRemote.ssh] = await unit('git', ['ls-remote', '--', fleet.route.url], {...plainEnv, ...sshd.env}, unitRuns, server)
      costs['git ls-remote ssh://, counted'] = await unit('git', ['ls-remote', '--', fleet.route.url], plainEnv, unitRuns, server)
      serverWrapperMs = Math.max(0, costs['git ls-remote ssh://, counted'].serverMs! - costs[lsRemote.ssh].serverMs!)
    } else {
      costs['git ls-remote, counted'] = await unit('git', ['ls-remote', '--', fleet.forge.url], {...a.env, LC_ALL: 'C'})
      wrapperMs = Math.max(0, costs['git ls-remote, counted'].childMs - costs[lsRemote.file].childMs)
    }
    costs['fleet --version (start-up)'] = await unit(NODE, [FLEET_BIN, '--version'], plainEnv, 5)
    for (const m of machines) m.cpuSecondsPerHourSteadyUncounted = m.cpuSecondsPerHourSteady - (m.requestsPerMinuteSteady * 60 * wrapperMs) / 1000
    const worst = machines.reduce((x, y) => (y.cpuSecondsPerHourSteadyUncounted > x.cpuSecondsPerHourSteadyUncounted ? y : x))
    if (sshd && server !== undefined) sharedCheck = await sharedCheckCost(a, fleet.route.url, unitRuns, server)

    const baselineCpu = seconds(baseEnd.self + baseEnd.reaped - baseStart.self - baseStart.reaped)
    const baselinePerHour = baselineCpu / (windowMs / 3_600_000)
    const worstCpu = worst.cpuSecondsPerHourSteadyUncounted
    const worstRequests = Math.max(...machines.map((m) => m.requestsPerMinuteSteady))
    // Over SSH the goal is 8 CPU-s/hour (quiet machines); a forge on disk keeps its 10.
    const cpuTarget = transport === 'ssh' ? 8 : 10
    const serverSeconds = serverStart && serverEnd ? seconds(serverEnd.total - serverStart.total) : undefined
    return {
      transport,
      forgeUrl: fleet.route.url,
      ...(await toolVersions()),
      settings: fleet.settings,
      windowSeconds: windowMs / 1000,
      cpuMethod: CPU_METHOD,
      requestMethod: REQUEST_METHOD[transport],
      machines,
      baseline: {what: 'node -e "setInterval(() => {}, 1000)"', cpuSeconds: baselineCpu, cpuSecondsPerHour: baselinePerHour},
      ratio: Object.fromEntries(machines.map((m) => [m.machine, baselinePerHour > 0 ? m.cpuSecondsPerHourSteadyUncounted / baselinePerHour : Number.NaN])),
      forgeCommitsInWindow,
      unitCosts: {runs: unitRuns, costs, lsRemote, wrapperMs, serverWrapperMs},
      server:
        serverSeconds === undefined
          ? undefined
          : {
              what: "the listening sshd's tree (/proc, as for the agents): its own CPU and every connection's processes, the counting wrapper included",
              cpuSeconds: serverSeconds,
              requests: inWindow.length,
              msPerRequest: inWindow.length > 0 ? (serverSeconds * 1000) / inWindow.length : Number.NaN,
              cpuSecondsPerHour: serverSeconds / (windowMs / 3_600_000),
            },
      sharedCheck,
      trouble,
      targets: [
        {name: 'forge requests / min (worst machine, steady)', target: '≤ 12', value: worstRequests, unit: '/min', met: worstRequests <= 12},
        {name: 'CPU s / hour (worst machine, steady, less wrapper)', target: `≤ ${cpuTarget}`, value: worstCpu, unit: 's/h', met: worstCpu <= cpuTarget},
      ],
    }
  } finally {
    try {
      if (idleNode) {
        idleNode.kill('SIGTERM')
        await idleNode
      }
    } finally {
      await fleet.dispose()
    }
  }
}

/** CPU seconds of the shared connections' masters between two looks (one that started meanwhile counts whole). */
function mastersCpu(start: ProcStat[], end: ProcStat[]): number {
  let ticks = 0
  for (const e of end) {
    const s = start.find((x) => x.pid === e.pid && x.start === e.start)
    ticks += e.self + e.reaped - (s ? s.self + s.reaped : 0)
  }
  return seconds(ticks)
}

/** The report as `npm run bench` prints it. */
export function printIdle(report: IdleReport): void {
  const ssh = report.transport === 'ssh'
  const title = ssh
    ? 'Idle over ssh://: three machines running their agents, the forge behind an sshd of our own on 127.0.0.1, nothing changing'
    : 'Idle: three machines running their agents, nothing changing'
  console.log(`\n${title}, ${report.windowSeconds.toFixed(0)} s window (BENCH_IDLE_SECONDS; Node ${report.node}; ${report.git}; ${report.chezmoi})`)
  console.log(`  ${settingsText(report.settings)}`)
  console.log(`  forge: ${report.forgeUrl}`)
  console.log(
    `  CPU = ${report.cpuMethod}${ssh ? " (the machines' side: the agents with their git, sh and ssh client processes; the sshd side separately below)" : ''}`,
  )
  console.log(`  requests = ${report.requestMethod}`)
  console.log(
    `  "steady" = the window without puller turns + one puller turn as it comes while the watcher lives (measured: a sync, then fleet sync --reason timer, median of ${report.machines[0]?.puller.runs}) × ${3600 / report.settings.pullIntervalSeconds}/h`,
  )
  console.log(
    `  ${'machine'.padEnd(8)} ${'cpu s'.padStart(7)} ${'s/h win'.padStart(8)} ${'s/h steady'.padStart(10)} ${'less wrapper'.padStart(12)} ${'×idle node'.padStart(10)}   ${'req/min win'.padStart(11)} ${'steady'.padStart(7)}`,
  )
  for (const m of report.machines) {
    console.log(
      `  ${m.machine.padEnd(8)} ${m.cpuSeconds.total.toFixed(2).padStart(7)} ${m.cpuSecondsPerHourWindow.toFixed(1).padStart(8)} ${m.cpuSecondsPerHourSteady.toFixed(1).padStart(10)} ${m.cpuSecondsPerHourSteadyUncounted.toFixed(1).padStart(12)} ${report.ratio[m.machine].toFixed(0).padStart(9)}×   ${m.requestsPerMinuteWindow.toFixed(1).padStart(11)} ${m.requestsPerMinuteSteady.toFixed(1).padStart(7)}`,
    )
  }
  const fleetWide = report.machines.reduce((sum, m) => sum + m.requestsPerMinuteSteady, 0)
  console.log(`  the forge itself sees ${fleetWide.toFixed(1)} requests/min from these ${report.machines.length} machines (steady)`)
  console.log(`  idle node over the same window: ${report.baseline.cpuSeconds.toFixed(2)} s (${report.baseline.cpuSecondsPerHour.toFixed(2)} s/h)`)
  if (report.server) {
    const s = report.server
    console.log(
      `  sshd side over the window: ${s.cpuSeconds.toFixed(2)} s for ${s.requests} requests = ${s.msPerRequest.toFixed(1)} ms per request (${s.cpuSecondsPerHour.toFixed(1)} s/h for the ${report.machines.length} machines; ${s.what})`,
    )
  }
  console.log(
    `  where the CPU went (s in the window): supervisor itself / puller turns ended / watcher itself / watcher's children / its shared ssh connection / other`,
  )
  for (const m of report.machines) {
    const c = m.cpuSeconds
    const f = (x: number) => (Math.abs(x) < 0.005 ? 0 : x).toFixed(2)
    console.log(
      `    ${m.machine}: ${f(c.supervisorSelf)} / ${f(c.supervisorReaped)} / ${f(c.watcherSelf)} / ${f(c.watcherReaped)} / ${f(c.sharedConnection)} / ${f(c.other)}${m.watcherRestarted ? '  (the watcher restarted in the window)' : ''}`,
    )
  }
  for (const m of report.machines) {
    const syncs =
      Object.entries(m.syncsInWindow)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ') || 'none'
    console.log(
      `    ${m.machine}: requests ${
        Object.entries(m.requests)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }; watcher CPU per request ${m.watcherCpuMsPerRequest.toFixed(1)} ms; syncs in the window: ${syncs}`,
    )
    const turn = (t: PullerTurnCost) => `${fmt(t.cpuMs)} CPU, ${fmt(t.wallMs)} wall, ${t.requests} request(s), outcome ${[...new Set(t.outcomes)].join('/')}`
    console.log(`       one puller turn after a sync: ${turn(m.puller)}; with no sync since the last turn: ${turn(m.pullerFull)}`)
  }
  const u = report.unitCosts
  console.log(
    `  unit costs (mean of ${u.runs} back to back; the process with its children / the node that spawns it through execa${ssh ? ' / the sshd side' : ''}):`,
  )
  for (const [name, c] of Object.entries(u.costs)) {
    console.log(
      `    ${name.padEnd(38)} ${c.childMs.toFixed(1).padStart(6)} ms / ${c.spawnerMs.toFixed(1).padStart(5)} ms${c.serverMs === undefined ? '' : ` / ${c.serverMs.toFixed(1).padStart(6)} ms`}`,
    )
  }
  if (ssh && u.lsRemote.ssh) {
    const viaSsh = u.costs[u.lsRemote.ssh]
    const viaFile = u.costs[u.lsRemote.file]
    console.log(
      `    one forge check, git ls-remote with its children: ssh:// ${viaSsh.childMs.toFixed(1)} ms vs file:// ${viaFile.childMs.toFixed(1)} ms (${(viaSsh.childMs / viaFile.childMs).toFixed(1)}×) on the machine, + ${viaSsh.serverMs!.toFixed(1)} ms in sshd`,
    )
    console.log(
      `    the counting wrapper runs in sshd: ${(u.serverWrapperMs ?? 0).toFixed(1)} ms there per request, nothing on the machine ("less wrapper" = steady)`,
    )
  } else {
    console.log(`    the counting wrapper adds ${u.wrapperMs.toFixed(1)} ms per request; "less wrapper" below takes that out of the steady figure`)
  }
  if (report.sharedCheck) {
    const x = report.sharedCheck
    console.log(`  one forge check through the watcher's shared connection (what the watchers do; mean of ${x.runs}, measured apart):`)
    console.log(
      `    ${x.processMs.toFixed(2)} ms in the asking process + ${x.masterMs.toFixed(2)} ms in the ssh master = ${x.perCheckMs.toFixed(2)} ms on the machine, no process started (sshd side ${x.serverMs.toFixed(1)} ms; ${x.wallMs.toFixed(0)} ms wall); the connection's first git ls-remote ${x.firstMs.toFixed(1)} ms, once`,
    )
  }
  console.log(`  forge commits in the window: ${report.forgeCommitsInWindow}`)
  if (report.trouble.length > 0) {
    console.log(`  agents' output worth a look (${report.trouble.length} line(s)):`)
    for (const line of report.trouble.slice(0, 12)) console.log(`    ${line}`)
  }
  console.log('  Targets')
  for (const t of report.targets)
    console.log(`    ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(46)} ${t.value.toFixed(2).padStart(7)} ${t.unit}  (target ${t.target})`)
}
