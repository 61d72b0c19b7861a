// Applying the source state without losing what is on disk: every target that exists and is about to be
// replaced or removed is first copied to a backup (encrypted to this machine when the path is an encrypted one).
import {lstat, mkdir, readFile, copyFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'

import {encryptTo} from '../keys/crypto.ts'
import type {Chezmoi, ChezmoiStatusEntry} from './chezmoi.ts'
import {ProcessError} from '../process/run.ts'

export interface ApplyResult {
  /** Targets copied aside before they were replaced, relative to $HOME. */
  backedUp: string[]
  backupDir?: string
  /** chezmoi's complaint when some targets were not applied (for example a local edit not captured yet). */
  incomplete?: string
}

export interface ApplyOptions {
  home: string
  backupsDir: string
  /** Whether a target is one of the fleet's encrypted paths (its backup is encrypted too). */
  isEncrypted: (path: string) => boolean
  /** This machine's recipient, for encrypted backups. */
  recipient: string
  /** Only back up these entries (default: every target that exists and would change). */
  filter?: (entry: ChezmoiStatusEntry) => boolean
}

export function backupStamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-')
}

export async function applyWithBackup(chezmoi: Chezmoi, options: ApplyOptions): Promise<ApplyResult> {
  const entries = (await chezmoi.status()).filter((e) => (e.onApply === 'M' || e.onApply === 'D') && (options.filter?.(e) ?? true))
  const backupDir = join(options.backupsDir, backupStamp())
  const backedUp: string[] = []
  for (const entry of entries) {
    const target = join(options.home, entry.path)
    const info = await lstat(target).catch(() => undefined)
    if (!info?.isFile()) continue
    const destination = join(backupDir, entry.path)
    await mkdir(dirname(destination), {recursive: true, mode: 0o700})
    if (options.isEncrypted(entry.path)) {
      await writeFileAtomic(`${destination}.age`, await encryptTo([options.recipient], await readFile(target)), {mode: 0o600})
    } else {
      await copyFile(target, destination)
    }
    backedUp.push(entry.path)
  }
  try {
    await chezmoi.apply()
  } catch (error) {
    if (!(error instanceof ProcessError)) throw error
    return {backedUp, backupDir: backedUp.length > 0 ? backupDir : undefined, incomplete: error.result.stderr.trim() || error.message}
  }
  return {backedUp, backupDir: backedUp.length > 0 ? backupDir : undefined}
}
