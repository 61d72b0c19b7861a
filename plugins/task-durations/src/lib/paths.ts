// Where the plugin keeps its files on this machine. Light: no DuckDB, so the hooks and commands may import it at once.
import {join} from 'node:path'

import {pluginDataDir} from '@dotfleet/fleet'

/** The plugin's package name: its data directory is named after it (`task-durations`). */
export const PLUGIN_PACKAGE = '@dotfleet/plugin-task-durations'

/** The plugin's files on this machine. */
export interface DurationsPaths {
  /** `~/.local/share/fleet/task-durations` (under FLEET_DATA_DIR when set). */
  dir: string
  /** This machine's own records, the file its peers copy. */
  localFile: string
  /** The lock that two `record`s at once take in turn. */
  localLock: string
  /** The peers' copies, one Hive partition each: `fleet/host=<peer>/local.parquet`. */
  fleetDir: string
}

/** The plugin's files on this machine, from fleet's data directory. */
export function durationsPaths(env: NodeJS.ProcessEnv = process.env): DurationsPaths {
  const dir = pluginDataDir(PLUGIN_PACKAGE, env)
  return {dir, localFile: join(dir, 'local.parquet'), localLock: join(dir, 'local.lock'), fleetDir: join(dir, 'fleet')}
}

/** A peer's copy in the fleet tree: `<fleetDir>/host=<peer>/local.parquet`. */
export function hostFile(paths: DurationsPaths, host: string): string {
  return join(paths.fleetDir, `host=${host}`, 'local.parquet')
}
