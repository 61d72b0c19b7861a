// Roster rules shared by enroll and the machines commands.
import {hostname} from 'node:os'

import {UsageError} from '../errors/index.ts'
import {activeMachines, findMachine} from '../manifest/lookup.ts'
import {type Fleet, type Machine, type MachineState} from '../manifest/schema.ts'
import {currentPlatform} from '../platform/paths.ts'

/** How a machine joins again after its name or key was revoked: a revocation is permanent. */
const JOIN_AFRESH = 'enroll under a new name (fleet enroll --name <new-name>), then have an active machine approve it (fleet machines approve <new-name>)'

/** The name is held by a machine with another key: refuse, and say what to do. */
export function nameTakenError(fleet: Fleet, name: string): UsageError {
  const holder = findMachine(fleet, name)!
  return new UsageError(
    `The name "${name}" is held by another machine in this fleet (hostname ${holder.hostname}, ${holder.state}, enrolled ${holder.enrolledAt}).`,
    `Enroll this machine under another name: ${JOIN_AFRESH}. If "${name}" was this machine before its key was lost, also revoke it from an active machine (fleet machines revoke ${name}) so the lost key reads nothing new; the name stays taken.`,
    'NAME_TAKEN',
  )
}

/**
 * Throws unless this machine may be on the roster as `name` with `recipient` (undefined: a key not made yet): a key
 * that was revoked never returns, under any name; a revoked name is never taken again; a name held by another key is
 * refused.
 */
export function checkEnrollable(fleet: Fleet, name: string, recipient: string | undefined, identityFile: string): void {
  const revokedKey = recipient === undefined ? undefined : fleet.machines.find((m) => m.state === 'revoked' && m.recipient === recipient)
  if (revokedKey) {
    throw new UsageError(
      `This machine's key was revoked from the fleet as "${revokedKey.name}"; a revoked key never returns.`,
      `Move this machine's identity file (${identityFile}) aside, then ${JOIN_AFRESH}.`,
      'KEY_REVOKED',
    )
  }
  const holder = findMachine(fleet, name)
  if (holder?.state === 'revoked') {
    throw new UsageError(
      `The name "${name}" belonged to a machine that was revoked (hostname ${holder.hostname}); a revoked name is never taken again.`,
      `To join this machine, ${JOIN_AFRESH}.`,
      'NAME_REVOKED',
    )
  }
  if (holder && holder.recipient !== recipient) throw nameTakenError(fleet, name)
}

/**
 * Make sure the roster holds this machine with this recipient (and, when given, this SSH public key and SSH address).
 * Returns the entry and whether the roster changed. A first machine (no active machine yet) starts active; any later
 * one starts pending. Refuses a revoked key or name, and a name held by another key (see checkEnrollable).
 */
export function ensureMachine(
  fleet: Fleet,
  name: string,
  recipient: string,
  identityFile: string,
  options: {sshPublicKey?: string; sshAddress?: string; now?: Date} = {},
): {machine: Machine; added: boolean; changed: boolean} {
  checkEnrollable(fleet, name, recipient, identityFile)
  const stamp = (options.now ?? new Date()).toISOString()
  // Only what was given: an SSH key or address left out keeps what the roster has.
  const ssh: Pick<Machine, 'sshPublicKey' | 'sshAddress'> = {
    ...(options.sshPublicKey === undefined ? {} : {sshPublicKey: options.sshPublicKey}),
    ...(options.sshAddress === undefined ? {} : {sshAddress: options.sshAddress}),
  }
  const existing = findMachine(fleet, name)
  if (existing) {
    if (Object.entries(ssh).every(([field, value]) => existing[field as keyof typeof ssh] === value)) return {machine: existing, added: false, changed: false}
    const machine: Machine = {...existing, ...ssh, updatedAt: stamp}
    fleet.machines = fleet.machines.map((m) => (m.name === name ? machine : m))
    return {machine, added: false, changed: true}
  }
  const state: MachineState = activeMachines(fleet).length > 0 ? 'pending' : 'active'
  const machine: Machine = {name, hostname: hostname(), os: currentPlatform(), recipient, ...ssh, state, enrolledAt: stamp, updatedAt: stamp}
  fleet.machines = [...fleet.machines, machine]
  return {machine, added: true, changed: true}
}
