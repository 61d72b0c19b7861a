// Roster rules shared by enroll and the machines commands.
import {hostname} from 'node:os'

import {UsageError} from '../errors/index.ts'
import {activeMachines, findMachine} from '../manifest/lookup.ts'
import {type Fleet, type Machine, type MachineState} from '../manifest/schema.ts'
import {currentPlatform} from '../platform/paths.ts'

/** The name is held by a machine with another key: refuse, and say what to do. */
export function nameTakenError(fleet: Fleet, name: string): UsageError {
  const holder = findMachine(fleet, name)!
  return new UsageError(
    `The name "${name}" is held by another machine in this fleet (hostname ${holder.hostname}, ${holder.state}, enrolled ${holder.enrolledAt}).`,
    `Enroll this machine under another name (fleet enroll --name <other-name>). If "${name}" was this machine before its key was lost, an active machine can free the name with \`fleet machines revoke ${name}\`, then run enroll again.`,
    'NAME_TAKEN',
  )
}

/**
 * Make sure the roster holds this machine with this recipient. Returns the entry and whether it was added.
 * A first machine (no active machine yet) starts active; any later one starts pending.
 */
export function ensureMachine(fleet: Fleet, name: string, recipient: string, identityFile: string, now = new Date()): {machine: Machine; added: boolean} {
  const existing = findMachine(fleet, name)
  if (existing && existing.state !== 'revoked') {
    if (existing.recipient !== recipient) throw nameTakenError(fleet, name)
    return {machine: existing, added: false}
  }
  if (existing && existing.recipient === recipient) {
    throw new UsageError(
      `This machine's key was revoked from the fleet as "${name}".`,
      `A revoked key never returns: move this machine's identity file (${identityFile}) aside, then run \`fleet enroll\` again to join with a new key.`,
      'KEY_REVOKED',
    )
  }
  const state: MachineState = activeMachines(fleet).length > 0 ? 'pending' : 'active'
  const stamp = now.toISOString()
  const machine: Machine = {name, hostname: hostname(), os: currentPlatform(), recipient, state, enrolledAt: stamp, updatedAt: stamp}
  // A revoked name may be reused by a new key: the new machine replaces the old entry and starts pending.
  fleet.machines = [...fleet.machines.filter((m) => m.name !== name), machine]
  return {machine, added: true}
}
