// The watcher's steps, each run in a process of its own (`fleet agents watcher-step`, started by step-process.ts): one
// sync, told in lines for the watcher's log, and what to watch next. The resident watcher never loads the sync
// engine, the manifest's schema or chezmoi's adapters, and the memory a sync of a large tree takes is given back
// when its process ends.
import {errorMessage} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import type {AgentSettings} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {rotateIfRequested} from '../rotation/rotate.ts'
import {sync, type SyncResult} from '../sync/engine.ts'

/** What the watcher watches and how it waits, as the manifest and the source repo say now. */
export interface WatchPlan {
  /** The managed paths, relative to $HOME. */
  managedPaths: string[]
  /** The fleet's branch, asked about at the forge. */
  branch: string
  /** The forge's address (undefined when the source repo has none). */
  remoteUrl?: string
  /** The debounce and the forge check's period. */
  agents: AgentSettings
}

/** What one step tells the watcher: lines for its log, and the plan after the step (none when it could not be read). */
export interface StepReport {
  lines: string[]
  plan?: WatchPlan
}

/** A sync's result in one line, for the watcher's log. */
export function describeResult(result: SyncResult): string {
  const parts = [`sync (${result.reason}): ${result.outcome}`]
  if (result.captured.length > 0) parts.push(`captured ${result.captured.length}`)
  if (result.pushed > 0) parts.push(`pushed ${result.pushed}`)
  if (result.received > 0) parts.push(`received ${result.received}`)
  if (result.applied.length > 0) parts.push(`applied ${result.applied.length}`)
  if (result.conflicts.length > 0) parts.push(`conflicts: ${result.conflicts.map((c) => c.path).join(', ')}`)
  if (result.error) parts.push(result.error.split('\n')[0])
  return parts.join('; ')
}

/** What to watch: read from the manifest (a manifest that cannot be read fails, with its message) and the source repo. */
export async function watchPlan(local: LocalFleet): Promise<WatchPlan> {
  const fleet = await readManifest(local.paths.sourceDir)
  return {
    managedPaths: fleet.paths.map((p) => p.path),
    branch: fleet.settings.branch,
    remoteUrl: await local.repo.remoteUrl(),
    agents: fleet.settings.agents,
  }
}

/**
 * One sync started by the watcher (`reason`), then the key rotation the fleet may have asked for, each told in lines;
 * then the plan, which the sync may have changed. A sync or a plan that fails is told, never thrown.
 */
export async function syncStep(local: LocalFleet, reason: string): Promise<StepReport> {
  const lines: string[] = []
  try {
    const result = await sync(local, {reason})
    lines.push(describeResult(result))
    if (result.outcome === 'ok' || result.outcome === 'quick') await rotateKeyIfRequested(local, lines)
  } catch (error) {
    lines.push(`sync (${reason}) failed: ${errorMessage(error)}`)
  }
  try {
    return {lines, plan: await watchPlan(local)}
  } catch (error) {
    lines.push(`cannot read the manifest: ${errorMessage(error)}`)
    return {lines}
  }
}

/** What the watcher asks a step for: the plan alone, or a sync (started for `reason`) and the plan after it. */
export type StepRequest = {plan: true} | {reason: string}

/** One step, as the watcher asks for it. */
export async function watcherStep(local: LocalFleet, request: StepRequest): Promise<StepReport> {
  return 'plan' in request ? {lines: [], plan: await watchPlan(local)} : await syncStep(local, request.reason)
}

/** The fleet asked every machine to rotate its key (`fleet rotate-keys --all`): rotate this one's, step by step in the log. */
async function rotateKeyIfRequested(local: LocalFleet, lines: string[]): Promise<void> {
  const report = await rotateIfRequested(local, async (steps) => {
    for (const step of steps) lines.push(`rotate-keys: ${step.title}: ${await step.run()}`)
  })
  if (report) lines.push(`rotate-keys: done; ${report.oldKeyRemoved ? 'the old key is removed' : `the old key is kept: ${report.oldKeyKept}`}`)
}
