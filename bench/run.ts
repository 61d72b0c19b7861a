// `npm run bench [-- startup|sync|propagation|propagation-ssh|idle|idle-ssh|doctor|plugins|scale]`: all the benchmarks, or those named (BENCHMARKS.md).
import {benchDoctor, printDoctor} from './doctor.ts'
import {benchIdle, benchIdleSsh, printIdle} from './idle.ts'
import {benchPlugins, printPlugins} from './plugins.ts'
import {benchPropagation, benchPropagationSsh, printPropagation} from './propagation.ts'
import {benchScale, printScale} from './scale.ts'
import {benchStartup, printStartup} from './startup.ts'
import {benchSync, printSync} from './sync.ts'

const selected = new Set(process.argv.slice(2))
// BENCH_SCALE_SIZES=50,5000: the scale benchmark at those sizes only (its default: 50, 5,000 and 20,000).
const scaleSizes = process.env.BENCH_SCALE_SIZES?.split(',').map(Number)
if (scaleSizes?.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`BENCH_SCALE_SIZES must list numbers of files, e.g. 50,5000: ${process.env.BENCH_SCALE_SIZES}`)
const results: Record<string, unknown> = {}

/** Run and print one benchmark if it is selected (or none is), in this file's order. */
async function run<Report>(name: string, bench: () => Promise<Report>, print: (report: Report) => void): Promise<void> {
  if (selected.size > 0 && !selected.has(name)) return
  const report = await bench()
  print(report)
  results[name] = report
}

await run('startup', () => benchStartup(), printStartup)
await run('sync', () => benchSync(), printSync)
await run('propagation', () => benchPropagation(), printPropagation)
await run('propagation-ssh', () => benchPropagationSsh(), printPropagation)
await run('idle', () => benchIdle(), printIdle)
await run('idle-ssh', () => benchIdleSsh(), printIdle)
await run('doctor', () => benchDoctor(), printDoctor)
await run('plugins', () => benchPlugins(), printPlugins)
await run('scale', () => benchScale({sizes: scaleSizes}), printScale)
if (process.env.BENCH_JSON) console.log(JSON.stringify(results, null, 2))
