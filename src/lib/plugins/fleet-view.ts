// What a plugin may read of this machine's fleet: who this machine is, the roster, and where things live.
import {join} from 'node:path'

import {openLocalFleet} from '../fleet/local.ts'
import type {Fleet, Machine} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {fleetDataDir, type FleetPaths} from '../platform/paths.ts'

export {fleetDataDir} from '../platform/paths.ts'

/** This machine's fleet as a plugin sees it (read-only: a snapshot of the manifest in this machine's source repo). */
export interface FleetView {
  /** This machine's name in the roster. */
  machine: string
  /** This machine's roster entry (undefined while the local manifest does not list it yet). */
  self: Machine | undefined
  /** Every machine of the roster, pending and revoked ones included. */
  roster: Machine[]
  /** The active machines other than this one: the peers a plugin may talk to (their `sshAddress`, when recorded). */
  peers: Machine[]
  /** The plugins enabled fleet-wide (the manifest's `plugins`: package names). */
  plugins: string[]
  /** The whole manifest, as this machine last synced it. */
  manifest: Fleet
  /** Where fleet and chezmoi keep their files here (absolute paths). */
  paths: FleetPaths
}

/**
 * This machine's fleet, from the manifest in its source repo as of its last sync (no network, no lock: a snapshot;
 * `fleet sync` brings it up to date). `env` says where HOME and the XDG directories are (this process's by default).
 * Throws a FleetError `NOT_ENROLLED` (exit 1, with the fix) on a machine that has not enrolled, and a FleetError
 * naming the file and line for a manifest that cannot be read.
 */
export async function readFleet(env: NodeJS.ProcessEnv = process.env): Promise<FleetView> {
  const local = await openLocalFleet(env)
  const manifest = await readManifest(local.paths.sourceDir)
  const active = manifest.machines.filter((m) => m.state === 'active')
  return {
    machine: local.machine,
    self: manifest.machines.find((m) => m.name === local.machine),
    roster: manifest.machines,
    peers: active.filter((m) => m.name !== local.machine),
    plugins: manifest.plugins,
    manifest,
    paths: local.paths,
  }
}

/**
 * Where a plugin keeps its data on this machine: `<fleetDataDir>/<short name>` (`@dotfleet/plugin-task-durations`
 * → `~/.local/share/fleet/task-durations`), an absolute path; `plugin` is its package name (or its short name). Its
 * agents get the same FLEET_DATA_DIR, so they find the same directory. Not created: the plugin makes it when it first
 * writes.
 */
export function pluginDataDir(plugin: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(fleetDataDir(env), pluginShortName(plugin))
}

/**
 * A plugin's short name, its checks' group, its data directory and the start of its check ids: its package name
 * without the scope and without `plugin-` (`@dotfleet/plugin-task-durations` → `task-durations`).
 */
export function pluginShortName(name: string): string {
  return name.replace(/^@[^/]+\//, '').replace(/^plugin-/, '')
}
