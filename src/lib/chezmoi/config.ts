// chezmoi's config file for this machine, written by fleet: age encryption with this machine's identity and
// the fleet's recipients, and the machine's name for templates. Keys a person added by hand are kept.
import {existsSync, readdirSync} from 'node:fs'
import {mkdir, readFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import {parse, stringify} from 'yaml'

import type {FleetPaths} from '../platform/paths.ts'

/** The data key that holds this machine's fleet name; its presence marks the config as fleet's. */
export const MACHINE_DATA_KEY = 'fleetMachine'

const HEADER = `# chezmoi's configuration for this machine, written by fleet (fleet enroll).
# fleet rewrites the keys it owns (encryption, age, data.${MACHINE_DATA_KEY}); other keys are kept.
`

type ConfigObject = Record<string, unknown>

async function readConfig(file: string): Promise<ConfigObject> {
  if (!existsSync(file)) return {}
  const parsed: unknown = parse(await readFile(file, 'utf8'))
  return parsed && typeof parsed === 'object' ? (parsed as ConfigObject) : {}
}

/** The machine name recorded in chezmoi's config, if fleet wrote it. */
export async function configuredMachine(paths: FleetPaths): Promise<string | undefined> {
  try {
    const config = await readConfig(paths.chezmoiConfigFile)
    const data = config.data as ConfigObject | undefined
    const name = data?.[MACHINE_DATA_KEY]
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}

/** chezmoi config files in another format than fleet's; chezmoi refuses to start when there are two. */
export function foreignConfigFiles(paths: FleetPaths): string[] {
  if (!existsSync(paths.chezmoiConfigDir)) return []
  const ours = basename(paths.chezmoiConfigFile)
  return readdirSync(paths.chezmoiConfigDir)
    .filter((name) => /^chezmoi\.(toml|json|jsonc|yaml|yml)$/.test(name) && name !== ours)
    .map((name) => join(paths.chezmoiConfigDir, name))
}

/**
 * chezmoi's age settings: the identity file, and during a key rotation the other key the machine holds (the new one
 * before the swap, the old one after it) in `identities`, so that chezmoi decrypts whatever either key opens. Only
 * files that exist are listed: chezmoi fails on a missing one.
 */
function ageSettings(paths: FleetPaths, age: ConfigObject, leaving: string[] = []): ConfigObject {
  const {identities: _identities, ...rest} = age
  const others = [paths.identityNextFile, paths.identityOldFile].filter((file) => existsSync(file) && !leaving.includes(file))
  return {...rest, identity: paths.identityFile, ...(others.length > 0 ? {identities: others} : {}), recipientsFile: paths.recipientsFile}
}

/**
 * Rewrite chezmoi's age settings for the key files this machine holds now (see ageSettings), less the ones `leaving`
 * (about to be removed: out of the list before they are gone); other keys are kept.
 */
export async function refreshChezmoiIdentities(paths: FleetPaths, leaving: string[] = []): Promise<void> {
  if (!existsSync(paths.chezmoiConfigFile)) return
  const text = await readFile(paths.chezmoiConfigFile, 'utf8')
  const config = (parse(text) as ConfigObject | null) ?? {}
  const age = ageSettings(paths, (config.age as ConfigObject | undefined) ?? {}, leaving)
  if (JSON.stringify(age) === JSON.stringify(config.age)) return
  await writeFileAtomic(paths.chezmoiConfigFile, HEADER + stringify({...config, age}), {mode: 0o600})
}

export async function writeChezmoiConfig(paths: FleetPaths, machine: string): Promise<void> {
  const config = await readConfig(paths.chezmoiConfigFile)
  const age = (config.age as ConfigObject | undefined) ?? {}
  const data = (config.data as ConfigObject | undefined) ?? {}
  const git = (config.git as ConfigObject | undefined) ?? {}
  const next: ConfigObject = {
    ...config,
    encryption: 'age',
    // chezmoi's built-in age reads hybrid post-quantum keys whatever age binary the machine has.
    useBuiltinAge: true,
    age: ageSettings(paths, age),
    data: {...data, [MACHINE_DATA_KEY]: machine},
    // fleet commits and pushes itself, once per sync.
    git: {...git, autoCommit: false, autoPush: false},
  }
  await mkdir(dirname(paths.chezmoiConfigFile), {recursive: true})
  await writeFileAtomic(paths.chezmoiConfigFile, HEADER + stringify(next), {mode: 0o600})
}

/** The capture config: chezmoi's config as it is now, with `add.secrets: ignore`. Rewritten only when it differs. */
export async function writeCaptureConfig(configFile: string, captureFile: string): Promise<void> {
  const config = await readConfig(configFile)
  const add = (config.add as ConfigObject | undefined) ?? {}
  const text = `# Derived by fleet from ${configFile} for its capture step (chezmoi re-add); do not edit.\n${stringify({...config, add: {...add, secrets: 'ignore'}})}`
  const current = existsSync(captureFile) ? await readFile(captureFile, 'utf8') : undefined
  if (current === text) return
  await mkdir(dirname(captureFile), {recursive: true, mode: 0o700})
  await writeFileAtomic(captureFile, text, {mode: 0o600})
}
