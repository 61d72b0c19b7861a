// The keys this machine holds. Outside a rotation: the identity file. During one: also `identity.txt.next` (the new
// key, made before the swap) or `identity.txt.old` (the old key, kept after the swap until no file at the forge needs
// it). Every decryption uses every key held, so at every moment this machine opens every file either key opens; and
// chezmoi's config lists the same files (refreshChezmoiIdentities), rewritten before a key file disappears.
import {existsSync} from 'node:fs'
import {link, readFile, rm} from 'node:fs/promises'

import writeFileAtomic from 'write-file-atomic'

import {refreshChezmoiIdentities} from '../chezmoi/config.ts'
import type {KeyType} from '../manifest/schema.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {type AgeIdentity, ensureIdentity, readIdentity} from './identity.ts'

/**
 * Every key this machine holds, the identity file's first; a key file that is not there is skipped. `allowExposed`:
 * see readIdentity.
 */
export async function machineKeys(paths: FleetPaths, options: {allowExposed?: boolean} = {}): Promise<AgeIdentity[]> {
  const keys = [await readIdentity(paths.identityFile, options)]
  for (const file of heldKeyFiles(paths).slice(1)) keys.push(await readIdentity(file, options))
  return keys
}

/** The key files this machine has: the identity file, and during a rotation the new or the old key beside it. */
export function heldKeyFiles(paths: FleetPaths): string[] {
  return [paths.identityFile, ...[paths.identityNextFile, paths.identityOldFile].filter((file) => existsSync(file))]
}

/** The new key of a rotation: made (exclusively, 0600) when there is none, else the one a stopped rotation made. */
export async function ensureNextKey(paths: FleetPaths, keyType: KeyType): Promise<{identity: AgeIdentity; created: boolean}> {
  const {identity, created} = await ensureIdentity(paths.identityNextFile, keyType)
  await refreshChezmoiIdentities(paths)
  return {identity, created}
}

/**
 * The swap: the new key becomes the identity file, the old one is kept as `identity.txt.old`. Each step leaves every
 * key reachable and the identity file in place, so a kill at any point is finished by running it again:
 * 1. the old key is linked as `.old` (the identity file stays);
 * 2. a copy of the new key replaces the identity file in one rename;
 * 3. chezmoi's config stops listing `.next`, and `.next` is removed.
 */
export async function swapInNextKey(paths: FleetPaths): Promise<void> {
  const next = await readIdentity(paths.identityNextFile)
  const current = await readIdentity(paths.identityFile)
  if (current.recipient !== next.recipient) {
    if (!existsSync(paths.identityOldFile)) await link(paths.identityFile, paths.identityOldFile)
    await refreshChezmoiIdentities(paths)
    // write-file-atomic creates its temporary file 0600 from the start, syncs it, and renames it into place.
    await writeFileAtomic(paths.identityFile, await readFile(paths.identityNextFile), {mode: 0o600})
  }
  await refreshChezmoiIdentities(paths, [paths.identityNextFile])
  await rm(paths.identityNextFile, {force: true})
}

/** The old key is needed no more: chezmoi's config stops listing it, then it is removed. */
export async function removeOldKey(paths: FleetPaths): Promise<void> {
  await refreshChezmoiIdentities(paths, [paths.identityOldFile])
  await rm(paths.identityOldFile, {force: true})
}

/**
 * The keys a re-encryption reads with (every key held) and the one it verifies with: the key whose recipient the
 * roster names for this machine (the new one once a rotation has put it there), else the identity file's.
 */
export async function reencryptionKeys(paths: FleetPaths, rosterRecipient: string | undefined): Promise<{read: AgeIdentity[]; verify: AgeIdentity}> {
  const read = await machineKeys(paths)
  return {read, verify: read.find((k) => k.recipient === rosterRecipient) ?? read[0]}
}
