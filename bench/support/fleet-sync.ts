// `fleet sync` as the benchmarks time it: one process with --json, checked against what the sample is meant to do;
// and the quick path beside `node -e 0`.
import type {SyncResult} from '../../src/lib/sync/engine.ts'
import {FLEET_BIN, NODE} from '../../test/support/cli.ts'
import type {Machine} from '../../test/support/machine.ts'
import {interleaved, timeProcessCpu} from './process-time.ts'
import {fmt, median} from './stats.ts'

/**
 * What a timed sync must have done: 'ok', captured one edited file and pushed one commit; 'quick', stopped at the
 * quick path; `{applied}`, captured nothing and applied that target (relative to $HOME) that another machine changed.
 */
export type SyncExpectation = 'ok' | 'quick' | {applied: string}

function didAsExpected(result: SyncResult, expect: SyncExpectation): boolean {
  if (expect === 'quick') return result.outcome === 'quick'
  if (expect === 'ok') return result.outcome === 'ok' && result.captured.length === 1 && result.pushed === 1
  return result.outcome === 'ok' && result.captured.length === 0 && result.applied.includes(expect.applied)
}

/** One `fleet sync --json` on `machine`, checked against `expect`. Returns wall ms; its CPU ms go to `cpu`. */
export async function timeFleetSync(machine: Machine, expect: SyncExpectation, cpu?: number[]): Promise<number> {
  const times = await timeProcessCpu(NODE, [FLEET_BIN, 'sync', '--reason', 'bench', '--json'], {env: machine.env, extendEnv: false, cwd: machine.home})
  const result = JSON.parse(times.stdout) as SyncResult
  if (!didAsExpected(result, expect))
    throw new Error(`fleet sync on ${machine.name} did not do what the benchmark expects (${JSON.stringify(expect)}): ${times.stdout}`)
  cpu?.push(times.cpuMs)
  return times.wallMs
}

export interface QuickPath {
  runs: number
  cpuMethod: string
  wallMs: Record<string, number>
  cpuMs: Record<string, number>
  /** Each command's median over `node -e 0`'s. */
  wallRatio: Record<string, number>
  cpuRatio: Record<string, number>
}

const BASELINE = 'node -e 0'

/**
 * The quick path: `fleet sync` on each of `machines` (by the name the report gives it), which must have nothing to
 * do (nothing changed there, the forge unchanged), interleaved with `node -e 0`; medians of `runs` after two warm-up
 * rounds, wall and CPU (GNU time).
 */
export async function quickPath(machines: Record<string, Machine>, runs: number): Promise<QuickPath> {
  const cpu: Record<string, number[]> = {[BASELINE]: []}
  const commands: Record<string, () => Promise<number>> = {
    [BASELINE]: async () => {
      const times = await timeProcessCpu(NODE, ['-e', '0'])
      cpu[BASELINE].push(times.cpuMs)
      return times.wallMs
    },
  }
  for (const [name, machine] of Object.entries(machines)) {
    cpu[name] = []
    commands[name] = () => timeFleetSync(machine, 'quick', cpu[name])
  }
  const warmup = 2
  const wall = await interleaved(commands, runs, warmup)
  const wallMs = Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, median(v)]))
  const cpuMs = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v.slice(warmup))]))
  const ratios = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v / m[BASELINE]]))
  return {
    runs,
    cpuMethod: 'GNU /usr/bin/time --format "%U %S" (user+sys of the child and the children it waited for, 10 ms resolution)',
    wallMs,
    cpuMs,
    wallRatio: ratios(wallMs),
    cpuRatio: ratios(cpuMs),
  }
}

/** The quick path's table: wall and CPU medians of each command and their ratios to `node -e 0`'s. */
export function printQuickPath(quick: QuickPath): void {
  const width = Math.max(22, ...Object.keys(quick.wallMs).map((name) => name.length))
  console.log(`  CPU = ${quick.cpuMethod}; node -e 0 is only 1–2 ticks of it, so the CPU ratio is coarse`)
  console.log(`  ${''.padEnd(width)} ${'wall'.padStart(8)} ${'×node'.padStart(7)} ${'cpu'.padStart(8)} ${'×node'.padStart(7)}`)
  for (const name of Object.keys(quick.wallMs)) {
    console.log(
      `  ${name.padEnd(width)} ${fmt(quick.wallMs[name]).padStart(8)} ${quick.wallRatio[name].toFixed(1).padStart(6)}× ${fmt(quick.cpuMs[name]).padStart(8)} ${quick.cpuRatio[name].toFixed(1).padStart(6)}×`,
    )
  }
}
