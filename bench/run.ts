// `npm run bench`: every benchmark, each reporting medians and ratios against a baseline run in the same script.
// Select some with arguments: npm run bench -- startup
import {benchIdle, benchIdleSsh, benchPropagation, printIdle, printPropagation} from './agents.ts'
import {benchStartup, printStartup} from './startup.ts'
import {benchSync, printSync} from './sync.ts'

const selected = new Set(process.argv.slice(2))
const want = (name: string) => selected.size === 0 || selected.has(name)

const results: Record<string, unknown> = {}
if (want('startup')) {
  const report = await benchStartup()
  printStartup(report)
  results.startup = report
}
if (want('sync')) {
  const report = await benchSync()
  printSync(report)
  results.sync = report
}
if (want('propagation')) {
  const report = await benchPropagation()
  printPropagation(report)
  results.propagation = report
}
if (want('idle')) {
  const report = await benchIdle()
  printIdle(report)
  results.idle = report
}
if (want('idle-ssh')) {
  const report = await benchIdleSsh()
  printIdle(report)
  results['idle-ssh'] = report
}
if (process.env.BENCH_JSON) console.log(JSON.stringify(results, null, 2))
