// When each secret last changed, read from the history of the encrypted secrets file: its versions are decrypted in
// memory with this machine's key, newest first, and the walk stops as soon as every current key's time is known.
// Only names and times come out of here, never a value.
import {decodeSourcePath} from '../chezmoi/source-names.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {decryptWith} from '../keys/crypto.ts'
import type {AgeIdentity} from '../keys/identity.ts'
import {machineKeys} from '../keys/key-files.ts'
import {parseDotenv} from '../secrets/dotenv.ts'
import {conflictingKeys} from '../secrets/merge.ts'
import type {ConflictRecord} from '../sync/state.ts'
import {SECRETS_PATH} from '../fleet/templates.ts'
import {readSecrets, secretsSourceFile, secretsTextAt} from './store.ts'

export interface SecretListing {
  key: string
  /** The commit time of the last change to this key the fleet has (undefined: changed here, not synced yet). */
  changedAt?: string
  /** Who made that commit (its author: `fleet on <machine>` unless a person set their own). */
  changedBy?: string
  /** The history before `changedAt` cannot be read with this machine's key (from before it joined): it may be older. */
  orEarlier?: boolean
  /** Changed (or added) here and not captured by a sync yet. */
  local: boolean
}

interface Version {
  commit: string
  at: string
  by: string
  path: string
}

/** The secrets file's versions, newest first (following renames): each commit that changed it, and its path there. */
async function versions(local: LocalFleet, sourceFile: string): Promise<Version[]> {
  const {stdout} = await local.repo.git(['log', '--follow', '--format=%x00%H%x09%cI%x09%an', '--name-only', '--', sourceFile])
  return stdout
    .split('\0')
    .filter(Boolean)
    .flatMap((record) => {
      const [header, ...names] = record.split('\n').filter(Boolean)
      const [commit, at, by] = header.split('\t')
      return names.length > 0 ? [{commit, at, by, path: names[0]}] : []
    })
}

/** A version's values, or undefined when this machine's key cannot open it. */
async function valuesAt(local: LocalFleet, keys: AgeIdentity[], version: Version): Promise<Map<string, string> | undefined> {
  const bytes = await local.repo.blobBytes(`${version.commit}:${version.path}`)
  if (!bytes) return new Map()
  try {
    return parseDotenv(Buffer.from(await decryptWith(keys, bytes, version.path)).toString('utf8'), version.path).values()
  } catch {
    return undefined
  }
}

/** Every secret this machine has, with when it last changed. */
export async function listSecrets(local: LocalFleet): Promise<SecretListing[]> {
  const {document} = await readSecrets(local)
  const sourceFile = await secretsSourceFile(local)
  const committed = sourceFile ? parseDotenv((await secretsTextAt(local, 'HEAD')) ?? '', SECRETS_PATH).values() : new Map<string, string>()
  const listing = document.entries.map(({key, value}): SecretListing => ({key, local: committed.get(key) !== value}))
  const pending = new Set(listing.filter((l) => !l.local).map((l) => l.key))
  if (pending.size === 0 || !sourceFile) return listing
  const found = new Map<string, Pick<SecretListing, 'changedAt' | 'changedBy' | 'orEarlier'>>()
  const keys = await machineKeys(local.paths)
  const history = await versions(local, sourceFile)
  let newer = history.length > 0 ? await valuesAt(local, keys, history[0]) : undefined
  for (let i = 0; i < history.length && pending.size > 0 && newer; i++) {
    const older = i + 1 < history.length ? await valuesAt(local, keys, history[i + 1]) : new Map<string, string>()
    for (const key of pending) {
      if (older && older.get(key) === newer.get(key)) continue
      found.set(key, {changedAt: history[i].at, changedBy: history[i].by, orEarlier: older === undefined})
      pending.delete(key)
    }
    newer = older
  }
  return listing.map((l) => ({...l, ...found.get(l.key)}))
}

/**
 * The keys a recorded conflict of the secrets file is about (names only): those both sides changed differently
 * since their common version, else those whose values differ. Empty for any other file, or when it cannot be read.
 */
export async function conflictedSecretKeys(local: LocalFleet, conflict: ConflictRecord): Promise<string[]> {
  if (decodeSourcePath(conflict.sourcePath) !== SECRETS_PATH && conflict.path !== SECRETS_PATH) return []
  try {
    const base = await local.repo.mergeBase(conflict.mine, conflict.theirs)
    const [baseText, mine, theirs] = await Promise.all([base, conflict.mine, conflict.theirs].map(async (ref) => (ref ? secretsTextAt(local, ref) : undefined)))
    if (mine === undefined || theirs === undefined) return []
    const keys = conflictingKeys(baseText, mine, theirs)
    if (keys.length > 0) return keys
    const [m, t] = [mine, theirs].map((text) => parseDotenv(text, SECRETS_PATH).values())
    return [...new Set([...m.keys(), ...t.keys()])].filter((key) => m.get(key) !== t.get(key)).sort()
  } catch {
    return []
  }
}
