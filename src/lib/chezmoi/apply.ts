// Applying the source state without losing anything on disk:
// - a target edited here since chezmoi last wrote it is never overwritten (it is left for the next sync to
//   capture, and chezmoi's --error-on-conflict guards the race);
// - a file chezmoi has never written (it existed before the fleet managed it) is copied to a backup before it is
//   replaced, encrypted to this machine when the path is one of the fleet's encrypted paths.
import {lstat, mkdir, readFile, copyFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'

import {encryptTo} from '../keys/crypto.ts'
import {ProcessError} from '../process/run.ts'
import type {Chezmoi} from './chezmoi.ts'

export interface ApplyResult {
  /** Targets brought up to the source state, relative to $HOME. */
  applied: string[]
  /** Targets edited here and not captured yet: left as they are. */
  leftAlone: string[]
  /** Targets copied aside before they were replaced, relative to $HOME. */
  backedUp: string[]
  backupDir?: string
  /** chezmoi's complaint when some targets were not applied. */
  incomplete?: string
}

export interface ApplyOptions {
  home: string
  backupsDir: string
  /** Whether a target is one of the fleet's encrypted paths (its backup is encrypted too). */
  isEncrypted: (path: string) => boolean
  /** This machine's recipient, for encrypted backups (asked for only when one is made). */
  recipient: () => Promise<string>
  /** Targets (relative) to leave alone whatever their state: unresolved conflicts. */
  exclude?: (path: string) => boolean
}

export function backupStamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-')
}

export async function applyWithBackup(chezmoi: Chezmoi, options: ApplyOptions): Promise<ApplyResult> {
  const pending = (await chezmoi.status()).filter((e) => e.onApply !== ' ' && !(options.exclude?.(e.path) ?? false))
  const leftAlone = pending.filter((e) => e.sinceLastWrite !== ' ').map((e) => e.path)
  const toApply = pending.filter((e) => e.sinceLastWrite === ' ').map((e) => e.path)
  if (toApply.length === 0) return {applied: [], leftAlone, backedUp: []}

  const existing: string[] = []
  for (const path of toApply) if ((await lstat(join(options.home, path)).catch(() => undefined))?.isFile()) existing.push(path)
  const written = existing.length > 0 ? await chezmoi.writtenTargets() : new Set<string>()
  const backupDir = join(options.backupsDir, backupStamp())
  const backedUp: string[] = []
  for (const path of existing) {
    const target = join(options.home, path)
    if (written.has(target)) continue
    const destination = join(backupDir, path)
    await mkdir(dirname(destination), {recursive: true, mode: 0o700})
    if (options.isEncrypted(path)) {
      await writeFileAtomic(`${destination}.age`, await encryptTo([await options.recipient()], await readFile(target)), {mode: 0o600})
    } else {
      await copyFile(target, destination)
    }
    backedUp.push(path)
  }
  const result: ApplyResult = {applied: toApply, leftAlone, backedUp, backupDir: backedUp.length > 0 ? backupDir : undefined}
  try {
    await chezmoi.apply({targets: toApply.map((path) => join(options.home, path))})
  } catch (error) {
    if (!(error instanceof ProcessError)) throw error
    result.incomplete = error.result.stderr.trim() || error.message
  }
  return result
}
