// A plugin imports fleet's API as `@dotfleet/fleet`. It must get the fleet that runs it, not a copy of its own: one
// set of classes (FleetError's `instanceof`, the base command), the version the person runs, and nothing for npm to
// download when the plugin is installed (plugins declare fleet as an optional peer dependency). So fleet resolves
// that one name itself, before oclif loads any plugin, the way editors hand their API module to extensions.
import {readFileSync} from 'node:fs'
import module from 'node:module'
import {join} from 'node:path'

import {fleetDataDir} from '../platform/paths.ts'

/** The name plugins import fleet's API by. */
export const HOST_PACKAGE = '@dotfleet/fleet'

/**
 * From now on in this process, `import … from '@dotfleet/fleet'` (from any file, a plugin's included) loads
 * `entryUrl` (a `file:` URL of fleet's public API module, dist/index.js). Other specifiers resolve as usual.
 * Uses `module.registerHooks` (synchronous, in-thread; Node 22.15 and later) and falls back to `module.register`.
 */
export function registerHostPackage(entryUrl: string): void {
  if (typeof module.registerHooks === 'function') {
    module.registerHooks({
      resolve: (specifier, context, nextResolve) => (specifier === HOST_PACKAGE ? {url: entryUrl, shortCircuit: true} : nextResolve(specifier, context)),
    })
    return
  }
  const loader = `export async function resolve(specifier, context, next) {
  return specifier === ${JSON.stringify(HOST_PACKAGE)} ? {url: ${JSON.stringify(entryUrl)}, shortCircuit: true} : next(specifier, context)
}`
  module.register(`data:text/javascript,${encodeURIComponent(loader)}`)
}

/**
 * Whether this machine has plugins installed or linked for fleet: oclif's plugin manager lists them in the
 * package.json of fleet's data directory (`FLEET_DATA_DIR`, else `$XDG_DATA_HOME/fleet`, `~/.local/share/fleet`).
 * With a resolve hook registered every import goes through it, which costs start-up time (about a fifth of a quick
 * `fleet sync`, measured): so only a machine with plugins registers it.
 */
export function hasUserPlugins(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(fleetDataDir(env), 'package.json'), 'utf8')) as {oclif?: {plugins?: unknown[]}; dependencies?: object}
    return (manifest.oclif?.plugins?.length ?? 0) > 0 || Object.keys(manifest.dependencies ?? {}).length > 0
  } catch {
    return false
  }
}
