#!/usr/bin/env node
// fleet needs Node 22 or later. Where `node` on PATH is older and the package carries its own Node (the `node`
// npm package, as in a development checkout), run on that one instead.
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(bundled)) {
    process.stderr.write(
      `Error: fleet needs Node.js 22 or later; this is ${process.version}.\nFix: install a newer Node.js (brew install node, or https://nodejs.org).\n`,
    )
    process.exit(1)
  }
  const child = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {stdio: 'inherit'})
  process.exit(child.status ?? 1)
}

// fleet's resident processes, started as their definitions (or a person) start them, live for months: they run
// without oclif, its plugins and the compile cache, all of which would stay in their memory all that time
// (src/lib/runners/watcher-main.ts, runner-main.ts).
const [topic, command, ...rest] = process.argv.slice(2)
let exitCode
if (topic === 'agents' && command === 'watch' && rest.length === 0) {
  const {runWatcherAgent} = await import('../dist/lib/runners/watcher-main.js')
  exitCode = await runWatcherAgent()
} else if (topic === 'agents' && command === 'run') {
  const {agentIdsOf, runAgentsRunner} = await import('../dist/lib/runners/runner-main.js')
  const ids = agentIdsOf(rest)
  if (ids) exitCode = await runAgentsRunner(ids)
}
if (exitCode !== undefined) {
  process.exitCode = exitCode
} else {
  // Node's on-disk compile cache makes every start-up after the first cheaper.
  const {enableCompileCache} = await import('node:module')
  enableCompileCache?.()
  // Plugins import fleet's API as `@dotfleet/fleet`: that name is this fleet, whatever the plugin has installed.
  const {registerHostPackage} = await import('../dist/lib/plugins/host-package.js')
  registerHostPackage(new URL('../dist/index.js', import.meta.url).href)
  const {execute, settings} = await import('@oclif/core')
  // Plugins run from what they built (dist), linked ones too: never through a TypeScript loader, and no warning saying so.
  settings.enableAutoTranspile = false
  await execute({dir: import.meta.url})
}
