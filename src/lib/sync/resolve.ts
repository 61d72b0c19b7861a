// Finishing a conflict: keep this machine's version (it becomes the fleet's) or take the fleet's (this machine's
// is backed up first). Either way nothing is lost: the parked branch keeps this machine's commits.
import {existsSync, lstatSync} from 'node:fs'
import {rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'

import {backUp as backUpTarget, newBackupDir} from '../backups/backups.ts'
import {FleetError, UsageError} from '../errors/index.ts'
import {shellCommand} from '../errors/shell-command.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {isEncryptedSourceFile} from '../keys/crypto.ts'
import {readIdentity} from '../keys/identity.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import {parseSourceFileName, removeEntryName} from '../chezmoi/source-names.ts'
import {readManifest} from '../manifest/store.ts'
import {homeRelative} from '../platform/paths.ts'
import {pathList} from '../platform/text.ts'
import {clearRemovals} from '../chezmoi/removals.ts'
import {isEncryptedPath, managedPathOf} from '../manifest/lookup.ts'
import {describeFindings} from '../secrets/detect.ts'
import {confirmedPlain, filesBelow, secretsInAddedLines, secretsInFile} from './secret-check.ts'
import {type ConflictRecord, readSyncState, writeSyncState} from './state.ts'

export type Side = 'mine' | 'theirs'

/** The recorded conflict a path names (absolute, ~/…, or relative to $HOME or the current directory). */
export function findConflict(local: LocalFleet, conflicts: ConflictRecord[], given: string, cwd = process.cwd()): ConflictRecord {
  const candidates = [given.replace(/^~\//, ''), homeRelative(local.paths, resolve(cwd, given.replace(/^~(?=\/)/, local.paths.home)))]
  const found = conflicts.find((c) => candidates.includes(c.path))
  if (!found) {
    throw new UsageError(
      conflicts.length === 0 ? 'There is no conflict to resolve on this machine.' : `${given} is not in conflict.`,
      conflicts.length === 0 ? 'See `fleet status`.' : `Conflicts: ${pathList(conflicts.map((c) => c.path))}`,
      'NO_SUCH_CONFLICT',
    )
  }
  return found
}

export async function resolveConflict(local: LocalFleet, given: string, side: Side): Promise<ConflictRecord> {
  return withFleetLock(local.paths, `resolve ${given}`, async () => {
    const state = await readSyncState(local.paths)
    const conflict = findConflict(local, state.conflicts, given)
    const target = join(local.paths.home, conflict.path)
    if (side === 'mine') {
      await refuseSecrets(local, conflict)
      const source = join(local.paths.sourceDir, conflict.sourcePath)
      // A `remove_` marker is the other machine's deletion, not a version of the file: re-adding onto it does nothing.
      const deletedThere = parseSourceFileName(basename(source)).type === 'remove'
      if (existsSync(target) && existsSync(source) && !deletedThere && sameType(target, source)) {
        await local.chezmoi.reAdd([target])
      } else if (existsSync(target)) {
        // The other machine deleted it, or made it another type (a file where this machine has a directory): this
        // machine's comes back as it is here, in place of the fleet's entry.
        await rm(source, {recursive: true, force: true})
        const encrypt = isEncryptedPath(await readManifest(local.paths.sourceDir), conflict.path)
        await clearRemovals(local.chezmoi, local.paths.home, local.paths.sourceDir, [conflict.path])
        await local.chezmoi.add([target], {encrypt, secrets: 'ignore'})
      } else {
        // The file is absent here. Only a deletion the person made (chezmoi had written the file here) may travel:
        // one that is absent because a sync never wrote it is not a change of theirs.
        if (!(await local.chezmoi.writtenTargets()).has(target)) {
          throw new FleetError(`~/${conflict.path} is not on this machine because fleet never wrote it here, not because it was deleted here.`, {
            code: 'NOTHING_TO_KEEP',
            fix: `Take the fleet's version: ${shellCommand('fleet', 'resolve', `~/${conflict.path}`, '--theirs')}`,
          })
        }
        // This machine deleted the file: the deletion is what it keeps.
        await writeFile(join(dirname(source), removeEntryName(basename(source))), '')
        await rm(source, {force: true})
      }
      await local.repo.commitAll(`fleet: ${local.machine}: resolve ${conflict.path}: keep ${local.machine}'s version`)
    } else {
      if (existsSync(target)) await backUp(local, conflict.path)
      await local.chezmoi.apply({force: true, targets: [target]})
    }
    state.conflicts = state.conflicts.filter((c) => c !== conflict)
    await writeSyncState(local.paths, state)
    return conflict
  })
}

/** This machine's version, put aside before the fleet's replaces it (a file, a symlink or a whole directory). */
async function backUp(local: LocalFleet, path: string): Promise<void> {
  const fleet = await readManifest(local.paths.sourceDir)
  const recipient = async () => (await readIdentity(local.paths.identityFile)).recipient
  await backUpTarget(join(local.paths.home, path), join(newBackupDir(local.paths.backupsDir), path), isEncryptedPath(fleet, path), recipient)
}

/** A target and its source entry are of one kind (both directories, or both not): a re-add can carry the change. */
function sameType(target: string, source: string): boolean {
  return lstatSync(target).isDirectory() === lstatSync(source).isDirectory() && lstatSync(target).isSymbolicLink() === basename(source).startsWith('symlink_')
}

/** Keeping this machine's version never pushes what looks like a secret (the lines it adds to the fleet's, or a new file). */
async function refuseSecrets(local: LocalFleet, conflict: ConflictRecord): Promise<void> {
  const target = join(local.paths.home, conflict.path)
  const fleet = await readManifest(local.paths.sourceDir)
  const managed = managedPathOf(fleet, conflict.path)
  if (!existsSync(target) || managed?.encrypt || confirmedPlain(managed?.plainText, local.paths.home, conflict.path)) return
  const source = join(local.paths.sourceDir, conflict.sourcePath)
  const findings = lstatSync(target).isDirectory()
    ? (await Promise.all(filesBelow(local.paths.home, [conflict.path]).map((file) => secretsInFile(join(local.paths.home, file))))).flat()
    : existsSync(source) && lstatSync(source).isFile() && !isEncryptedSourceFile(source)
      ? await secretsInAddedLines(target, source)
      : await secretsInFile(target)
  if (findings.length === 0) return
  throw new UsageError(
    `~/${conflict.path} looks like it holds a secret (${describeFindings(findings)}): keeping this machine's version would put it in the forge in plain text.`,
    `Take the secret out of the file (into ~/.config/fleet/secrets.env), or encrypt the path, then resolve again; or take the fleet's version: ${shellCommand('fleet', 'resolve', `~/${conflict.path}`, '--theirs')}`,
    'LOOKS_SECRET',
  )
}
