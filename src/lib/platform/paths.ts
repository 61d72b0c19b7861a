// Where things live, computed in one place. chezmoi and fleet follow the XDG base directories on every OS
// (as chezmoi itself does on macOS); only logs and service definitions differ per platform.
import {homedir, hostname, platform} from 'node:os'
import {isAbsolute, join} from 'node:path'

export type Platform = 'darwin' | 'linux'

/**
 * Where fleet, chezmoi and the service managers keep their files on this machine, all absolute paths, computed by
 * fleetPaths from the environment (HOME and the XDG base directories). Plugins keep their own state under
 * `stateDir` / `dataDir` in a folder named after the plugin.
 */
export interface FleetPaths {
  /** $HOME, which every managed path is relative to. */
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
  /** During a key rotation: the new identity (made before the swap) and the old one (kept after it until no file needs it). */
  identityNextFile: string
  identityOldFile: string
  recipientsFile: string
  /** fleet's data: the embedded default forge. */
  dataDir: string
  defaultForge: string
  /** fleet's state: last sync, locks, backups of files replaced on first apply. */
  stateDir: string
  backupsDir: string
  /** Which chezmoi binary (path, size, mtime) was last found new enough, so the check runs once per binary. */
  chezmoiCheckedFile: string
  /** fleet's record of the agents it installed here, and the last doctor run's summary (which heartbeats carry). */
  installedAgentsFile: string
  doctorSummaryFile: string
  logDir: string
  /** Where the service manager reads this user's agent definitions: launchd's and systemd's. */
  launchAgentsDir: string
  systemdUserDir: string
}

/** The platform this process runs on; every OS other than macOS is treated as Linux. */
export function currentPlatform(): Platform {
  return platform() === 'darwin' ? 'darwin' : 'linux'
}

function xdg(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name]
  // The XDG spec says relative values are invalid and must be ignored.
  return value && value.startsWith('/') ? value : fallback
}

/**
 * Where things live (FleetPaths), from `env` (HOME, else the account's home directory; XDG_CONFIG_HOME,
 * XDG_DATA_HOME and XDG_STATE_HOME when absolute, as the XDG spec says) for the platform `os`. Pure: creates nothing.
 */
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
    identityNextFile: join(configDir, 'identity.txt.next'),
    identityOldFile: join(configDir, 'identity.txt.old'),
    recipientsFile: join(configDir, 'recipients.txt'),
    dataDir,
    defaultForge: join(dataDir, 'forge.git'),
    stateDir,
    backupsDir: join(stateDir, 'backups'),
    chezmoiCheckedFile: join(stateDir, 'chezmoi-checked.json'),
    installedAgentsFile: join(stateDir, 'agents.json'),
    doctorSummaryFile: join(stateDir, 'doctor-summary.json'),
    logDir: os === 'darwin' ? join(home, 'Library', 'Logs', 'fleet') : join(stateDir, 'log'),
    launchAgentsDir: join(home, 'Library', 'LaunchAgents'),
    systemdUserDir: join(configHome, 'systemd', 'user'),
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

/**
 * The directory fleet's plugins are installed in and keep their data under: `FLEET_DATA_DIR` when set (absolute),
 * else `$XDG_DATA_HOME/fleet` (`~/.local/share/fleet`) — the one oclif's plugin manager uses.
 */
export function fleetDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.FLEET_DATA_DIR
  return fromEnv && isAbsolute(fromEnv) ? fromEnv : fleetPaths(env).dataDir
}
