// The fleet's secrets file (`~/.config/fleet/secrets.env`) as `fleet secrets` reads and changes it. The plain text
// lives only in the target file (mode 0600): a change is written there, atomically, and the sync that follows
// captures it (encrypted, one commit). An edit made by hand and not captured yet is part of what is read and
// changed, so it is never lost; a malformed one is refused before anything is written.
import {mkdir, readFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import {decodeSourcePath} from '../chezmoi/source-names.ts'
import {FleetError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {SECRETS_PATH} from '../fleet/templates.ts'
import {decryptWith} from '../keys/crypto.ts'
import {machineKeys} from '../keys/key-files.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import {findMachine, managedPathNamed} from '../manifest/lookup.ts'
import {readManifest} from '../manifest/store.ts'
import {checkKey, type DotenvDocument, parseDotenv} from '../secrets/dotenv.ts'

/** How the secrets file is named to a person. */
export const SECRETS_DISPLAY = `~/${SECRETS_PATH}`

/** The absolute path of this machine's secrets file. */
export function secretsTarget(local: LocalFleet): string {
  return join(local.paths.home, SECRETS_PATH)
}

/** The secrets file's entry in the source repo (relative to it), or undefined when it has none yet. */
export async function secretsSourceFile(local: LocalFleet, ref = 'HEAD'): Promise<string | undefined> {
  const listed = await local.repo.git(['ls-tree', '-r', '--name-only', ref], {allowFailure: true})
  if (listed.exitCode !== 0) return undefined
  return listed.stdout.split('\n').find((file) => file.endsWith('.age') && decodeSourcePath(file) === SECRETS_PATH)
}

/**
 * This machine may read and change the secrets: it is active in the roster (a pending machine holds no key the
 * files are encrypted to) and the fleet keeps a secrets file, encrypted.
 */
export async function requireSecretsAccess(local: LocalFleet): Promise<void> {
  const fleet = await readManifest(local.paths.sourceDir)
  const machine = findMachine(fleet, local.machine)
  if (machine?.state !== 'active') {
    const state = machine?.state ?? 'not in the roster'
    throw new FleetError(
      `This machine (${local.machine}) is ${state}: it cannot read or change the fleet's secrets, which are encrypted for the active machines only.`,
      {
        code: 'NOT_ACTIVE',
        fix:
          state === 'revoked'
            ? 'A revoked machine stays revoked: enroll this machine under a new name, and have an active machine approve it.'
            : `On an active machine, run \`fleet machines approve ${local.machine}\`; then run \`fleet sync\` here.`,
      },
    )
  }
  if (!managedPathNamed(fleet, SECRETS_PATH)?.encrypt) {
    throw new FleetError(`This fleet keeps no encrypted secrets file (${SECRETS_DISPLAY} is not one of its paths).`, {
      code: 'NO_SECRETS_FILE',
      fix: `Make one: \`fleet add-path --encrypt ${SECRETS_DISPLAY}\` (create the file first, mode 0600).`,
    })
  }
}

/** The secrets file's text at a commit, decrypted in memory with this machine's key; undefined when it has none. */
export async function secretsTextAt(local: LocalFleet, ref: string): Promise<string | undefined> {
  const file = await secretsSourceFile(local, ref)
  const bytes = file && (await local.repo.blobBytes(`${ref}:${file}`))
  if (!file || !bytes) return undefined
  return Buffer.from(await decryptWith(await machineKeys(local.paths), bytes, file)).toString('utf8')
}

/**
 * The secrets as this machine has them: the target file, with any edit made by hand; when the target is missing
 * (never applied here, or deleted by hand), the fleet's version from the source repo, so that a change never drops
 * the other keys. Refuses a malformed file with its line number.
 */
export async function readSecrets(local: LocalFleet): Promise<{document: DotenvDocument; text: string}> {
  const {text, onDisk} = await readSecretsText(local)
  try {
    return {document: parseDotenv(text, SECRETS_DISPLAY), text}
  } catch (error) {
    if (error instanceof FleetError && onDisk) {
      throw new FleetError(error.message, {
        code: error.code,
        exitCode: error.exitCode,
        fix: `Fix that line in ${SECRETS_DISPLAY} (or run \`fleet secrets edit\`). Nothing was changed.`,
      })
    }
    throw error
  }
}

/** The secrets file's text as this machine has it (see readSecrets), unparsed: what `edit` opens, even when malformed. */
export async function readSecretsText(local: LocalFleet): Promise<{text: string; onDisk: boolean}> {
  await requireSecretsAccess(local)
  const onDisk = await readFile(secretsTarget(local), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  return {text: onDisk ?? (await secretsTextAt(local, 'HEAD')) ?? '', onDisk: onDisk !== undefined}
}

/** Write the secrets file: atomically, mode 0600, in a directory only its owner can enter. */
export async function writeSecrets(local: LocalFleet, text: string): Promise<void> {
  const target = secretsTarget(local)
  await mkdir(dirname(target), {recursive: true, mode: 0o700})
  await writeFileAtomic(target, text, {mode: 0o600})
}

/** Read, change and write the secrets file under the fleet lock (so that no sync writes it in between). */
export async function changeSecrets<T>(local: LocalFleet, purpose: string, change: (document: DotenvDocument) => T): Promise<T> {
  return withFleetLock(local.paths, purpose, async () => {
    const {document, text} = await readSecrets(local)
    const result = change(document)
    const changed = document.toString()
    if (changed !== text) await writeSecrets(local, changed)
    return result
  })
}

/** The names a missing key is told among. */
function knownKeys(document: DotenvDocument): string {
  const keys = document.entries.map((e) => e.key)
  return keys.length > 0 ? `the secrets are: ${keys.join(', ')}` : 'there are no secrets yet'
}

function missingKey(key: string, document: DotenvDocument): FleetError {
  return new FleetError(`There is no secret ${key} (${knownKeys(document)}).`, {
    code: 'SECRET_NOT_FOUND',
    fix: `Check the name (\`fleet secrets list\`), or set it: \`fleet secrets set ${key}\`.`,
  })
}

/** A secret's value, as this machine has it. */
export async function getSecret(local: LocalFleet, key: string): Promise<string> {
  checkKey(key)
  const {document} = await readSecrets(local)
  const value = document.get(key)
  if (value === undefined) throw missingKey(key, document)
  return value
}

export type SecretChange = 'added' | 'changed' | 'unchanged'

/** Set one secret in the target file (the sync that follows captures it). */
export async function setSecret(local: LocalFleet, key: string, value: string): Promise<SecretChange> {
  checkKey(key)
  return changeSecrets(local, `secrets set ${key}`, (document) => document.set(key, value))
}

/** Remove one secret from the target file; a missing key is an error naming the known ones. */
export async function unsetSecret(local: LocalFleet, key: string): Promise<void> {
  checkKey(key)
  await changeSecrets(local, `secrets unset ${key}`, (document) => {
    if (!document.unset(key)) throw missingKey(key, document)
  })
}

/** Merge a dotenv file's entries into the secrets; refuses a malformed file (nothing written). */
export async function importSecrets(local: LocalFleet, file: string): Promise<{added: string[]; changed: string[]; unchanged: string[]}> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new FleetError(`${file} cannot be read (${error.code ?? error.message}).`, {
      code: 'IMPORT_UNREADABLE',
      fix: 'Give the path of a readable dotenv file.',
    })
  })
  const entries = parseDotenv(text, file).entries
  return changeSecrets(local, 'secrets import', (document) => {
    const result = {added: [] as string[], changed: [] as string[], unchanged: [] as string[]}
    for (const {key, value} of entries) result[document.set(key, value)].push(key)
    return result
  })
}
