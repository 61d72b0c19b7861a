// `npm run bench [-- startup|sync|propagation|propagation-ssh|idle|idle-ssh|doctor|plugins]`: all the benchmarks, or those named (BENCHMARKS.md).
import {benchDoctor, printDoctor} from './doctor.ts'
import {benchIdle, benchIdleSsh, printIdle} from './idle.ts'
import {benchPlugins, printPlugins} from './plugins.ts'
import {benchPropagation, benchPropagationSsh, printPropagation} from './propagation.ts'
import {benchStartup, printStartup} from './startup.ts'
import {benchSync, printSync} from './sync.ts'

const selected = new Set(process.argv.slice(2))
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
if (process.env.BENCH_JSON) console.log(JSON.stringify(results, null, 2))
