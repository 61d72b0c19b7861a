// The manifest a sync starts from. When it cannot be read, the sync commits nothing on top of it: a step fleet left
// unfinished is undone, the forge is asked for a repaired version (taken when this machine's work goes on top of it
// cleanly), and otherwise the error says where the bad version came from and a fix that works.
import {ForgeUnreachableError} from '../errors/index.ts'
import {type GitRepo, upstreamRef} from '../git/git.ts'
import {describeCommit, lastManifestCommit, unreadableManifestAt} from '../manifest/history.ts'
import {DEFAULT_BRANCH, type Fleet} from '../manifest/schema.ts'
import {MANIFEST_RELATIVE_PATH, manifestPath, ManifestError, readManifest} from '../manifest/store.ts'
import {recordedStep, undoOperation} from './recover.ts'
import {shellCommand} from '../errors/shell-command.ts'

async function readOrError(sourceDir: string): Promise<Fleet | ManifestError> {
  try {
    return await readManifest(sourceDir)
  } catch (error) {
    if (error instanceof ManifestError) return error
    throw error
  }
}

/**
 * The manifest to sync from, repaired when it can be; throws a ManifestError saying where an unreadable one came from
 * otherwise. In order, each tried only when the one before leaves it unreadable: read it → undo a step fleet was
 * killed in and read again → refuse a person's uncommitted edit (never touched) → take the forge's readable version
 * when this machine's work goes on top of it cleanly → say which commit brought the bad version, and the fix.
 */
export async function readManifestForSync(repo: GitRepo, notes: string[]): Promise<Fleet> {
  const sourceDir = repo.dir
  let read = await readOrError(sourceDir)
  if (!(read instanceof ManifestError)) return read

  // A merge fleet was killed in may have left the file half written: undo it, then read again.
  const recorded = repo.recordedOperation()
  if (recorded) {
    notes.push(await undoOperation(repo, recorded))
    read = await readOrError(sourceDir)
    if (!(read instanceof ManifestError)) return read
  }
  await refuseUncommittedEdit(repo, read)

  // Committed here (by hand, or merged by an older fleet): the forge may hold the repair.
  const branch = (await repo.currentBranch()) ?? DEFAULT_BRANCH
  const forge = await takeForgeManifest(repo, branch)
  if (forge.taken) {
    notes.push(`brought in the forge's readable manifest in place of the one this machine could not read`)
    return readManifest(sourceDir)
  }
  throw await committedManifestError(repo, branch, read, forge.note)
}

/** Changed by hand and not committed: the person's edit, never committed or overwritten by fleet. Throws if so. */
async function refuseUncommittedEdit(repo: GitRepo, read: ManifestError): Promise<void> {
  if (!(await repo.status()).some((entry) => entry.path === MANIFEST_RELATIVE_PATH)) return
  const file = manifestPath(repo.dir)
  const committedReads = (await unreadableManifestAt(repo, 'HEAD', 'as committed')) === undefined
  throw new ManifestError(
    `${read.message}\nIt was changed in the source repo and not committed; nothing was committed or pushed.`,
    committedReads
      ? `Correct the field in ${file}, or go back to the committed version: \`${shellCommand('git', '-C', repo.dir)} checkout HEAD -- ${MANIFEST_RELATIVE_PATH}\`; then run \`fleet sync\` again.`
      : `Correct the field in ${file}, then run \`fleet sync\` again.`,
  )
}

/**
 * Brings in the forge's commits when they carry a readable manifest and this machine's work goes on top of them
 * cleanly (a recorded step: undone when it does not); `taken` says whether it did, `note` why the forge was not asked.
 */
async function takeForgeManifest(repo: GitRepo, branch: string): Promise<{taken: boolean; note: string}> {
  try {
    await repo.fetch()
    const upstream = upstreamRef(branch)
    const theirs = await repo.revParse(upstream)
    if (theirs === undefined || (await repo.countAhead(upstream, 'HEAD')) <= 0 || (await unreadableManifestAt(repo, theirs, 'on the forge')) !== undefined) {
      return {taken: false, note: ''}
    }
    const ahead = await repo.countAhead('HEAD', upstream)
    const taken = await recordedStep(repo, branch, "take the forge's manifest", async () => {
      if (ahead === 0) await repo.git(['merge', '--quiet', '--ff-only', upstream])
      else if ((await repo.rebase(upstream)) === 'conflict') return false
      if ((await unreadableManifestAt(repo, 'HEAD', '')) !== undefined) throw new ManifestError('still unreadable', '')
      return true
    }).catch((error: unknown) => {
      if (error instanceof ManifestError) return false
      throw error
    })
    return {taken, note: ''}
  } catch (error) {
    if (!(error instanceof ForgeUnreachableError)) throw error
    return {taken: false, note: ` The forge could not be asked for a repaired version (${error.message}).`}
  }
}

/** The error for an unreadable manifest committed here: the commit that brought it, whether the forge has it, the fix. */
async function committedManifestError(repo: GitRepo, branch: string, read: ManifestError, forgeNote: string): Promise<ManifestError> {
  const git = shellCommand('git', '-C', repo.dir)
  const file = manifestPath(repo.dir)
  const commit = await lastManifestCommit(repo, 'HEAD')
  const onForge =
    commit !== undefined && (await repo.git(['merge-base', '--is-ancestor', commit.sha, upstreamRef(branch)], {allowFailure: true})).exitCode === 0
  return new ManifestError(
    `${read.message}\nIt came with ${describeCommit(commit)}${onForge ? ', which the forge has too' : ', made on this machine'}; nothing was committed or pushed.${forgeNote}`,
    commit
      ? `Undo that commit: \`${git} revert --no-edit ${commit.short}\`; or correct the field in ${file} and commit it: \`${git} commit -am "Repair the fleet manifest"\`. Then run \`fleet sync\`: it sends the repair to the forge.`
      : `Correct the field in ${file} and commit it: \`${git} commit -am "Repair the fleet manifest"\`; then run \`fleet sync\`.`,
  )
}
