// Where things live, computed in one place. chezmoi and fleet follow the XDG base directories on every OS
// (as chezmoi itself does on macOS); only logs and service definitions differ per platform.
import {homedir, hostname, platform} from 'node:os'
import {join} from 'node:path'

export type Platform = 'darwin' | 'linux'

export interface FleetPaths {
  home: string
  /** chezmoi's config file, written by fleet in chezmoi's own usual place. */
  chezmoiConfigDir: string
  chezmoiConfigFile: string
  /** chezmoi's persistent state (what it last wrote), named explicitly so every invocation shares it. */
  chezmoiStateFile: string
  /** chezmoi's config for fleet's capture step: the same, with chezmoi's secret scan off (see Chezmoi.reAdd). */
  captureConfigFile: string
  /** chezmoi's source directory: a clone of the forge. */
  sourceDir: string
  /** fleet's own configuration: this machine's age identity and the derived recipients file. */
  configDir: string
  identityFile: string
  recipientsFile: string
  /** fleet's data: the embedded default forge. */
  dataDir: string
  defaultForge: string
  /** fleet's state: last sync, locks, backups of files replaced on first apply. */
  stateDir: string
  backupsDir: string
  logDir: string
}

export function currentPlatform(): Platform {
  return platform() === 'darwin' ? 'darwin' : 'linux'
}

function xdg(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name]
  // The XDG spec says relative values are invalid and must be ignored.
  return value && value.startsWith('/') ? value : fallback
}

export function fleetPaths(env: NodeJS.ProcessEnv = process.env, os: Platform = currentPlatform()): FleetPaths {
  const home = env.HOME || homedir()
  const configHome = xdg(env, 'XDG_CONFIG_HOME', join(home, '.config'))
  const dataHome = xdg(env, 'XDG_DATA_HOME', join(home, '.local', 'share'))
  const stateHome = xdg(env, 'XDG_STATE_HOME', join(home, '.local', 'state'))
  const configDir = join(configHome, 'fleet')
  const dataDir = join(dataHome, 'fleet')
  const stateDir = join(stateHome, 'fleet')
  return {
    home,
    chezmoiConfigDir: join(configHome, 'chezmoi'),
    chezmoiConfigFile: join(configHome, 'chezmoi', 'chezmoi.yaml'),
    chezmoiStateFile: join(configHome, 'chezmoi', 'chezmoistate.boltdb'),
    captureConfigFile: join(configHome, 'fleet', 'chezmoi-capture.yaml'),
    sourceDir: join(dataHome, 'chezmoi'),
    configDir,
    identityFile: join(configDir, 'identity.txt'),
    recipientsFile: join(configDir, 'recipients.txt'),
    dataDir,
    defaultForge: join(dataDir, 'forge.git'),
    stateDir,
    backupsDir: join(stateDir, 'backups'),
    logDir: os === 'darwin' ? join(home, 'Library', 'Logs', 'fleet') : join(stateDir, 'log'),
  }
}

/** A time stamp usable in a file or branch name (ISO 8601 in UTC, `:` and `.` as `-`): backups, files moved aside, parked branches. */
export function fileNameStamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-')
}

/** The short host name, the default machine name. */
export function shortHostname(): string {
  return hostname().split('.')[0].toLowerCase()
}

/** Path relative to $HOME, with forward slashes, as the manifest stores managed paths. */
export function homeRelative(paths: Pick<FleetPaths, 'home'>, absolute: string): string | undefined {
  return relativeWithin(paths.home, absolute)
}

/** Whether `path` is `dir` itself or lies inside it. Both relative or both absolute, `/`-separated, normalised. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`)
}

/** Whether `path` lies inside `dir` (not `dir` itself). Both relative or both absolute, `/`-separated. */
export function isInside(path: string, dir: string): boolean {
  return relativeWithin(dir, path) !== undefined
}

/** `path` relative to `dir` when it lies inside it (not `dir` itself), else undefined (also for no path). */
export function relativeWithin(dir: string, path: string | undefined): string | undefined {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  return path?.startsWith(prefix) ? path.slice(prefix.length) : undefined
}
