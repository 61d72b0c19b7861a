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

// The agents that live for months, and the watcher's steps, run without oclif (src/lib/runners/without-oclif.ts).
const {withoutOclif} = await import('../dist/lib/runners/without-oclif.js')
const lean = withoutOclif(process.argv.slice(2))
// Node's on-disk compile cache makes every start-up after the first cheaper (it would stay in a resident's memory).
if (lean?.compileCache !== false) {
  const {enableCompileCache} = await import('node:module')
  enableCompileCache?.()
}
if (lean) {
  process.exitCode = await lean.run()
} else {
  // The puller's turn ends here, before the CLI loads, when a sync ran since its last one (src/lib/runners/puller-gate.ts).
  if (process.argv[2] === 'sync') {
    const {pullerTurnSkipped} = await import('../dist/lib/runners/puller-gate.js')
    if (pullerTurnSkipped(process.argv.slice(2))) process.exit(0)
  }
  // Plugins import fleet's API as `@dotfleet/fleet`: that name is this fleet, whatever the plugin has installed.
  const {hasUserPlugins, registerHostPackage} = await import('../dist/lib/plugins/host-package.js')
  if (hasUserPlugins()) registerHostPackage(new URL('../dist/index.js', import.meta.url).href)
  const {execute, settings} = await import('@oclif/core')
  // Plugins run from what they built (dist), linked ones too: never through a TypeScript loader, and no warning saying so.
  settings.enableAutoTranspile = false
  await execute({dir: import.meta.url})
}
