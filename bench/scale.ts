// Scale: two machines sharing one managed directory of 50, 5,000 and 20,000 small files, against chezmoi alone on
// the same tree (BENCHMARKS.md).
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import {readOr, RunningAgents, waitFor} from '../test/support/agents.ts'
import {FLEET_BIN, NODE} from '../test/support/cli.ts'
import {Forge} from '../test/support/forge.ts'
import {Machine} from '../test/support/machine.ts'
import {printQuickPath, type QuickPath, quickPath, timeFleetSync} from './support/fleet-sync.ts'
import {cmdline, processTable, subtree} from './support/proc-cpu.ts'
import {type ProcessMemory, readMemory} from './support/proc-memory.ts'
import {interleaved, timeProcessCpu} from './support/process-time.ts'
import {fmt, median, type Series, series, type Target} from './support/stats.ts'
import {shortVersion} from './support/tool-versions.ts'

/** The managed directory, relative to $HOME: `.big/d<i % 50>/f<i>.json`. */
const BIG = '.big'
const SUBDIRS = 50
/** The size the targets are set at; larger sizes are reported, not held to a target. */
const TARGET_FILES = 5000

export interface ScaleBenchOptions {
  /** Numbers of files in the managed directory (default 50, 5,000 and 20,000; leave out 20,000 for a shorter run). */
  sizes?: number[]
  /** Joining machines timed (each beside one chezmoi apply) per size below `largeFrom`, and from it on. */
  joinRuns?: number
  joinRunsLarge?: number
  largeFrom?: number
  /** Timed rounds of one edit synced (after one warm-up round), every size in each round. */
  editRuns?: number
  /** Timed rounds of the quick path (after two warm-up rounds). */
  quickRuns?: number
  /** How long the agents run quiet after their start-up sync before their memory is read. */
  settleMs?: number
}

/** What the first sync of a machine printed for a person: how many lines, and the longest line's length. */
export interface OutputShape {
  lines: number
  longestLine: number
}

export interface SetUpFigures {
  files: number
  bytes: number
  /** `fleet add-path --force ~/.big` on A (it commits, pushes and syncs). */
  addPathMs: number
  /** B, enrolled and approved before the tree existed: its `fleet sync` that brings in the whole tree (one sample). */
  receiveAll: {wallMs: number; cpuMs: number; output: OutputShape}
}

export interface FirstSync {
  files: number
  /** `fleet enroll --forge` of a new machine: clone, key, roster, push, apply. */
  enroll: Series
  /** Of each enroll: its Apply step, and its Source repo step (the clone), from when enroll printed each step's start and end. */
  applyStep: Series
  cloneStep: Series
  /** `chezmoi apply` of the joined machine's source, with its chezmoi config, into an empty HOME. */
  chezmoiApply: Series
  /** CPU medians (GNU time: the process and the children it waited for). */
  enrollCpuMs: number
  chezmoiApplyCpuMs: number
  /** Medians: enroll / chezmoi apply, its Apply step / chezmoi apply (wall), and enroll / chezmoi apply (CPU). */
  ratio: number
  applyRatio: number
  cpuRatio: number
  /** The first enroll's output. */
  output: OutputShape
}

export interface EditFigures {
  files: number
  aSync: Series
  aSyncCpuMs: number
  aStatus: Series
  bSync: Series
  bSyncCpuMs: number
  bApply: Series
  /** Each side's median over the same at the smallest size. */
  aRatio: number
  bRatio: number
}

export interface MemoryFigures {
  files: number
  readings: number
  /** Medians of the readings (VmRSS), and VmHWM at the last one, MB. */
  watcher: ProcessMemory
  supervisor: ProcessMemory
  idleNode: ProcessMemory
}

export interface ScaleReport {
  node: string
  chezmoi: string
  git: string
  tookMs: number
  sizes: number[]
  setUp: SetUpFigures[]
  firstSync: FirstSync[]
  edit: {runs: number; warmup: number; sizes: EditFigures[]}
  quick: QuickPath
  memory: MemoryFigures[]
  targets: Target[]
}

/** File i of the tree (about 220 bytes), or its `edit`th edited version. */
function bigFile(i: number, edit?: number): string {
  const settings = {
    id: i,
    name: `entry-${i}`,
    kind: 'settings',
    colour: 'blue',
    width: 80 + (i % 40),
    enabled: true,
    tags: ['alpha', 'beta', 'gamma'],
    notes: 'one small settings file among many in a directory',
    ...(edit === undefined ? {} : {edited: edit}),
  }
  return `${JSON.stringify(settings, null, 1)}\n`
}

const bigPath = (i: number) => `${BIG}/d${i % SUBDIRS}/f${i}.json`

/** Fail unless `home` holds exactly the tree of `files` files as written (before any edit). */
function checkTree(home: string, files: number, what: string): void {
  const dir = join(home, BIG)
  const found = readdirSync(dir, {recursive: true, withFileTypes: true}).filter((e) => e.isFile())
  if (found.length !== files) throw new Error(`${what}: ${found.length} files under ~/${BIG}, not ${files}`)
  for (const entry of found) {
    const path = relative(home, join(entry.parentPath, entry.name))
    const i = Number(/f(\d+)\.json$/.exec(path)?.[1])
    if (path !== bigPath(i) || readFileSync(join(home, path), 'utf8') !== bigFile(i)) throw new Error(`${what}: ~/${path} is not as written`)
  }
}

function outputShape(text: string): OutputShape {
  const lines = text.split('\n').filter(Boolean)
  return {lines: lines.length, longestLine: Math.max(0, ...lines.map((line) => line.length))}
}

/** chezmoi with the global options fleet gives it (src/lib/chezmoi/chezmoi.ts): this machine's config, state, source and HOME. */
function chezmoiArgs(machine: Machine, args: string[]): string[] {
  const at = machine.locations
  const global = ['--config', at.chezmoiConfigFile, '--persistent-state', at.chezmoiStateFile, '--source', at.sourceDir, '--destination', machine.home]
  return [...global, '--no-tty', '--no-pager', '--color=false', '--progress=false', ...args]
}

async function timeChezmoi(machine: Machine, args: string[]): Promise<number> {
  return (await timeProcessCpu('chezmoi', chezmoiArgs(machine, args), {env: machine.env, extendEnv: false, cwd: machine.home})).wallMs
}

interface SizedFleet {
  files: number
  dir: string
  forge: Forge
  a: Machine
  b: Machine
  edits: number
}

/** A started the fleet; B joined and was approved; then A wrote the tree and added it; B's sync brought it in. */
async function setUpFleet(root: string, files: number): Promise<{fleet: SizedFleet; figures: SetUpFigures}> {
  const dir = join(root, `files-${files}`)
  const forge = await Forge.create(join(dir, 'forge'))
  const a = new Machine(dir, 'a')
  const b = new Machine(dir, 'b')
  await a.enroll(forge.url)
  await b.enroll(forge.url)
  await a.approve('b')
  await b.ok(['sync'])
  let bytes = 0
  for (let i = 0; i < files; i++) {
    const text = bigFile(i)
    a.write(bigPath(i), text)
    bytes += text.length
  }
  const timeout = 3_600_000
  const start = performance.now()
  await a.ok(['add-path', '--force', a.path(BIG)], {timeout})
  const addPathMs = performance.now() - start
  // As a person runs it (its output is what a person reads), then checked on disk.
  const received = await timeProcessCpu(NODE, [FLEET_BIN, 'sync', '--reason', 'bench'], {env: b.env, extendEnv: false, cwd: b.home})
  checkTree(b.home, files, `B after its sync`)
  const receiveAll = {wallMs: received.wallMs, cpuMs: received.cpuMs, output: outputShape(received.stdout)}
  return {fleet: {files, dir, forge, a, b, edits: 0}, figures: {files, bytes, addPathMs, receiveAll}}
}

/** A fleet command as a person runs it (no --json): its wall and CPU time, and each line it printed with when it came. */
interface StampedRun {
  wallMs: number
  cpuMs: number
  lines: Array<{atMs: number; text: string}>
}

async function stampedRun(machine: Machine, args: string[]): Promise<StampedRun> {
  const lines: StampedRun['lines'] = []
  const onLine = (text: string, atMs: number) => lines.push({atMs, text})
  const times = await timeProcessCpu(NODE, [FLEET_BIN, ...args], {env: machine.env, extendEnv: false, cwd: machine.home, onLine})
  return {wallMs: times.wallMs, cpuMs: times.cpuMs, lines}
}

/** How long a step of a multi-step command took: from its `❯ title` line to its `✔ title…` line (the plain renderer's). */
function stepMs(run: StampedRun, title: string): number {
  const started = run.lines.find((l) => l.text === `❯ ${title}`)
  const ended = run.lines.find((l) => l.text === `✔ ${title}` || l.text.startsWith(`✔ ${title}: `))
  if (!started || !ended) throw new Error(`no start and end of the step "${title}" in:\n${run.lines.map((l) => l.text).join('\n')}`)
  return ended.atMs - started.atMs
}

/** Every ref of the forge and where it points. */
async function forgeRefs(forge: Forge): Promise<Map<string, string>> {
  const text = await forge.git(['for-each-ref', '--format=%(refname) %(objectname)'])
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  )
}

/** Put the forge's refs back as they were: what a joining machine pushed is gone, so the next joins the same fleet. */
async function restoreRefs(forge: Forge, refs: Map<string, string>): Promise<void> {
  for (const [ref, sha] of await forgeRefs(forge)) {
    const was = refs.get(ref)
    if (was === undefined) await forge.git(['update-ref', '-d', ref])
    else if (was !== sha) await forge.git(['update-ref', ref, was])
  }
}

/**
 * `runs` machines join the fleet one after another (`fleet enroll --forge`, as a person runs it), each followed by
 * `chezmoi apply` of the same source into an empty HOME with the joined machine's chezmoi config (its age identity,
 * its machine name); the forge is put back after each, and every tree is checked on disk.
 */
async function firstSyncs(fleet: SizedFleet, runs: number): Promise<FirstSync> {
  const enroll: number[] = []
  const enrollCpu: number[] = []
  const applyStep: number[] = []
  const cloneStep: number[] = []
  const alone: number[] = []
  const aloneCpu: number[] = []
  let output: OutputShape | undefined
  for (let i = 0; i < runs; i++) {
    const refs = await forgeRefs(fleet.forge)
    const dir = join(fleet.dir, `join-${i}`)
    try {
      const joining = new Machine(dir, 'c')
      const run = await stampedRun(joining, ['enroll', '--name', 'c', '--no-agents', '--forge', fleet.forge.url])
      checkTree(joining.home, fleet.files, 'the joined machine')
      enroll.push(run.wallMs)
      enrollCpu.push(run.cpuMs)
      applyStep.push(stepMs(run, 'Apply'))
      cloneStep.push(stepMs(run, 'Source repo'))
      output ??= outputShape(run.lines.map((l) => l.text).join('\n'))

      const chezmoi = new Machine(dir, 'chezmoi-alone')
      await execa('git', ['clone', '--quiet', '--', joining.sourceDir, chezmoi.sourceDir], {env: chezmoi.env, extendEnv: false})
      mkdirSync(dirname(chezmoi.locations.chezmoiConfigFile), {recursive: true})
      copyFileSync(joining.locations.chezmoiConfigFile, chezmoi.locations.chezmoiConfigFile)
      const applied = await timeProcessCpu('chezmoi', chezmoiArgs(chezmoi, ['apply']), {env: chezmoi.env, extendEnv: false, cwd: chezmoi.home})
      alone.push(applied.wallMs)
      aloneCpu.push(applied.cpuMs)
      checkTree(chezmoi.home, fleet.files, 'chezmoi apply alone')
    } finally {
      await restoreRefs(fleet.forge, refs)
      rmSync(dir, {recursive: true, force: true})
    }
  }
  const [e, a, c] = [series(enroll), series(applyStep), series(alone)]
  return {
    files: fleet.files,
    enroll: e,
    applyStep: a,
    cloneStep: series(cloneStep),
    chezmoiApply: c,
    ratio: e.medianMs / c.medianMs,
    cpuRatio: median(enrollCpu) / median(aloneCpu),
    enrollCpuMs: median(enrollCpu),
    chezmoiApplyCpuMs: median(aloneCpu),
    applyRatio: a.medianMs / c.medianMs,
    output: output!,
  }
}

/**
 * Rounds of: one file edited on A, A's `fleet sync` (checked: one file captured, one commit pushed), `chezmoi status`
 * on A, B's `fleet sync` (checked: it applied that file, whose new content is on B's disk), `chezmoi apply` with
 * nothing to do on B; every size in each round.
 */
async function editRounds(fleets: SizedFleet[], runs: number, warmup: number): Promise<EditFigures[]> {
  const cpu = new Map<string, number[]>()
  const commands: Record<string, () => Promise<number>> = {}
  for (const fleet of fleets) {
    const {a, b, files} = fleet
    let edited = {path: '', text: ''}
    const [aCpu, bCpu] = [[], []] as number[][]
    cpu.set(`${files} A`, aCpu)
    cpu.set(`${files} B`, bCpu)
    commands[`${files} A sync`] = () => {
      const i = fleet.edits % files
      edited = {path: bigPath(i), text: bigFile(i, ++fleet.edits)}
      a.write(edited.path, edited.text)
      return timeFleetSync(a, 'ok', aCpu)
    }
    commands[`${files} A status`] = () => timeChezmoi(a, ['status'])
    commands[`${files} B sync`] = async () => {
      const ms = await timeFleetSync(b, {applied: edited.path}, bCpu)
      if (readOr(b, edited.path) !== edited.text) throw new Error(`B does not have the edit of ~/${edited.path} after its sync`)
      return ms
    }
    commands[`${files} B apply`] = () => timeChezmoi(b, ['apply'])
  }
  const samples = await interleaved(commands, runs, warmup)
  const smallest = fleets[0].files
  const figures = fleets.map(({files}) => {
    const [aSync, bSync] = [series(samples[`${files} A sync`]), series(samples[`${files} B sync`])]
    return {
      files,
      aSync,
      aSyncCpuMs: median(cpu.get(`${files} A`)!.slice(warmup)),
      aStatus: series(samples[`${files} A status`]),
      bSync,
      bSyncCpuMs: median(cpu.get(`${files} B`)!.slice(warmup)),
      bApply: series(samples[`${files} B apply`]),
      aRatio: 0,
      bRatio: 0,
    }
  })
  const base = figures.find((f) => f.files === smallest)!
  for (const f of figures) {
    f.aRatio = f.aSync.medianMs / base.aSync.medianMs
    f.bRatio = f.bSync.medianMs / base.bSync.medianMs
  }
  return figures
}

/** Sync A and B until both take the quick path: nothing left to do anywhere. */
async function settle(fleet: SizedFleet): Promise<void> {
  for (let round = 0; round < 4; round++) {
    const outcomes = []
    for (const m of [fleet.a, fleet.b]) outcomes.push((await m.sync({timeout: 3_600_000})).result.outcome)
    if (outcomes.every((o) => o === 'quick')) return
  }
  throw new Error(`the fleet of ${fleet.files} files does not settle: its syncs never all take the quick path`)
}

/**
 * `fleet agents run` on A (the supervisor and its watcher, `fleet agents watch`) beside an idle Node; once the
 * watcher watches, its start-up sync is over and `settleMs` have passed, `readings` readings of each one's memory
 * 1 s apart.
 */
async function agentsMemory(fleet: SizedFleet, settleMs: number, readings: number): Promise<MemoryFigures> {
  const idle = execa(NODE, ['-e', 'setInterval(() => {}, 1000)'], {stdin: 'ignore', reject: false})
  const agents = new RunningAgents(fleet.a)
  try {
    const supervisor = agents.process.pid!
    const watcherPid = () => subtree(processTable(), supervisor).find((p) => p.ppid === supervisor && cmdline(p.pid).includes('watch'))?.pid
    await waitFor('the watcher to watch', () => /watching \d+ managed path/.test(agents.output), 600_000, 250)
    // Over when the watcher has logged its first sync and the supervisor has no child but the watcher, and it none.
    await waitFor(
      "the watcher's start-up sync",
      () => /\[watcher\] .*sync \(watcher-start/.test(agents.output) && subtree(processTable(), supervisor).length === 2,
      600_000,
      250,
    )
    await sleep(settleMs)
    const watcher = watcherPid()
    const taken: Array<{watcher?: ProcessMemory; supervisor?: ProcessMemory; idle?: ProcessMemory}> = []
    for (let k = 0; k < readings; k++) {
      if (k > 0) await sleep(1000)
      taken.push({watcher: watcher === undefined ? undefined : readMemory(watcher), supervisor: readMemory(supervisor), idle: readMemory(idle.pid!)})
    }
    if (watcher === undefined || watcherPid() !== watcher) throw new Error(`the watcher on A was not running all along:\n${agents.output}`)
    const summary = (key: 'watcher' | 'supervisor' | 'idle'): ProcessMemory => {
      const values = taken.map((t) => t[key])
      if (values.some((v) => v === undefined)) throw new Error(`the ${key} process went away while its memory was read`)
      return {rssMb: median(values.map((v) => v!.rssMb)), hwmMb: values.at(-1)!.hwmMb}
    }
    return {files: fleet.files, readings, watcher: summary('watcher'), supervisor: summary('supervisor'), idleNode: summary('idle')}
  } finally {
    await agents.stop()
    idle.kill()
    await idle
  }
}

/** The size the targets hold at: 5,000 files, or the largest size below it that was measured. */
function targetSize(sizes: number[]): number {
  return Math.max(...sizes.filter((n) => n <= TARGET_FILES))
}

function scaleTargets(report: Omit<ScaleReport, 'targets' | 'tookMs'>): Target[] {
  const [smallest, at] = [report.sizes[0], targetSize(report.sizes)]
  const find = <T extends {files: number}>(list: T[], files: number) => list.find((f) => f.files === files)!
  const first = find(report.firstSync, at)
  const edit = find(report.edit.sizes, at)
  const quickMs = report.quick.wallMs[quickName(at)]
  const targets: Target[] = [{name: `first sync at ${at}: enroll / chezmoi apply`, target: '≤ 1.5×', value: first.ratio, unit: '×', met: first.ratio <= 1.5}]
  if (at !== smallest) {
    targets.push(
      {name: `edit, A's sync: ${at} / ${smallest} files`, target: '≤ 1.5×', value: edit.aRatio, unit: '×', met: edit.aRatio <= 1.5},
      {name: `edit, B's sync: ${at} / ${smallest} files`, target: '≤ 1.5×', value: edit.bRatio, unit: '×', met: edit.bRatio <= 1.5},
    )
  }
  targets.push({name: `quick path at ${at} files`, target: '≤ 0.4 s', value: quickMs / 1000, unit: 's', met: quickMs <= 400})
  const rss = (files: number) => find(report.memory, files).watcher.rssMb
  targets.push({name: `watcher RSS at ${at} files`, target: '≤ 120 MB', value: rss(at), unit: 'MB', met: rss(at) <= 120})
  if (at !== smallest) targets.push({name: `watcher RSS at ${smallest} files`, target: '≤ 80 MB', value: rss(smallest), unit: 'MB', met: rss(smallest) <= 80})
  return targets
}

const quickName = (files: number) => `fleet sync on A, ${files} files`

export async function benchScale(options: ScaleBenchOptions = {}): Promise<ScaleReport> {
  const {sizes: given = [50, 5000, 20_000], joinRuns = 3, joinRunsLarge = 1, largeFrom = 10_000, editRuns = 5, quickRuns = 10, settleMs = 5000} = options
  const sizes = [...given].sort((x, y) => x - y)
  const started = performance.now()
  const root = mkdtempSync(join(tmpdir(), 'fleet-bench-scale-'))
  try {
    const fleets: SizedFleet[] = []
    const setUp: SetUpFigures[] = []
    const firstSync: FirstSync[] = []
    for (const files of sizes) {
      const {fleet, figures} = await setUpFleet(root, files)
      fleets.push(fleet)
      setUp.push(figures)
      firstSync.push(await firstSyncs(fleet, files >= largeFrom ? joinRunsLarge : joinRuns))
    }
    const warmup = 1
    const edit = {runs: editRuns, warmup, sizes: await editRounds(fleets, editRuns, warmup)}
    for (const fleet of fleets) await settle(fleet)
    const quick = await quickPath(Object.fromEntries(fleets.map((f) => [quickName(f.files), f.a])), quickRuns)
    const memory: MemoryFigures[] = []
    for (const fleet of fleets) memory.push(await agentsMemory(fleet, settleMs, 5))
    const measured = {
      node: process.version,
      chezmoi: await shortVersion('chezmoi'),
      git: await shortVersion('git'),
      sizes,
      setUp,
      firstSync,
      edit,
      quick,
      memory,
    }
    return {...measured, targets: scaleTargets(measured), tookMs: performance.now() - started}
  } finally {
    rmSync(root, {recursive: true, force: true})
  }
}

const mb = (m: ProcessMemory) => `${m.rssMb.toFixed(0)} MB (${m.hwmMb.toFixed(0)})`

export function printScale(report: ScaleReport): void {
  console.log(
    `\nScale: two machines, A and B, on a bare forge, one managed directory ~/${BIG} of N small JSON files in ${SUBDIRS} subdirectories (Node ${report.node}; ${report.chezmoi}; ${report.git}); took ${(report.tookMs / 60_000).toFixed(1)} min`,
  )
  console.log(
    `  ${'files'.padStart(6)}  ${'size'.padStart(9)}  ${'add-path on A'.padStart(13)}  ${"B's sync bringing in the tree".padStart(29)}  its output: lines, longest line`,
  )
  for (const s of report.setUp) {
    console.log(
      `  ${String(s.files).padStart(6)}  ${`${(s.bytes / 1024).toFixed(0)} KiB`.padStart(9)}  ${fmt(s.addPathMs).padStart(13)}  ${fmt(s.receiveAll.wallMs).padStart(29)}  ${s.receiveAll.output.lines}, ${s.receiveAll.output.longestLine} characters`,
    )
  }

  console.log(`\nFirst sync of a joining machine: fleet enroll --forge (clone, key, roster, push, apply), medians; CPU: GNU time`)
  console.log(`  against chezmoi apply of the same source into an empty HOME, with the joined machine's chezmoi config`)
  console.log(
    `  ${'files'.padStart(6)}  ${'enroll'.padStart(8)} ${'(n)'.padEnd(4)} ${'cpu'.padStart(8)} ${'clone'.padStart(8)} ${'apply'.padStart(8)}  ${'chezmoi apply'.padStart(13)} ${'cpu'.padStart(8)}  ${'enroll/chezmoi'.padStart(14)} ${'cpu'.padStart(7)}  ${'apply/chezmoi'.padStart(13)}  longest output line`,
  )
  for (const f of report.firstSync) {
    const ratio = (r: number) => `${r.toFixed(2)}×`
    console.log(
      `  ${String(f.files).padStart(6)}  ${fmt(f.enroll.medianMs).padStart(8)} ${`(${f.enroll.runs})`.padEnd(4)} ${fmt(f.enrollCpuMs).padStart(8)} ${fmt(f.cloneStep.medianMs).padStart(8)} ${fmt(f.applyStep.medianMs).padStart(8)}  ${fmt(f.chezmoiApply.medianMs).padStart(13)} ${fmt(f.chezmoiApplyCpuMs).padStart(8)}  ${ratio(f.ratio).padStart(14)} ${ratio(f.cpuRatio).padStart(7)}  ${ratio(f.applyRatio).padStart(13)}  ${f.output.longestLine}`,
    )
  }

  const smallest = report.sizes[0]
  console.log(
    `\nOne file edited on A, synced; B's sync receiving it (medians of ${report.edit.runs}, ${report.edit.warmup} warm-up round; every size in each round; CPU: GNU time)`,
  )
  console.log(
    `  ${'files'.padStart(6)}  ${'A: fleet sync'.padStart(13)} ${'cpu'.padStart(8)} ${`×${smallest}`.padStart(6)}  ${'chezmoi status'.padStart(14)}  ${'B: fleet sync'.padStart(13)} ${'cpu'.padStart(8)} ${`×${smallest}`.padStart(6)}  chezmoi apply (nothing to do)`,
  )
  for (const e of report.edit.sizes) {
    console.log(
      `  ${String(e.files).padStart(6)}  ${fmt(e.aSync.medianMs).padStart(13)} ${fmt(e.aSyncCpuMs).padStart(8)} ${`${e.aRatio.toFixed(2)}×`.padStart(6)}  ${fmt(e.aStatus.medianMs).padStart(14)}  ${fmt(e.bSync.medianMs).padStart(13)} ${fmt(e.bSyncCpuMs).padStart(8)} ${`${e.bRatio.toFixed(2)}×`.padStart(6)}  ${fmt(e.bApply.medianMs)}`,
    )
  }

  console.log(`\nQuick path on A: nothing changed, forge unchanged (median of ${report.quick.runs} runs each, interleaved with node -e 0)`)
  printQuickPath(report.quick)

  console.log(`\nMemory of A's agents (fleet agents run), settled: VmRSS, median of ${report.memory[0]?.readings} readings 1 s apart (VmHWM); MB = 10^6 bytes`)
  console.log(`  ${'files'.padStart(6)}  ${'watcher'.padStart(14)}  ${'supervisor'.padStart(14)}  ${'both'.padStart(7)}  idle node`)
  for (const m of report.memory) {
    console.log(
      `  ${String(m.files).padStart(6)}  ${mb(m.watcher).padStart(14)}  ${mb(m.supervisor).padStart(14)}  ${`${(m.watcher.rssMb + m.supervisor.rssMb).toFixed(0)} MB`.padStart(7)}  ${mb(m.idleNode)}`,
    )
  }

  console.log('\nTargets')
  for (const t of report.targets)
    console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(40)} ${t.value.toFixed(2).padStart(7)} ${t.unit.padEnd(2)}  (target ${t.target})`)
}
