// The roster: listing it as the forge has it, and approving or revoking a machine (both re-encrypt every
// encrypted file in the source repo for the new set of active machines).
import {errorMessage, FleetError, UsageError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {pushToForge} from '../sync/push.ts'
import {syncBeforeChange} from '../sync/engine.ts'
import {checkSourceForPush} from '../sync/source-check.ts'
import {activeMachines, activeRecipients, findMachine} from '../manifest/lookup.ts'
import {type Reencryption, reencryptSource, type ReencryptFailure} from '../keys/crypto.ts'
import {filesNotFor} from '../keys/record.ts'
import {reencryptionKeys} from '../keys/key-files.ts'
import {writeRecipientsFile} from '../keys/recipients.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import type {Fleet, Machine, MachineState} from '../manifest/schema.ts'
import {MANIFEST_RELATIVE_PATH, parseManifest, readManifest, writeManifest} from '../manifest/store.ts'
import {upstreamRef} from '../git/git.ts'
import {parseSshAddress} from '../fleet/ssh-address.ts'

export interface RosterView {
  /** Where the roster was read: the forge (just fetched), or this machine's copy when the forge did not answer. */
  source: 'forge' | 'local'
  forgeError?: string
  fleetId: string
  thisMachine: string
  machines: Machine[]
}

export async function listMachines(local: LocalFleet): Promise<RosterView> {
  const localFleet = await readManifest(local.paths.sourceDir)
  const branch = localFleet.settings.branch
  try {
    await local.repo.fetch()
    const text = await local.repo.show(upstreamRef(branch), MANIFEST_RELATIVE_PATH)
    if (text !== undefined) {
      const fleet = parseManifest(text, `the forge's ${MANIFEST_RELATIVE_PATH}`)
      return {source: 'forge', fleetId: fleet.id, thisMachine: local.machine, machines: fleet.machines}
    }
  } catch (error) {
    if (error instanceof FleetError && error.code === 'FORGE_UNREACHABLE') {
      return {source: 'local', forgeError: errorMessage(error), fleetId: localFleet.id, thisMachine: local.machine, machines: localFleet.machines}
    }
    throw error
  }
  return {source: 'local', forgeError: 'the forge has no manifest yet', fleetId: localFleet.id, thisMachine: local.machine, machines: localFleet.machines}
}

export interface RosterChange {
  machine: string
  state: MachineState
  /** False when the machine already had that state. */
  changed: boolean
  reencrypted: string[]
  /** Encrypted files this machine could not open (not for its keys, or damaged): left as they were, each with its fix. */
  unreadable: ReencryptFailure[]
  recipients: number
  pushed: number
}

function requireActive(fleet: Fleet, self: string, verb: string): void {
  const me = findMachine(fleet, self)
  if (me?.state !== 'active') {
    throw new UsageError(
      `Only an active machine can ${verb} machines; this machine (${self}) is ${me?.state ?? 'not on the roster'}.`,
      'Run the command on a machine that `fleet machines list` shows as active.',
      'NOT_ACTIVE',
    )
  }
}

function requireMachine(fleet: Fleet, name: string): Machine {
  const machine = findMachine(fleet, name)
  if (!machine) {
    throw new UsageError(
      `There is no machine named "${name}" in this fleet.`,
      `Known machines: ${fleet.machines.map((m) => m.name).join(', ')}. See \`fleet machines list\`.`,
      'NO_SUCH_MACHINE',
    )
  }
  return machine
}

/** The command that makes a machine's state: `fleet machines approve` or `revoke`. */
const ROSTER_VERB = {active: 'approve', revoked: 'revoke'} as const

/**
 * Set a machine's state and re-encrypt for the active machines that result, verify, commit and push. The change
 * is derived from the manifest as the forge has it, so it is simply made again if another machine pushed first.
 */
export async function changeMachineState(local: LocalFleet, name: string, state: 'active' | 'revoked'): Promise<RosterChange> {
  const verb = ROSTER_VERB[state]
  let outcome: Omit<RosterChange, 'pushed'> = {machine: name, state, changed: false, reencrypted: [], unreadable: [], recipients: 0}
  const pushed = await pushGeneratedChange(local, `machines ${verb} ${name}`, `machines ${verb}`, async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    const machine = requireChangeAllowed(fleet, local.machine, name, state)
    outcome =
      machine.state === state
        ? {machine: name, state, changed: false, reencrypted: [], unreadable: [], recipients: activeMachines(fleet).length}
        : await commitRosterChange(local, fleet, machine, state)
  })
  return {...outcome, pushed}
}

/**
 * A change generated from the manifest (a roster change, a re-encryption), the way every such change is made: under
 * the fleet lock, after a sync that captured and pushed every local edit (so that `derive`'s commit is the only one
 * here), then pushed, and made again by `derive` on the forge's manifest when another machine's push got there first
 * (the re-derive strategy). Returns the commits pushed.
 */
export async function pushGeneratedChange(local: LocalFleet, lockedFor: string, reason: string, derive: () => Promise<void>): Promise<number> {
  return withFleetLock(local.paths, lockedFor, async () => {
    const branch = (await readManifest(local.paths.sourceDir)).settings.branch
    await syncBeforeChange(local, reason)
    await derive()
    const {pushed} = await pushToForge(local.repo, branch, {
      strategy: {kind: 're-derive', derive},
      check: () => checkSourceForPush({...local, upstream: upstreamRef(branch)}),
    })
    return pushed
  })
}

/** What `fleet machines address` did: this machine's SSH address now (undefined: none), and whether it changed. */
export interface AddressChange {
  machine: string
  sshAddress?: string
  changed: boolean
  pushed: number
}

/**
 * Record (or, with `address` undefined, remove) this machine's SSH address in the roster, the way every roster change
 * is made (one manifest change, committed and pushed; see pushGeneratedChange). Any machine on the roster may: the
 * address is its own. A UsageError (exit 2) for an address that is not `[user@]host[:port]`, or a machine not on the
 * roster.
 */
export async function setMachineAddress(local: LocalFleet, address: string | undefined): Promise<AddressChange> {
  const wanted = address?.trim()
  if (wanted !== undefined) parseSshAddress(wanted)
  let changed = false
  const pushed = await pushGeneratedChange(local, 'machines address', 'machines address', async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    const machine = requireMachine(fleet, local.machine)
    changed = machine.sshAddress !== wanted
    if (!changed) return
    const updated: Machine = {...machine, sshAddress: wanted, updatedAt: new Date().toISOString()}
    if (wanted === undefined) delete updated.sshAddress
    fleet.machines = fleet.machines.map((m) => (m.name === machine.name ? updated : m))
    await writeManifest(local.paths.sourceDir, fleet)
    await local.repo.commitAll(wanted === undefined ? `fleet: ${local.machine}: remove its SSH address` : `fleet: ${local.machine}: SSH address ${wanted}`)
  })
  return {machine: local.machine, ...(wanted === undefined ? {} : {sshAddress: wanted}), changed, pushed}
}

/** This machine's SSH address as the roster in its source repo has it (nothing changed, nothing pushed). */
export async function currentMachineAddress(local: LocalFleet): Promise<AddressChange> {
  const machine = requireMachine(await readManifest(local.paths.sourceDir), local.machine)
  return {machine: local.machine, ...(machine.sshAddress === undefined ? {} : {sshAddress: machine.sshAddress}), changed: false, pushed: 0}
}

/** What re-encrypting the files whose recipients drifted did: the files rewritten, those left, and the commits pushed. */
export interface DriftRepair {
  reencrypted: string[]
  unreadable: ReencryptFailure[]
  recipients: number
  pushed: number
}

/**
 * Re-encrypt every encrypted file not recorded as encrypted for exactly the active machines (see filesNotFor), commit
 * and push, the way a roster change does (see pushGeneratedChange). Only an active machine can: it reads each file
 * with its keys. A file it cannot open is left as it was and reported.
 */
export async function reencryptDriftedFiles(local: LocalFleet): Promise<DriftRepair> {
  let outcome: Omit<DriftRepair, 'pushed'> = {reencrypted: [], unreadable: [], recipients: 0}
  const pushed = await pushGeneratedChange(local, 're-encrypt for the active machines', 're-encrypt', async () => {
    const fleet = await readManifest(local.paths.sourceDir)
    requireActive(fleet, local.machine, 're-encrypt files for the')
    const drifted = await filesNotFor(local.paths.sourceDir, await local.repo.listFiles(), activeRecipients(fleet))
    const {rewritten, failed, recipients} = await reencryptForActive(local, fleet, drifted)
    await local.repo.commitAll(`fleet: ${local.machine}: re-encrypt ${rewritten.length} file(s) for the ${recipients.length} active machine(s)`)
    outcome = {reencrypted: rewritten, unreadable: failed, recipients: recipients.length}
  })
  return {...outcome, pushed}
}

/** The machine to change, once the change is one this machine may make; a UsageError (exit 2) names why not. */
function requireChangeAllowed(fleet: Fleet, self: string, name: string, state: 'active' | 'revoked'): Machine {
  const verb = ROSTER_VERB[state]
  requireActive(fleet, self, verb)
  const machine = requireMachine(fleet, name)
  if (machine.state === state) return machine
  if (state === 'active' && machine.state === 'revoked') {
    throw new UsageError(
      `"${name}" was revoked; a revoked machine cannot be approved again.`,
      `On that machine, move its identity file aside and run \`fleet enroll\` to join with a new key.`,
      'REVOKED',
    )
  }
  if (state === 'revoked' && name === self) {
    throw new UsageError(
      'A machine cannot revoke itself: it could not check the files it re-encrypts for the others.',
      `Run \`fleet machines revoke ${name}\` on another active machine.`,
      'REVOKE_SELF',
    )
  }
  if (state === 'revoked' && activeMachines(fleet).every((m) => m.name === name)) {
    throw new UsageError(
      `"${name}" is the fleet's last active machine; revoking it would leave nobody able to read the secrets.`,
      'Approve another machine first.',
      'LAST_ACTIVE',
    )
  }
  return machine
}

/** Write the new state into the manifest, re-encrypt every encrypted file for the active machines, and commit. */
async function commitRosterChange(local: LocalFleet, fleet: Fleet, machine: Machine, state: 'active' | 'revoked'): Promise<Omit<RosterChange, 'pushed'>> {
  const {repo, paths} = local
  const verb = ROSTER_VERB[state]
  const now = new Date().toISOString()
  Object.assign(machine, {state, updatedAt: now}, state === 'active' ? {approvedAt: now, approvedBy: local.machine} : {})
  await writeManifest(paths.sourceDir, fleet)
  const {rewritten, failed, recipients} = await reencryptForActive(local, fleet, await repo.listFiles())
  await repo.commitAll(`fleet: ${verb} ${machine.name}; re-encrypt ${rewritten.length} file(s) for ${recipients.length} active machine(s)`)
  return {machine: machine.name, state, changed: true, reencrypted: rewritten, unreadable: failed, recipients: recipients.length}
}

/**
 * Re-encrypt the encrypted files among `files` for the fleet's active machines (the recipients file written first),
 * reading with every key this machine holds and verifying with the one the roster names for it.
 */
async function reencryptForActive(local: LocalFleet, fleet: Fleet, files: string[]): Promise<Reencryption & {recipients: string[]}> {
  const recipients = await writeRecipientsFile(local.paths.recipientsFile, fleet)
  const keys = await reencryptionKeys(local.paths, findMachine(fleet, local.machine)?.recipient)
  return {...(await reencryptSource(local.paths.sourceDir, files, keys, recipients)), recipients}
}
