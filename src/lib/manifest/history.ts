// The manifest as a commit has it: whether it reads, and which commit brought it, so that a machine never builds on
// a manifest it cannot read and the person learns where the bad version came from.
import type {GitRepo} from '../git/git.ts'
import {MANIFEST_RELATIVE_PATH, ManifestError, parseManifest} from './store.ts'
import {shellCommand} from '../errors/shell-command.ts'

export interface ManifestCommit {
  sha: string
  short: string
  author: string
  subject: string
}

/** The last commit reachable from `ref` that changed the manifest. */
export async function lastManifestCommit(repo: GitRepo, ref: string, filter: string[] = []): Promise<ManifestCommit | undefined> {
  const result = await repo.git(['log', '-1', ...filter, '--format=%H%x00%h%x00%an%x00%s', ref, '--', MANIFEST_RELATIVE_PATH], {allowFailure: true})
  const [sha, short, author, subject] = result.stdout.trim().split('\0')
  return result.exitCode === 0 && sha ? {sha, short, author, subject} : undefined
}

export function describeCommit(commit: ManifestCommit | undefined): string {
  return commit ? `commit ${commit.short} by ${commit.author}, "${commit.subject}"` : 'an unknown commit'
}

export interface UnreadableManifest {
  /** What is wrong, the file named as `where` says (the YAML error, or each invalid field with its message). */
  problem: string
  /** The commit that last changed the manifest at that ref. */
  commit?: ManifestCommit
}

/** Why the manifest at `ref` cannot be read (`where` names it in the message), or undefined when it reads. */
export async function unreadableManifestAt(repo: GitRepo, ref: string, where: string): Promise<UnreadableManifest | undefined> {
  const text = await repo.show(ref, MANIFEST_RELATIVE_PATH)
  if (text === undefined) {
    return {
      problem: `${MANIFEST_RELATIVE_PATH} ${where} does not exist: the fleet's manifest was deleted`,
      commit: await lastManifestCommit(repo, ref, ['--diff-filter=D']),
    }
  }
  try {
    parseManifest(text, `${MANIFEST_RELATIVE_PATH} ${where}`)
    return undefined
  } catch (error) {
    if (!(error instanceof ManifestError)) return undefined // a newer schema: reading it asks for an upgrade, which works
    return {problem: error.message, commit: await lastManifestCommit(repo, ref)}
  }
}

/**
 * The forge's branch holds a manifest no machine can read: nothing of it is merged here (this machine's work stays
 * committed on its own readable history) and nothing is pushed. The fix undoes the bad commit on the forge from this
 * machine's source repo, without touching this machine's branch.
 */
export function forgeManifestError(sourceDir: string, branch: string, bad: UnreadableManifest): ManifestError {
  const git = shellCommand('git', '-C', sourceDir)
  const undo = bad.commit
    ? `Undo that commit on the forge from this machine: \`${git} fetch origin && ${git} switch --detach origin/${branch} && ${git} revert --no-edit ${bad.commit.short} && ${git} push origin HEAD:${branch} && ${git} switch ${branch}\`; or correct the file where that commit was made, commit and push it there. `
    : `Correct ${MANIFEST_RELATIVE_PATH} on the forge's branch ${branch} from any clone of it, commit and push. `
  return new ManifestError(
    `The forge's manifest cannot be read (${describeCommit(bad.commit)}): ${bad.problem}\nNothing of it was merged here and nothing was pushed: every machine would stop on it.`,
    `${undo}Then run \`fleet sync\`: it brings the repair in and sends this machine's work, which is kept here meanwhile.`,
  )
}
