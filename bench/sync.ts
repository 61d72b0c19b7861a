// Sync cost: one edit among 50 and 500 managed files against the template's cycle; the quick path (BENCHMARKS.md).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {execa} from 'execa'

import {FORGE_REMOTE} from '../dist/lib/git/git.js'
import {DEFAULT_BRANCH} from '../dist/lib/manifest/schema.js'
import {Forge} from '../test/support/forge.ts'
import {Machine} from '../test/support/machine.ts'
import {printQuickPath, type QuickPath, quickPath, timeFleetSync} from './support/fleet-sync.ts'
import {interleaved} from './support/process-time.ts'
import {fmt, type Series, series, type Target} from './support/stats.ts'
import {shortVersion} from './support/tool-versions.ts'

const TREE = '.config/bench-tree'

export interface SyncBenchOptions {
  /** Numbers of managed files. */
  sizes?: number[]
  /** Timed samples of each side per size (after one warm-up each). */
  runs?: number
  /** Timed samples of the template cycle from this many files on (it runs one chezmoi per file). */
  templateRunsLarge?: number
  largeFrom?: number
  /** Timed samples of the quick path. */
  quickRuns?: number
}

export interface SyncCycle {
  files: number
  fleet: Series
  template: Series
  /** template / fleet, medians. */
  ratio: number
}

export interface SyncReport {
  node: string
  chezmoi: string
  git: string
  warmup: number
  cycle: SyncCycle[]
  /** fleet's median at the largest size over its median at the smallest. */
  scale: {from: number; to: number; ratio: number}
  quick: QuickPath
  targets: Array<Omit<Target, 'unit'>>
}

function fileName(i: number, n: number): string {
  return `f${String(i + 1).padStart(Math.max(3, String(n).length), '0')}.conf`
}

function content(i: number, edit?: number): string {
  const lines = [`# bench file ${i + 1}`, `name = "entry-${i + 1}"`, `colour = "blue"`, `width = ${80 + (i % 40)}`, `enabled = true`]
  if (edit !== undefined) lines.push(`edited = ${edit}`)
  return `${lines.join('\n')}\n`
}

/** A machine enrolled in a forge of its own, managing `files` files under ~/.config/bench-tree, synced once. */
async function setUp(root: string, name: string, files: number): Promise<{machine: Machine; forge: Forge; targets: string[]}> {
  const forge = await Forge.create(join(root, `${name}-forge`))
  const machine = new Machine(root, name)
  await machine.enroll(forge.url)
  const targets: string[] = []
  for (let i = 0; i < files; i++) {
    machine.write(`${TREE}/${fileName(i, files)}`, content(i))
    targets.push(machine.path(`${TREE}/${fileName(i, files)}`))
  }
  await machine.ok(['add-path', machine.path(TREE)], {timeout: 600_000})
  await machine.ok(['sync', '--reason', 'bench'], {timeout: 600_000})
  return {machine, forge, targets}
}

/** Change one managed file (a different one each call). */
function editor(machine: Machine, files: number): () => void {
  let edits = 0
  return () => {
    const i = edits % files
    machine.write(`${TREE}/${fileName(i, files)}`, content(i, ++edits))
  }
}

/**
 * The old template's watcher cycle, without its 2 s sleep: pull with rebase in the source dir, one `chezmoi add` per
 * managed file (each one reads the source state and scans for secrets, chezmoi's default), then add, commit, push.
 */
async function templateCycle(machine: Machine, targets: string[]): Promise<void> {
  const run = (file: string, args: string[]) => execa(file, args, {env: machine.env, extendEnv: false, cwd: machine.sourceDir, stdin: 'ignore'})
  await run('git', ['pull', '--rebase', '--quiet', FORGE_REMOTE, DEFAULT_BRANCH])
  for (const target of targets) await run('chezmoi', ['add', target])
  await run('git', ['add', '-A'])
  await run('git', ['commit', '--quiet', '-m', 'template: sync'])
  await run('git', ['push', '--quiet', FORGE_REMOTE, `HEAD:${DEFAULT_BRANCH}`])
}

async function timeTemplateCycle(machine: Machine, targets: string[]): Promise<number> {
  const before = (await machine.git(['rev-parse', 'HEAD'])).trim()
  const start = process.hrtime.bigint()
  await templateCycle(machine, targets)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const [after, files] = [(await machine.git(['rev-parse', 'HEAD'])).trim(), await machine.git(['diff', '--name-only', before, 'HEAD'])]
  if (after === before || files.split('\n').filter(Boolean).length !== 1)
    throw new Error(`the template cycle on ${machine.name} committed ${files || 'nothing'}`)
  return ms
}

export async function benchSync(options: SyncBenchOptions = {}): Promise<SyncReport> {
  const {sizes = [50, 500], runs = 5, templateRunsLarge = 3, largeFrom = 500, quickRuns = 15} = options
  const warmup = 1
  const root = mkdtempSync(join(tmpdir(), 'fleet-bench-sync-'))
  try {
    const cycle: SyncCycle[] = []
    const fleetMachines: Array<{files: number; machine: Machine}> = []
    for (const files of sizes) {
      const fleet = await setUp(root, `fleet-${files}`, files)
      const template = await setUp(root, `template-${files}`, files)
      const editFleet = editor(fleet.machine, files)
      const editTemplate = editor(template.machine, files)
      const commands = {
        fleet: () => (editFleet(), timeFleetSync(fleet.machine, 'ok')),
        template: () => (editTemplate(), timeTemplateCycle(template.machine, template.targets)),
      }
      // Interleaved (fleet, template, fleet, …); when the template runs fewer samples, fleet's rest follow alone.
      const templateRuns = files >= largeFrom ? Math.min(templateRunsLarge, runs) : runs
      const both = await interleaved(commands, templateRuns, warmup)
      const rest = runs > templateRuns ? await interleaved({fleet: commands.fleet}, runs - templateRuns, 0) : {fleet: []}
      const fleetSeries = series([...both.fleet, ...rest.fleet])
      const templateSeries = series(both.template)
      cycle.push({files, fleet: fleetSeries, template: templateSeries, ratio: templateSeries.medianMs / fleetSeries.medianMs})
      fleetMachines.push({files, machine: fleet.machine})
      rmSync(join(root, `template-${files}`), {recursive: true, force: true})
    }

    // Quick path: the last sync left every fleet machine settled; nothing changes here or in its forge now.
    const quick = await quickPath(Object.fromEntries(fleetMachines.map(({files, machine}) => [`fleet sync, ${files} files`, machine])), quickRuns)

    const first = cycle[0]
    const last = cycle[cycle.length - 1]
    const scale = {from: first.files, to: last.files, ratio: last.fleet.medianMs / first.fleet.medianMs}
    const slowestQuick = Math.max(
      ...Object.entries(quick.wallMs)
        .filter(([k]) => k !== 'node -e 0')
        .map(([, v]) => v),
    )
    const targets = [
      {name: `template/fleet at ${first.files} files`, target: '≥ 15×', value: first.ratio, met: first.ratio >= 15},
      {name: `fleet ${last.files} / fleet ${first.files} files`, target: '≤ 1.5×', value: scale.ratio, met: scale.ratio <= 1.5},
      {name: 'quick path wall (slowest size), s', target: '≤ 0.5 s', value: slowestQuick / 1000, met: slowestQuick <= 500},
    ]
    return {
      node: process.version,
      chezmoi: await shortVersion('chezmoi'),
      git: await shortVersion('git'),
      warmup,
      cycle,
      scale,
      quick,
      targets,
    }
  } finally {
    rmSync(root, {recursive: true, force: true})
  }
}

export function printSync(report: SyncReport): void {
  console.log(
    `\nSync cycle: one file edited, then synced (medians; ${report.warmup} warm-up each; fleet and template interleaved; Node ${report.node}; ${report.chezmoi}; ${report.git})`,
  )
  console.log(`  template = git pull --rebase; one chezmoi add per managed file; git add -A; git commit; git push (no 2 s sleep)`)
  console.log(`  ${'files'.padStart(5)}  ${'fleet sync'.padStart(10)} ${'(n)'.padEnd(5)} ${'template'.padStart(10)} ${'(n)'.padEnd(5)}  template/fleet`)
  for (const c of report.cycle) {
    console.log(
      `  ${String(c.files).padStart(5)}  ${fmt(c.fleet.medianMs).padStart(10)} ${`(${c.fleet.runs})`.padEnd(5)} ${fmt(c.template.medianMs).padStart(10)} ${`(${c.template.runs})`.padEnd(5)}  ${c.ratio.toFixed(1)}×`,
    )
  }
  const fewer = report.cycle.filter((c) => c.template.runs < c.fleet.runs)
  for (const c of fewer)
    console.log(
      `  (template at ${c.files} files: ${c.template.runs} sample${c.template.runs === 1 ? '' : 's'} only, ~${fmt(c.template.medianMs)} each; fleet's last ${c.fleet.runs - c.template.runs} ran alone)`,
    )
  console.log(`  fleet ${report.scale.to} / fleet ${report.scale.from}: ${report.scale.ratio.toFixed(2)}×`)

  console.log(`\nQuick path: nothing changed, forge unchanged (median of ${report.quick.runs} runs each, interleaved with node -e 0)`)
  printQuickPath(report.quick)

  console.log('\nTargets')
  for (const t of report.targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(36)} ${t.value.toFixed(2).padStart(7)}  (target ${t.target})`)
}
