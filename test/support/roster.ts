// Manifests made in memory for unit tests of the roster and its merge.
import {type Fleet, type Machine, type ManagedPath, settingsSchema} from '../../src/lib/manifest/schema.ts'

/** A roster entry with a made-up recipient (`age1<name>`), enrolled and last changed at the times given. */
export function machineEntry(name: string, state: Machine['state'], updatedAt = '2026-01-01T00:00:00.000Z'): Machine {
  return {name, hostname: name, os: 'linux', recipient: `age1${name}`, state, enrolledAt: '2026-01-01T00:00:00.000Z', updatedAt}
}

/** A fleet with these machines and paths, and default settings. */
export function fleetOf(machines: Machine[], paths: ManagedPath[] = []): Fleet {
  return {version: 1, id: 'fleet-1234', createdAt: '2026-01-01T00:00:00.000Z', settings: settingsSchema.parse({}), paths, machines, plugins: []}
}
