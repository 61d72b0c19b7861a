// `fleet status` in a person's words.
import type {ManagerKind} from '../agents/render.ts'
import {describeHolder, stuckLockError} from '../lock/fleet-lock.ts'
import {pathList, someLines} from '../platform/text.ts'
import {describeHeldBack, moreInStatus} from '../sync/describe.ts'
import type {StatusReport} from './status.ts'

/** The status report as lines: the machine, its last sync and the lock, where it stands, the agents (as `manager` runs them), the roster. */
export function describeStatus(report: StatusReport, manager: ManagerKind | undefined): string[] {
  const lines: string[] = []
  const last = report.lastSync
  lines.push(`${report.machine} (${report.state}) — forge ${report.forge ?? '(none)'}`)
  lines.push(last ? `Last sync: ${last.at} (${last.reason}): ${last.outcome}${last.error ? ` — ${last.error.split('\n')[0]}` : ''}` : 'Last sync: never')
  // Each file a failed apply names, with what is wrong with it (the fix is printed by `fleet sync`).
  const details =
    last?.error
      ?.split('\n')
      .slice(1)
      .filter((line) => line.startsWith('  ~/')) ?? []
  lines.push(...someLines(details, moreInStatus))
  if (report.key) lines.push(`Key: ${report.key.message}`, ...(report.key.fix ? [`  Fix: ${report.key.fix}`] : []))
  if (report.lock) {
    const {lock} = report
    if (lock.stuck) {
      const stuck = stuckLockError(lock)
      lines.push(`Stuck: ${stuck.message}`, `  Fix: ${stuck.fix}`)
    } else {
      lines.push(
        lock.stale
          ? `A stale lock from pid ${lock.pid} (${lock.purpose}, ${lock.startedAt}) is cleared by the next sync.`
          : `Running now: ${describeHolder(lock)}.`,
      )
    }
  }
  lines.push(`Ahead of the forge by ${report.ahead} commit(s), behind by ${report.behind} (as of the last fetch).`)
  const paths = {roots: report.managedPaths}
  if (last?.waiting?.length) lines.push(`Not applied yet (the next sync tries again): ${pathList(last.waiting, paths)}`)
  if (report.pendingCaptures.length > 0) lines.push(`Edited here, captured at the next sync: ${pathList(report.pendingCaptures, paths)}`)
  lines.push(...describeHeldBack(report.heldBack))
  lines.push(
    ...someLines(
      report.notCaptured.map(({path, reason}) => `Not captured: ~/${path} (${reason}).`),
      (left) => `Not captured: ${left} more (\`fleet status --json\` lists them all).`,
    ),
  )
  if (report.conflicts.length > 0) {
    lines.push("Conflicts (this machine's version stays on disk here; both versions are kept):")
    lines.push(
      ...someLines(
        report.conflicts.map(
          (c) => `  ${c.path}   (${c.keys ? `keys changed on both: ${c.keys.join(', ')}; ` : ''}parked on ${c.parkedBranch}; since ${c.at})`,
        ),
        moreInStatus,
      ),
    )
    lines.push('  Resolve with: fleet resolve <path> --mine | --theirs')
  }
  lines.push(...describeKeyRotation(report))
  lines.push(manager ? `Agents (${manager}):` : 'Agents (no service manager here: `fleet agents run` runs them in the foreground):')
  const idWidth = Math.max(12, ...report.agents.map((a) => a.id.length))
  for (const a of report.agents) {
    const state = manager ? (a.installed ? (a.running ? 'running' : 'installed, not running') : 'not installed') : ''
    const trigger = a.lastTrigger ? `last sync ${a.lastTrigger.at} (${a.lastTrigger.reason}): ${a.lastTrigger.outcome}` : 'no sync yet'
    lines.push(`  ${a.id.padEnd(idWidth)} ${state.padEnd(24)} ${trigger}`)
  }
  lines.push('Roster:')
  for (const m of report.roster)
    lines.push(`  ${m.name.padEnd(16)} ${m.state.padEnd(8)} ${m.hostname} (${m.os})${m.name === report.machine ? '  ← this machine' : ''}`)
  return lines
}

/** A rotation of this machine's key that did not finish, and the fleet's rotation request (`rotate-keys --all`). */
function describeKeyRotation(report: StatusReport): string[] {
  const lines: string[] = []
  const unfinished = {
    'new-key': 'the new key is made, the roster does not name it yet',
    'on-roster': 'the roster names the new key; the key files are not swapped yet',
    swapped: 'the key files are swapped; the old key is kept until every encrypted file at the forge opens with the new one',
  } as const
  if (report.keyRotation !== 'none') {
    lines.push(`Key rotation not finished: ${unfinished[report.keyRotation]}. Run \`fleet rotate-keys --yes\` (or \`fleet sync\`) to finish it.`)
  }
  const request = report.rotationRequest
  if (request) {
    lines.push(
      request.onOldKeys.length > 0
        ? `Key rotation asked of every machine (${request.requestedAt}): still on an old key: ${request.onOldKeys.join(', ')} (each rotates at its next sync).`
        : `Key rotation asked of every machine (${request.requestedAt}): done, every active machine has a new key.`,
    )
  }
  return lines
}
