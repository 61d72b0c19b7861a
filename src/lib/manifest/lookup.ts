// Look-ups in the manifest, one place for each question asked of it: which managed path holds a target, which
// machine has a name, which machines (and recipients) are active.
import {isWithin} from '../platform/paths.ts'
import type {Fleet, Machine, ManagedPath} from './schema.ts'

/** The managed path that holds `target` (relative to $HOME, `/`-separated): the path itself or one above it. */
export function managedPathOf(fleet: Fleet, target: string): ManagedPath | undefined {
  return fleet.paths.find((p) => isWithin(target, p.path))
}

/** Whether `target` lies in a managed path the fleet keeps encrypted. */
export function isEncryptedPath(fleet: Fleet, target: string): boolean {
  return managedPathOf(fleet, target)?.encrypt === true
}

/** The managed path given exactly as `path` (relative to $HOME), not one above it. */
export function managedPathNamed(fleet: Fleet, path: string): ManagedPath | undefined {
  return fleet.paths.find((p) => p.path === path)
}

/** The roster entry named `name`, whatever its state. */
export function findMachine(fleet: Fleet, name: string): Machine | undefined {
  return fleet.machines.find((m) => m.name === name)
}

/** Whether the machine named `name` is active (approved, not revoked). */
export function isActive(fleet: Fleet, name: string): boolean {
  return findMachine(fleet, name)?.state === 'active'
}

/** The active machines, in roster order: the ones every encrypted file is encrypted to. */
export function activeMachines(fleet: Fleet): Machine[] {
  return fleet.machines.filter((m) => m.state === 'active')
}

/** The age recipients (public keys) of the active machines, in roster order. */
export function activeRecipients(fleet: Fleet): string[] {
  return activeMachines(fleet).map((m) => m.recipient)
}
