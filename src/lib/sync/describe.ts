// A sync's result in a person's words.
import {ExitCode} from '../errors/index.ts'
import {describeHolder} from '../lock/fleet-lock.ts'
import type {SyncResult} from './engine.ts'
import {describeFindings} from '../secrets/detect.ts'
import type {HeldBack} from './secret-check.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {readManifest} from '../manifest/store.ts'
import {countedPaths, pathList, plural, SHOWN, someLines} from '../platform/text.ts'

/** The exit code a sync's outcome calls for (README, "Exit codes"). */
export function syncExitCode(result: SyncResult): number {
  switch (result.outcome) {
    case 'offline':
      return ExitCode.forgeUnreachable
    case 'conflict':
      return ExitCode.conflict
    case 'error':
      return result.failure?.exitCode ?? ExitCode.error
    default:
      return ExitCode.ok
  }
}

/** A failed sync's error and fix, for stderr: at most SHOWN of the files each names (`fleet status --json` has them all). */
export function describeFailure(result: SyncResult): string | undefined {
  if (result.outcome !== 'error') return undefined
  const fix = result.failure?.fix
  return `Error: ${shortDetails(result.error ?? '')}\n${fix ? `Fix: ${shortDetails(fix)}\n` : ''}`
}

/** An error's or fix's lines for one file each (`  ~/…`) kept to SHOWN, then how many more. */
function shortDetails(text: string): string {
  const [head, ...rest] = text.split('\n')
  const details = rest.filter((line) => line.startsWith('  ~/'))
  if (details.length <= SHOWN) return text
  const others = rest.filter((line) => !line.startsWith('  ~/'))
  return [head, ...someLines(details, moreInStatus), ...others].join('\n')
}

/** The line after the first SHOWN of a list of details: the full list is in the sync log and `fleet status --json`. */
export const moreInStatus = (left: string) => `  … and ${left} more (\`fleet status --json\` lists them all)`

/**
 * A sync's result as lines for a person: every list of paths kept short (pathList; `roots`, the managed paths, name
 * the directory many of them share). The full lists are in `--json` and the sync log.
 */
export function describeSync(result: SyncResult, roots?: readonly string[]): string[] {
  const lines: string[] = []
  switch (result.outcome) {
    case 'deferred':
      return [describeDeferral(result)]
    case 'quick':
      return ['Up to date (nothing changed here, and the forge has not moved).']
    case 'error':
      return [] // the error itself goes to stderr (describeFailure)
    default:
  }
  const paths = {roots}
  if (result.captured.length > 0) lines.push(`Captured ${countedPaths(result.captured, 'change', paths)}`)
  if (result.merged.length > 0) {
    const them = result.merged.length === 1 ? 'it' : 'them'
    lines.push(`Merged ${plural(result.merged.length, 'file')} edited here with the fleet's changes to ${them}: ${pathList(result.merged, paths)}`)
  }
  if (result.pushed > 0) lines.push(`Pushed ${plural(result.pushed, 'commit')}.`)
  if (result.received > 0) lines.push(`Received ${plural(result.received, 'commit')} from the forge.`)
  if (result.applied.length > 0) lines.push(`Applied ${countedPaths(result.applied, 'file', paths)}`)
  if (result.backedUp.length > 0)
    lines.push(`Backed up ${plural(result.backedUp.length, 'file')} this machine had before the fleet's version replaced it: ${result.backupDir}`)
  lines.push(
    ...someLines(
      result.templates.map(
        (path) => `${path} was edited here, but it is a template: edit its source with \`chezmoi edit ~/${path}\` instead (your edit was not overwritten).`,
      ),
      (left) => `… and ${left} more templates edited here, likewise.`,
    ),
  )
  lines.push(
    ...someLines(
      result.skipped.map(({path, reason}) => `Not captured: ${path} (${reason}).`),
      (left) => `Not captured: ${left} more (\`fleet status --json\` lists them all).`,
    ),
  )
  lines.push(...describeHeldBack(result.heldBack))
  if (result.waiting.length > 0) lines.push(`Not applied yet (chezmoi did not write them; the next sync tries again): ${pathList(result.waiting, paths)}`)
  if (result.leftAlone.length > 0) lines.push(`Edited while this sync ran, left for the next one: ${pathList(result.leftAlone, paths)}`)
  for (const note of result.notes) lines.push(`Note: ${note}.`)
  for (const warning of result.warnings) lines.push(`Warning: ${warning}`)
  if (result.outcome === 'offline') lines.push(`The forge did not answer (${result.error}). Local commits are kept and will be pushed by the next sync.`)
  if (result.conflicts.length > 0) {
    lines.push(`Conflict: ${plural(result.conflicts.length, 'file')} changed here and on another machine in the same place:`)
    lines.push(
      ...someLines(
        result.conflicts.map(
          (c) => `  ${c.path} (this machine's version is where it was, on disk here; the fleet's is in the source repo; both kept on ${c.parkedBranch})`,
        ),
        moreInStatus,
      ),
    )
    lines.push(`Resolve each with: fleet resolve <path> --mine   (keep this machine's)   or   --theirs   (take the fleet's)`)
  }
  if (lines.length === 0) lines.push('Up to date.')
  return lines
}

/**
 * The managed paths, for describeSync to name the directory a long list's paths share; read (from the manifest) only
 * when a list is that long, and undefined when it cannot be read (the lines then name top folders).
 */
export async function managedRoots(local: LocalFleet, result: SyncResult): Promise<string[] | undefined> {
  const long = [result.captured, result.merged, result.applied, result.waiting, result.leftAlone].some((list) => list.length > SHOWN)
  if (!long) return undefined
  return readManifest(local.paths.sourceDir).then(
    (fleet) => fleet.paths.map((p) => p.path),
    () => undefined,
  )
}

/** Why nothing was synced now, and what happens instead: a sync runs once more; another command does not. */
function describeDeferral(result: SyncResult): string {
  const holder = result.holder
  if (!holder) return 'Another fleet process is running on this machine; the next sync runs for this one.'
  if (holder.purpose.startsWith('sync')) return `Another sync is running on this machine (${describeHolder(holder)}); it will run once more for this one.`
  return `Another fleet command is working on this machine (${describeHolder(holder)}); nothing was synced now: run \`fleet sync\` again once it is done (the agents' next sync does it too).`
}

/** How every command that runs a sync reports it: its lines, the error and fix (for stderr), and the exit code. */
export interface SyncReport {
  lines: string[]
  failure?: string
  exitCode: number
}

/** A sync's report, for the command to print: this says what to print and the exit code, and prints nothing. `roots`: see describeSync. */
export function reportSync(result: SyncResult, roots?: readonly string[]): SyncReport {
  return {lines: describeSync(result, roots), failure: describeFailure(result), exitCode: syncExitCode(result)}
}

/** What was held back because it looks like a secret, and the three ways out. Paths and kinds only, never values. */
export function describeHeldBack(heldBack: HeldBack[]): string[] {
  if (heldBack.length === 0) return []
  const lines = [`Held back (it looks like a secret; nothing of it left this machine): ${plural(heldBack.length, 'file')}`]
  lines.push(
    ...someLines(
      heldBack.map(({path, findings}) => `  ~/${path}: ${describeFindings(findings)}`),
      moreInStatus,
    ),
  )
  lines.push('  Fix: encrypt it (fleet remove-path <dir>, then fleet add-path --encrypt <dir>), or move the value into the')
  lines.push('  secrets file (~/.config/fleet/secrets.env), or, if it is not a secret: fleet add-path --plain-text <file>')
  return lines
}
