// Where a rotation of this machine's key stands, derived from its key files and the manifest alone (nothing else is
// recorded), so that whatever stopped it — a kill at any step — the next `fleet rotate-keys` or `fleet sync` goes on
// from there.
import {existsSync} from 'node:fs'

import type {GitRepo} from '../git/git.ts'
import {activeMachines, findMachine} from '../manifest/lookup.ts'
import type {Fleet, Machine} from '../manifest/schema.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {asGiven, pathList} from '../platform/text.ts'
import {decryptWith, isEncryptedSourceFile} from './crypto.ts'
import {readIdentity} from './identity.ts'
import {removeOldKey, swapInNextKey} from './key-files.ts'

/**
 * - `none`: one key, nothing under way;
 * - `new-key`: the new key exists, the roster does not name it yet (re-encryption and push to do);
 * - `on-roster`: the roster names the new key; the swap of the key files is left;
 * - `swapped`: the new key is the identity file; the old one is kept until every file at the forge opens without it.
 */
export type KeyRotationPhase = 'none' | 'new-key' | 'on-roster' | 'swapped'

export async function keyRotationPhase(paths: FleetPaths, me: Machine | undefined): Promise<KeyRotationPhase> {
  if (existsSync(paths.identityNextFile)) {
    const next = await readIdentity(paths.identityNextFile)
    return me?.recipient === next.recipient ? 'on-roster' : 'new-key'
  }
  return existsSync(paths.identityOldFile) ? 'swapped' : 'none'
}

/** The encrypted files at `ref` that `key file` does not open (not for it, or damaged). */
export async function filesNotOpeningWith(repo: GitRepo, ref: string, keyFile: string): Promise<string[]> {
  const key = await readIdentity(keyFile)
  const closed: string[] = []
  for (const file of (await repo.filesAt(ref)).filter(isEncryptedSourceFile)) {
    const bytes = await repo.blobBytes(`${ref}:${file}`)
    if (bytes === undefined) continue
    await decryptWith(key, bytes, file).catch(() => closed.push(file))
  }
  return closed
}

/**
 * Finish what a stopped rotation left that needs no re-encryption, after a sync that reached the forge: swap in a new
 * key the forge's roster names, and remove the old key once every encrypted file at the forge opens with the new one.
 * Returns notes for the sync's report (why the old key stays, say).
 */
export async function finishKeyRotation(paths: FleetPaths, repo: GitRepo, fleet: Fleet, machine: string, upstream: string): Promise<string[]> {
  if (!existsSync(paths.identityNextFile) && !existsSync(paths.identityOldFile)) return []
  const notes: string[] = []
  const me = findMachine(fleet, machine)
  let phase = await keyRotationPhase(paths, me)
  if (phase === 'on-roster' && (await repo.countAhead('HEAD', upstream)) === 0) {
    await swapInNextKey(paths)
    notes.push("finished the key rotation's swap: the new key is the identity file, the old one is kept until no file needs it")
    phase = 'swapped'
  }
  if (phase !== 'swapped' || me?.recipient !== (await readIdentity(paths.identityFile)).recipient) return notes
  const closed = await filesNotOpeningWith(repo, upstream, paths.identityFile)
  if (closed.length === 0) {
    await removeOldKey(paths)
    notes.push('removed the old key: every encrypted file at the forge opens with the new one')
  } else {
    notes.push(
      `kept the old key (${paths.identityOldFile}): ${closed.length} encrypted file(s) at the forge do not open with the new one yet (${pathList(closed, {show: asGiven})})`,
    )
  }
  return notes
}

/** The machines still on a key older than the fleet's rotation request (none when there is no request). */
export function machinesOnOldKeys(fleet: Fleet): string[] {
  const requested = fleet.settings.rotationRequestedAt
  if (!requested) return []
  return activeMachines(fleet)
    .filter((m) => keySince(m) < requested)
    .map((m) => m.name)
}

/** When a machine's current key came into use: made by a rotation, else when it enrolled. */
function keySince(machine: Machine): string {
  return machine.keyCreatedAt ?? machine.enrolledAt
}
