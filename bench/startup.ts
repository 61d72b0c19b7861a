// Start-up cost: `fleet --version` and `fleet --help` beside `node -e 0`, same machine, same run.
import {FLEET_BIN, NODE} from '../test/support/cli.ts'
import {interleaved, timeProcess} from './support/process-time.ts'
import {fmt, median} from './support/stats.ts'

export interface StartupReport {
  runs: number
  medianMs: Record<string, number>
  ratio: Record<string, number>
}

export async function benchStartup(runs = 15): Promise<StartupReport> {
  const samples = await interleaved(
    {
      'node -e 0': () => timeNode(['-e', '0']),
      'fleet --version': () => timeNode([FLEET_BIN, '--version']),
      'fleet --help': () => timeNode([FLEET_BIN, '--help']),
    },
    runs,
  )
  const medianMs = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
  const base = medianMs['node -e 0']
  const ratio = Object.fromEntries(Object.entries(medianMs).map(([k, v]) => [k, v / base]))
  return {runs, medianMs, ratio}
}

function timeNode(args: string[]): Promise<number> {
  return timeProcess(NODE, args)
}

export function printStartup(report: StartupReport): void {
  console.log(`\nStart-up (median of ${report.runs} runs each, interleaved; Node ${process.version})`)
  for (const [name, ms] of Object.entries(report.medianMs)) {
    console.log(`  ${name.padEnd(18)} ${fmt(ms).padStart(8)}   ${report.ratio[name].toFixed(2)}× node -e 0`)
  }
}
