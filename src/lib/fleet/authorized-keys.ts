// ~/.ssh/authorized_keys follows the roster: a chezmoi modify template laid in the source repo keeps a marked block of
// the active machines' SSH public keys there and passes every other line through (templates/authorized_keys). And
// this machine's own SSH public key, read for the roster (`fleet enroll --ssh-key FILE`).
import {existsSync, lstatSync} from 'node:fs'
import {mkdir, open, writeFile} from 'node:fs/promises'
import {basename, join} from 'node:path'

import type {Chezmoi} from '../chezmoi/chezmoi.ts'
import {UsageError} from '../errors/index.ts'
import {managedPathOf} from '../manifest/lookup.ts'
import type {Fleet} from '../manifest/schema.ts'
import {isWithin} from '../platform/paths.ts'
import {template} from './templates.ts'

/** The target, relative to $HOME. */
export const AUTHORIZED_KEYS_PATH = '.ssh/authorized_keys'
/** fleet's source entry for it: a modify template, applied 0600 (`private_`), in a 0700 ~/.ssh (`private_dot_ssh`). */
export const AUTHORIZED_KEYS_ENTRY = 'modify_private_authorized_keys'
const SSH_DIR_ENTRY = 'private_dot_ssh'

/** The source entries chezmoi reads for ~/.ssh and ~/.ssh/authorized_keys (absolute), if any. */
async function sshSources(chezmoi: Chezmoi, home: string): Promise<{dir?: string; file?: string}> {
  const sources = await chezmoi.managedSources([join(home, '.ssh')])
  return {dir: sources.get('.ssh'), file: sources.get(AUTHORIZED_KEYS_PATH)}
}

/** Whether the source repo holds fleet's own entry for ~/.ssh/authorized_keys. */
export async function fleetKeepsAuthorizedKeys(chezmoi: Chezmoi, home: string): Promise<boolean> {
  const {file} = await sshSources(chezmoi, home)
  return file !== undefined && basename(file) === AUTHORIZED_KEYS_ENTRY
}

/**
 * Lay fleet's entry for ~/.ssh/authorized_keys in the source repo where it is missing (inside the source's ~/.ssh
 * directory if it has one). Nothing is laid where the person syncs that file already (a managed path holds it, or
 * another source entry makes it): returns then the note that says so and how to hand it to fleet.
 */
export async function layAuthorizedKeys(chezmoi: Chezmoi, sourceDir: string, home: string, fleet: Fleet): Promise<string | undefined> {
  const {dir, file} = await sshSources(chezmoi, home)
  if (file !== undefined && basename(file) === AUTHORIZED_KEYS_ENTRY) return undefined
  const managed = managedPathOf(fleet, AUTHORIZED_KEYS_PATH)
  const handOver = "so fleet does not keep the block of the fleet machines' SSH keys there."
  if (managed) {
    return `~/${AUTHORIZED_KEYS_PATH} is synced as ${managed.path === AUTHORIZED_KEYS_PATH ? 'a managed path' : `part of ~/${managed.path}`} (fleet add-path), ${handOver} To have it: fleet remove-path ~/${managed.path}, add the other files you want one by one, then run \`fleet enroll\` again.`
  }
  if (file !== undefined) {
    return `~/${AUTHORIZED_KEYS_PATH} is made by the source entry ${file}, ${handOver} To have it: remove that entry (chezmoi forget ~/${AUTHORIZED_KEYS_PATH}), then run \`fleet enroll\` again.`
  }
  if (dir !== undefined && !lstatSync(dir, {throwIfNoEntry: false})?.isDirectory()) {
    return `~/.ssh is made by the source entry ${dir}, which is not a directory, ${handOver}`
  }
  const parent = dir ?? join(sourceDir, SSH_DIR_ENTRY)
  await mkdir(parent, {recursive: true})
  await writeFile(join(parent, AUTHORIZED_KEYS_ENTRY), await template('authorized_keys'))
  return undefined
}

/**
 * A fleet made before fleet kept ~/.ssh/authorized_keys gets the entry at an active machine's sync, once some machine
 * has an SSH key on the roster. The usual place is checked first (no chezmoi start); a fleet that syncs the file
 * another way is left so (layAuthorizedKeys says why at enroll). The caller commits what it laid.
 */
export async function layAuthorizedKeysIfMissing(chezmoi: Chezmoi, sourceDir: string, home: string, fleet: Fleet): Promise<void> {
  if (!fleet.machines.some((m) => m.sshPublicKey) || existsSync(join(sourceDir, SSH_DIR_ENTRY, AUTHORIZED_KEYS_ENTRY))) return
  if (managedPathOf(fleet, AUTHORIZED_KEYS_PATH)) return
  await layAuthorizedKeys(chezmoi, sourceDir, home, fleet)
}

/**
 * Throws when a path given to add-path is ~/.ssh/authorized_keys or holds it, and fleet keeps that file itself: two
 * source entries for one target would stop chezmoi.
 */
export async function refuseFleetAuthorizedKeys(chezmoi: Chezmoi, home: string, relative: string): Promise<void> {
  if (!isWithin(AUTHORIZED_KEYS_PATH, relative) || !(await fleetKeepsAuthorizedKeys(chezmoi, home))) return
  throw new UsageError(
    `${relative === AUTHORIZED_KEYS_PATH ? `~/${AUTHORIZED_KEYS_PATH} is` : `~/${relative} holds ~/${AUTHORIZED_KEYS_PATH}, which is`} kept by the fleet itself: a block of the active machines' SSH keys on every machine, beside each machine's own lines.`,
    relative === AUTHORIZED_KEYS_PATH
      ? "Nothing to add: your own lines in it stay on this machine; record a machine's key with `fleet enroll --ssh-key FILE` on it."
      : `Add the other files of ~/${relative} you want to share one by one (for example fleet add-path ~/.ssh/config).`,
    'FLEET_AUTHORIZED_KEYS',
  )
}

/** OpenSSH public key types, as the key line names them (and the key blob repeats). */
const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]
/** More than any public key file holds: a larger file is not one, and is not read further. */
const MAX_PUBLIC_KEY_BYTES = 16 * 1024

/** The key type a base64 key blob names (its first field: a length-prefixed string), if it decodes. */
function blobKeyType(base64: string): string | undefined {
  const blob = Buffer.from(base64, 'base64')
  if (blob.length < 4 || blob.toString('base64').replace(/=+$/, '') !== base64.replace(/=+$/, '')) return undefined
  const length = blob.readUInt32BE(0)
  return length > 0 && 4 + length <= blob.length ? blob.subarray(4, 4 + length).toString('latin1') : undefined
}

/**
 * This machine's SSH public key for the roster, from a file such as ~/.ssh/id_ed25519.pub: one OpenSSH public key
 * line (`type base64 [comment]`), checked to be what it says. A private key given by mistake is refused with the
 * file to give instead; no error ever shows what a file holds.
 */
export async function readSshPublicKey(file: string): Promise<string> {
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      error.code === 'ENOENT' ? `${file} does not exist.` : `${file} cannot be read (${error.code ?? error.message}).`,
      'Give --ssh-key the public key file ssh-keygen wrote (for example ~/.ssh/id_ed25519.pub), or make a key: ssh-keygen -t ed25519',
      'BAD_SSH_KEY',
    )
  })
  let text: string
  try {
    const buffer = Buffer.alloc(MAX_PUBLIC_KEY_BYTES + 1)
    const {bytesRead} = await handle.read(buffer, 0, buffer.length, 0)
    text = buffer.subarray(0, bytesRead).toString('utf8')
  } finally {
    await handle.close()
  }
  if (/PRIVATE KEY|PuTTY-User-Key-File/.test(text)) {
    const pub = `${file}.pub`
    throw new UsageError(
      `${file} is a private key; fleet records only the public half, and never reads or copies a private key.`,
      existsSync(pub)
        ? `Give its public half: --ssh-key ${pub}`
        : `Give its public half, a .pub file (ssh-keygen -y -f ${file} > ${pub} writes it), then --ssh-key ${pub}`,
      'PRIVATE_SSH_KEY',
    )
  }
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
  const fields = lines.length === 1 ? lines[0].trim().split(/\s+/) : []
  const [type, base64, ...comment] = fields
  const valid =
    text.length <= MAX_PUBLIC_KEY_BYTES && SSH_KEY_TYPES.includes(type) && /^[A-Za-z0-9+/]+={0,3}$/.test(base64 ?? '') && blobKeyType(base64) === type
  if (!valid) {
    throw new UsageError(
      lines.length > 1
        ? `${file} holds ${lines.length} lines; an SSH public key file holds one key line.`
        : `${file} is not an OpenSSH public key (one line: a key type such as ssh-ed25519, the key in base64, and a comment).`,
      'Give --ssh-key the public key file ssh-keygen wrote beside the key (for example ~/.ssh/id_ed25519.pub), or make a key: ssh-keygen -t ed25519',
      'BAD_SSH_KEY',
    )
  }
  return [type, base64, ...comment].join(' ')
}
