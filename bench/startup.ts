// Start-up cost: `fleet --version` and `fleet --help` beside `node -e 0`, same machine, same run.
import {fileURLToPath} from 'node:url'

import {fmt, interleaved, median} from './lib.ts'

const FLEET = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const NODE = process.execPath

export interface StartupReport {
  runs: number
  medianMs: Record<string, number>
  ratio: Record<string, number>
}

export async function benchStartup(runs = 15): Promise<StartupReport> {
  const samples = await interleaved(
    {
      'node -e 0': () => timeNode(['-e', '0']),
      'fleet --version': () => timeNode([FLEET, '--version']),
      'fleet --help': () => timeNode([FLEET, '--help']),
    },
    runs,
  )
  const medianMs = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
  const base = medianMs['node -e 0']
  const ratio = Object.fromEntries(Object.entries(medianMs).map(([k, v]) => [k, v / base]))
  return {runs, medianMs, ratio}
}

async function timeNode(args: string[]): Promise<number> {
  const {timeProcess} = await import('./lib.ts')
  return timeProcess(NODE, args)
}

export function printStartup(report: StartupReport): void {
  console.log(`\nStart-up (median of ${report.runs} runs each, interleaved; Node ${process.version})`)
  for (const [name, ms] of Object.entries(report.medianMs)) {
    console.log(`  ${name.padEnd(18)} ${fmt(ms).padStart(8)}   ${report.ratio[name].toFixed(2)}× node -e 0`)
  }
}
