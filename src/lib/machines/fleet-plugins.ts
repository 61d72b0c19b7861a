// The plugins enabled fleet-wide: the manifest's `plugins`, package names. Installing a plugin on one machine enables
// it; uninstalling it disables it; every other machine's doctor then says which it lacks.
import {FleetError} from '../errors/index.ts'
import {type LocalFleet, openLocalFleet} from '../fleet/local.ts'
import {pushGeneratedChange} from './machines.ts'
import {readManifest, writeManifest} from '../manifest/store.ts'

/**
 * What installing or removing plugins did to the fleet's manifest: the package names it added or removed (none when it
 * already said so) and the commits pushed; or, on a machine that is not enrolled, nothing (`enrolled: false`).
 */
export type FleetPluginsChange = {enrolled: true; changed: string[]; pushed: number; forgeError?: string} | {enrolled: false}

/**
 * Add `packages` to the manifest's `plugins` (enable) or take them out (disable): one manifest change, committed and
 * pushed the way every generated change is (after a sync, made again on the forge's manifest if another machine
 * pushed first). Nothing is committed when the manifest already says so.
 */
export async function setPluginsEnabled(local: LocalFleet, packages: string[], enabled: boolean): Promise<{changed: string[]; pushed: number}> {
  const verb = enabled ? 'enable' : 'disable'
  let changed: string[] = []
  const pushed = await pushGeneratedChange(local, `plugins ${verb}`, `plugins ${verb}`, async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    changed = packages.filter((name) => fleet.plugins.includes(name) !== enabled)
    if (changed.length === 0) return
    fleet.plugins = enabled ? [...fleet.plugins, ...changed] : fleet.plugins.filter((name) => !changed.includes(name))
    await writeManifest(local.paths.sourceDir, fleet)
    await local.repo.commitAll(`fleet: ${local.machine}: ${verb} plugin${changed.length === 1 ? '' : 's'} ${changed.join(', ')}`)
  })
  return {changed, pushed}
}

/**
 * After plugins were installed (`enabled`) or removed here: the same in the fleet's manifest, when this machine is
 * enrolled (else nothing: the plugins are this machine's alone). When the forge does not answer and the manifest as
 * this machine last synced it says so already, there is nothing to push: not an error (`forgeError` says why the
 * forge's was not seen). Any other failure says that the plugins themselves are installed or removed and the manifest
 * was not changed, and keeps the failure's exit code and fix.
 */
export async function recordFleetPlugins(packages: string[], enabled: boolean, env: NodeJS.ProcessEnv = process.env): Promise<FleetPluginsChange> {
  if (packages.length === 0) return {enrolled: true, changed: [], pushed: 0}
  const local = await enrolledFleet(env)
  if (!local) return {enrolled: false}
  try {
    return {enrolled: true, ...(await setPluginsEnabled(local, packages, enabled))}
  } catch (error) {
    if (!(error instanceof FleetError)) throw error
    const pending = await readManifest(local.paths.sourceDir).then(
      (fleet) => packages.filter((name) => fleet.plugins.includes(name) !== enabled),
      () => packages,
    )
    if (pending.length === 0 && error.code === 'FORGE_UNREACHABLE') return {enrolled: true, changed: [], pushed: 0, forgeError: error.message}
    const one = pending.length === 1
    const done = `${packages.join(', ')} ${packages.length === 1 ? 'is' : 'are'} ${enabled ? 'installed here' : 'removed here'}`
    const manifest = enabled ? `does not list ${one ? 'it' : pending.join(', ')} yet` : `still lists ${one ? 'it' : pending.join(', ')}`
    const again = 'run the same command again: it records the change in the manifest.'
    throw new FleetError(`${done}, but the fleet's manifest ${manifest} (nothing was committed): ${error.message}`, {
      exitCode: error.exitCode,
      code: error.code,
      // The failure's own fix may already say to run the command again: said once.
      fix: !error.fix ? `Then ${again}` : /again/i.test(error.fix) ? error.fix : `${error.fix} Then ${again}`,
      cause: error,
    })
  }
}

/** The plugins the fleet's manifest enables, as this machine last synced it (none on a machine that is not enrolled). */
export async function enabledPlugins(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const local = await enrolledFleet(env)
  return local ? (await readManifest(local.paths.sourceDir)).plugins : []
}

/** This machine's fleet, or undefined on a machine that is not enrolled. */
async function enrolledFleet(env: NodeJS.ProcessEnv): Promise<LocalFleet | undefined> {
  try {
    return await openLocalFleet(env)
  } catch (error) {
    if (error instanceof FleetError && error.code === 'NOT_ENROLLED') return undefined
    throw error
  }
}

/** What happened to the fleet's manifest, in a person's words. */
export function describeFleetPlugins(change: FleetPluginsChange, enabled: boolean): string[] {
  if (!change.enrolled) return [`This machine is not enrolled in a fleet: nothing ${enabled ? 'enables the plugin' : 'changes'} on other machines.`]
  if (change.changed.length === 0) {
    const asSynced = change.forgeError ? ` (as this machine last synced it: ${change.forgeError}); nothing to push` : ''
    return [enabled ? `The fleet's manifest lists it already${asSynced}.` : `The fleet's manifest did not list it${asSynced}.`]
  }
  const names = change.changed.join(', ')
  return enabled
    ? [`Enabled fleet-wide: the manifest lists ${names} now (pushed); on each other machine, \`fleet doctor\` says to install it.`]
    : [`Disabled fleet-wide: ${names} left the manifest (pushed); no machine's \`fleet doctor\` asks for it any more.`]
}
