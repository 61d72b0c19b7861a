// Installing a plugin by its short name: `hello` means fleet's own `@dotfleet/plugin-hello` and nothing else. oclif's
// plugin manager, asked for a short name whose scoped package is missing, installs the unscoped package of that name,
// which anyone may have published; fleet asks the registry itself first and refuses that fallback unless told.
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import type {Config, Interfaces} from '@oclif/core'

import {FleetError, UsageError} from '../errors/index.ts'
import {run} from '../process/run.ts'

/** The package of oclif's plugin manager, whose commands fleet's own `plugins install|uninstall` run. */
export const PLUGIN_MANAGER_PACKAGE = '@oclif/plugin-plugins'

/** What fleet uses of @oclif/plugin-plugins' `Plugins` class (its plugin manager; the package does not export it). */
export interface PluginManager {
  /** `@dotfleet/plugin-<name>` for a short name (the root package's oclif `scope`); undefined for a name with an `@`. */
  unfriendlyName(name: string): string | undefined
  /** The installed or linked plugin a name (short, scoped or a link's path) stands for, or false. */
  hasPlugin(name: string): Promise<false | {name: string; type: string}>
  /** npm as the plugin manager runs it (its own npm, `--registry` from FLEET_NPM_REGISTRY when set). */
  npm: {
    exec(args: string[], options: {cwd: string; logLevel: string}): Promise<{stdout: string[]; stderr: string[]}>
    /** Its npm: the npm-cli.js of the npm it depends on, else `npm` on PATH. */
    findNpm(): Promise<string>
  }
}

/** The plugin manager among the plugins fleet loaded (it is one of fleet's own dependencies). */
function managerPlugin(config: Config): Interfaces.Plugin {
  const core = config.plugins.get(PLUGIN_MANAGER_PACKAGE)
  if (core) return core
  throw new FleetError(`fleet's plugin manager (${PLUGIN_MANAGER_PACKAGE}) is missing from this installation.`, {
    code: 'NO_PLUGIN_MANAGER',
    fix: 'Install fleet again (npm install --global @dotfleet/fleet).',
  })
}

/** The plugin manager fleet runs, with npm kept quiet (its answers are read, not shown). */
export async function pluginManager(config: Config): Promise<PluginManager> {
  const core = managerPlugin(config)
  const {default: Plugins} = (await import(pathToFileURL(join(core.root, 'lib', 'plugins.js')).href)) as {
    default: new (options: {config: Config; logLevel: string}) => PluginManager
  }
  return new Plugins({config, logLevel: 'silent'})
}

/** One name given to `fleet plugins install`, and the package it stands for. */
export interface PluginRequest {
  /** As typed: `hello`, `hello@1.2.0`, `@someone/plugin-x`, a git URL. */
  given: string
  /** The npm package to install (undefined for a URL or a GitHub slug, which the plugin manager resolves itself). */
  package?: string
  /** What to hand the plugin manager's install: the package with its tag, or the name as given. */
  argument: string
}

/** `hello@beta` → `['hello', 'beta']`; an `@` that starts the name is the scope's, not a tag's (as the plugin manager reads it). */
function splitTag(given: string): [string, string | undefined] {
  const [name, tag] = given.split(/(?<!^)@/)
  return [name, tag]
}

/** A short name: neither scoped (`@…`) nor a path, URL or GitHub slug. */
function isShortName(name: string): boolean {
  return !name.startsWith('@') && !name.includes('/') && !name.includes(':') && !name.endsWith('.git')
}

/** How a short name whose scoped package is missing may still be installed as the unscoped package. */
export interface UnscopedPolicy {
  /** `--allow-unscoped`: install it without asking. */
  allowUnscoped: boolean
  /** In a terminal: ask (true: install it); absent: refuse. */
  ask?: (question: string) => Promise<boolean>
}

/**
 * What each name given to `fleet plugins install` stands for, every name decided before anything is installed. A
 * short name is `@dotfleet/plugin-<name>` when the registry has that package (asked the way the plugin manager asks:
 * `npm view` with its registry); when it has not, the unscoped `<name>` only under `policy`, else a UsageError (exit
 * 2) naming both names, the registry asked, and the fix. A package (or both names) the registry does not have is a
 * UsageError too; a version or tag it does not have, or a registry that does not answer, is a FleetError (exit 1).
 */
export async function resolvePluginRequests(manager: PluginManager, config: Config, given: string[], policy: UnscopedPolicy): Promise<PluginRequest[]> {
  const requests: PluginRequest[] = []
  for (const input of given) {
    const [name, tag] = splitTag(input)
    const scoped = isShortName(name) ? manager.unfriendlyName(name) : undefined
    if (scoped === undefined) {
      const isPackage = name.startsWith('@') ? name.includes('/') : !name.includes('/') && !name.includes(':')
      if (isPackage) await mustHave(manager, config, name, tag)
      requests.push({given: input, package: isPackage ? name : undefined, argument: input})
      continue
    }
    const scopedFound = await registryLookup(manager, config, scoped, tag)
    if (scopedFound !== 'no-package') {
      if (scopedFound === 'no-version') throw await noSuchVersion(manager, config, scoped, tag!, name)
      requests.push({given: input, package: scoped, argument: tag ? `${scoped}@${tag}` : scoped})
      continue
    }
    const registry = await registryFor(manager, config, scoped)
    const unscopedFound = await registryLookup(manager, config, name, tag)
    if (unscopedFound === 'no-package') {
      throw new UsageError(
        `There is no plugin ${name}: ${registry} has neither ${scoped} (fleet's own) nor a package "${name}".`,
        "Check the plugin's name and the registry (FLEET_NPM_REGISTRY, npm_config_registry or an .npmrc).",
        'NO_SUCH_PLUGIN',
      )
    }
    const question = `There is no ${scoped} in ${registry}. Install the unscoped package "${name}" instead? Anyone may have published a package of that name.`
    if (policy.allowUnscoped || (await policy.ask?.(question))) {
      if (unscopedFound === 'no-version') throw await noSuchVersion(manager, config, name, tag!, `${name} --allow-unscoped`)
      requests.push({given: input, package: name, argument: input})
      continue
    }
    throw new UsageError(
      `fleet looked for the plugin ${scoped} in ${registry} and found no such package; it does not install the unscoped package "${name}" in its place without being told (anyone may have published a package of that name).`,
      `Check the plugin's name and the registry (FLEET_NPM_REGISTRY, npm_config_registry or an .npmrc). If you do mean the unscoped package "${name}", run: fleet plugins install ${input} --allow-unscoped`,
      'NO_SUCH_PLUGIN',
    )
  }
  return requests
}

/** The package `name` (at `tag`) is in the registry: else a UsageError (no such package, exit 2) or a FleetError (no such version, exit 1). */
async function mustHave(manager: PluginManager, config: Config, name: string, tag: string | undefined): Promise<void> {
  const found = await registryLookup(manager, config, name, tag)
  if (found === 'no-version') throw await noSuchVersion(manager, config, name, tag!, name)
  if (found === 'no-package') {
    throw new UsageError(
      `There is no package ${name} in ${await registryFor(manager, config, name)}.`,
      "Check the plugin's name and the registry (FLEET_NPM_REGISTRY, npm_config_registry or an .npmrc; a scope's own registry is an `@scope:registry` line).",
      'NO_SUCH_PLUGIN',
    )
  }
}

/** The registry has `name` but no version or dist-tag `tag`: what it has, and how to install the latest (`latest`: the argument that does). */
async function noSuchVersion(manager: PluginManager, config: Config, name: string, tag: string, latest: string): Promise<FleetError> {
  const registry = await registryFor(manager, config, name)
  return new FleetError(`${registry} has ${name}, but no version or tag "${tag}" of it.`, {
    code: 'NO_SUCH_VERSION',
    fix: `See its versions and tags: npm view ${name} versions dist-tags --registry ${registry}. Or install the latest: fleet plugins install ${latest}`,
  })
}

/** npm's settings for one look-up: a registry that does not answer is said within seconds, not after npm's minutes of retries. */
const LOOKUP_SETTINGS = ['--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-retry-maxtimeout=2000', '--fetch-timeout=20000']

/**
 * Whether the registry has the package `name` (at `tag`, when given): `npm view` as the plugin manager runs it (its
 * npm, its registry, in its directory, whose .npmrc npm reads too), told apart from a registry that did not answer or
 * refused (a FleetError, REGISTRY_UNREACHABLE, exit 1, naming the registry and npm's reason) — the plugin manager
 * takes every failure for a missing package.
 */
async function registryLookup(manager: PluginManager, config: Config, name: string, tag?: string): Promise<'found' | 'no-package' | 'no-version'> {
  await mkdir(config.dataDir, {recursive: true})
  const npm = await manager.npm.findNpm()
  const spec = tag ? `${name}@${tag}` : name
  const args = ['view', spec, 'name', '--json', '--loglevel=silent', ...LOOKUP_SETTINGS, ...(config.npmRegistry ? [`--registry=${config.npmRegistry}`] : [])]
  const viewed = await run(npm.endsWith('.js') ? process.execPath : npm, npm.endsWith('.js') ? [npm, ...args] : args, {
    cwd: config.dataDir,
    allowFailure: true,
    timeout: 60_000,
  })
  // npm view of a version that no release matches prints nothing, or says "No match found for version …".
  if (viewed.exitCode === 0) return viewed.stdout.trim() === '' ? 'no-version' : 'found'
  let error: {code?: string; summary?: string} | undefined
  try {
    error = (JSON.parse(viewed.stdout) as {error?: {code?: string; summary?: string}}).error
  } catch {
    // Not npm's JSON: said below as it is.
  }
  if (error?.code === 'E404') return /no match found/i.test(error.summary ?? '') ? 'no-version' : 'no-package'
  throw new FleetError(
    `fleet could not ask the npm registry ${await registryFor(manager, config, name)} whether it has ${name}: ${error?.summary ?? (viewed.stderr.trim() || `npm exited ${viewed.exitCode}`)}`,
    {
      code: 'REGISTRY_UNREACHABLE',
      fix: 'Check the network and the registry (FLEET_NPM_REGISTRY, npm_config_registry or an .npmrc; a private one may need a login: npm login --registry <url>), then run the command again.',
    },
  )
}

/**
 * The registry npm asks for `packageName`, as the plugin manager runs npm: the package's scope's own registry when npm's
 * configuration names one (`@dotfleet:registry`, which wins over `--registry`), else FLEET_NPM_REGISTRY, else npm's
 * `registry` (npm_config_registry, an .npmrc, npm's default).
 */
export async function registryFor(manager: PluginManager, config: Config, packageName: string): Promise<string> {
  const setting = async (key: string) => {
    try {
      const value = (await manager.npm.exec(['config', 'get', key], {cwd: config.dataDir, logLevel: 'silent'})).stdout.join('').trim()
      return value === '' || value === 'undefined' ? undefined : value
    } catch {
      return undefined
    }
  }
  const scope = /^(@[^/]+)\//.exec(packageName)?.[1]
  return (scope ? await setting(`${scope}:registry`) : undefined) ?? config.npmRegistry ?? (await setting('registry')) ?? "npm's registry"
}

/** This machine's plugins as the plugin manager keeps them: installed by a person (`user`) or linked (`link`), by package name. */
export function installedPlugins(config: Config): string[] {
  return [...config.plugins.values()].filter((plugin) => plugin.type === 'user' || plugin.type === 'link').map((plugin) => plugin.name)
}

/**
 * Run the plugin manager's own command `id` (`plugins`, `plugins:install`, `plugins:uninstall`, `plugins:reset`) with `argv`, on this process's
 * config: it installs or removes, updates `config.plugins`, and fires the plugins:postinstall or postuninstall hooks.
 */
export async function runPluginManager(
  config: Config,
  id: 'plugins' | 'plugins:install' | 'plugins:uninstall' | 'plugins:reset',
  argv: string[],
): Promise<void> {
  const Command = (await managerPlugin(config).findCommand(id, {must: true})) as unknown as new (argv: string[], config: Config) => {_run(): Promise<unknown>}
  // What the command's static run() does, but on this config: run() would load a second one, so that the plugins it
  // installs or removes would not be this process's (nor those its hooks are given).
  await new Command(argv, config)._run()
}

/**
 * The packages a run of the plugin manager's install put in place: each one asked for by name, and any other plugin
 * that was not loaded before (`before`: the plugins' names then), as for a git URL.
 */
export function installedPackages(config: Config, requests: PluginRequest[], before: Set<string>): Array<{name: string; version: string}> {
  const named = requests.map((request) => request.package).filter((name): name is string => name !== undefined)
  const added = [...config.plugins.keys()].filter((name) => !before.has(name))
  return [...new Set([...named, ...added])].flatMap((name) => {
    const plugin = config.plugins.get(name)
    return plugin ? [{name, version: plugin.version}] : []
  })
}

/** What `fleet plugins uninstall` removes: installed plugins (by the plugin manager), and names only the manifest lists. */
export interface UninstallPlan {
  /** Installed or linked here: each name as given, and its package. */
  installed: Array<{given: string; package: string}>
  /** Not installed here but enabled fleet-wide: taken out of the manifest alone. */
  manifestOnly: string[]
}

/**
 * Which plugin each name given to `fleet plugins uninstall` stands for (a short name, a package name, with or without a
 * tag, or a linked plugin's path): installed here, or only listed by the fleet's manifest (`enabled`). A name that is
 * neither is a UsageError (exit 2), before anything is removed.
 */
export async function planUninstall(manager: PluginManager, given: string[], enabled: string[]): Promise<UninstallPlan> {
  const plan: UninstallPlan = {installed: [], manifestOnly: []}
  for (const input of given) {
    const [name] = splitTag(input)
    const installed = await manager.hasPlugin(name)
    if (installed) {
      plan.installed.push({given: input, package: installed.name})
      continue
    }
    const listed = [name, manager.unfriendlyName(name)].find((candidate) => candidate !== undefined && enabled.includes(candidate))
    if (listed) plan.manifestOnly.push(listed)
    else
      throw new UsageError(
        `${name} is not installed here, and the fleet's manifest does not list it.`,
        'See the plugins installed here: fleet plugins',
        'NO_SUCH_PLUGIN',
      )
  }
  return plan
}
