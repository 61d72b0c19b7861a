// Backups: what fleet copies aside before it replaces or removes something a person may still want, kept under
// `<state>/backups/<time stamp>/<path relative to $HOME>`. Files of encrypted paths are stored encrypted to this
// machine, so a backup never holds a secret in plain text.
import {cp, lstat, mkdir, readdir, readFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'

import {encryptTo} from '../keys/crypto.ts'
import {fileNameStamp} from '../platform/paths.ts'

/** Copy a file, a symlink or a whole directory aside; files of encrypted paths are stored encrypted. */
export async function backUp(source: string, destination: string, encrypt: boolean, recipient: () => Promise<string>): Promise<void> {
  const info = await lstat(source)
  await mkdir(dirname(destination), {recursive: true, mode: 0o700})
  if (info.isDirectory()) {
    await mkdir(destination, {recursive: true, mode: 0o700})
    for (const entry of await readdir(source)) await backUp(join(source, entry), join(destination, entry), encrypt, recipient)
  } else if (info.isFile() && encrypt) {
    await writeFileAtomic(`${destination}.age`, await encryptTo([await recipient()], await readFile(source)), {mode: 0o600})
  } else {
    await cp(source, destination, {verbatimSymlinks: true, preserveTimestamps: true})
  }
}

/** A new backup directory (not created until something is copied into it): `<backupsDir>/<stamp>`. */
export function newBackupDir(backupsDir: string, now = new Date()): string {
  return join(backupsDir, fileNameStamp(now))
}
