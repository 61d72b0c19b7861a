// How pull-fleet shows itself: in a terminal, listr2's live view with one task per peer; otherwise (an agent, a pipe,
// CI) one plain line per peer as it ends; and after either, a summary with what to do about the peers that failed.
import type {PeerOutcome, PullReport, PullRunner} from './pull.ts'

/** One line for a peer's outcome: `laptop: copied 1.2 MB`. */
export function peerLine(outcome: PeerOutcome): string {
  return `${outcome.peer}: ${outcome.message}`
}

/** The narrowest terminal the live view is drawn in: in a narrower one its lines would wrap into a character a line. */
export const LIVE_VIEW_MIN_COLUMNS = 40

/**
 * Whether to draw the live view: on a terminal of a known width, LIVE_VIEW_MIN_COLUMNS or more, and not in CI; plain
 * lines otherwise (some terminals, a serial console or an emulator without a size, report 0 columns).
 */
export function showsLiveView(stdout: {isTTY?: boolean; columns?: number}, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stdout.isTTY) && !env.CI && (stdout.columns ?? 0) >= LIVE_VIEW_MIN_COLUMNS
}

/**
 * A PullRunner that shows listr2's live view on stdout: one task per peer, titled with its address while it runs and
 * with its outcome once done (a failed peer is shown failed, and the others go on).
 */
export function liveRunner(): PullRunner {
  return async (pulls, concurrency) => {
    const {Listr} = await import('listr2')
    const outcomes: PeerOutcome[] = Array.from({length: pulls.length})
    const tasks = pulls.map((pull, index) => ({
      title: `${pull.peer}${pull.address ? ` (${pull.address})` : ''}`,
      task: async (_: unknown, task: {title: string; skip(message?: string): void}) => {
        const outcome = await pull.pull()
        outcomes[index] = outcome
        if (outcome.status === 'no-address') return task.skip(peerLine(outcome))
        if (!outcome.ok) throw new Error(peerLine(outcome))
        task.title = peerLine(outcome)
      },
    }))
    const list = new Listr(tasks, {concurrent: concurrency, exitOnError: false, collectErrors: false, registerSignalListeners: true})
    await list.run()
    return outcomes
  }
}

/** What pull-fleet prints after the peers (their lines come from the runner), and its exit code: 1 when a peer failed. */
export function describePull(report: PullReport, home: string): {lines: string[]; exitCode: number} {
  if (report.peers.length === 0) return {lines: ['The roster has no other active machine: nothing to pull.'], exitCode: 0}
  const count = (status: PeerOutcome['status']) => report.peers.filter((peer) => peer.status === status).length
  const failed = report.peers.filter((peer) => !peer.ok)
  const parts = [
    count('copied') > 0 ? `${count('copied')} copied` : '',
    count('unchanged') > 0 ? `${count('unchanged')} unchanged` : '',
    count('no-file') > 0 ? `${count('no-file')} with nothing recorded yet` : '',
    count('no-address') > 0 ? `${count('no-address')} without an SSH address` : '',
    failed.length > 0 ? `${failed.length} failed (the last good copies are kept)` : '',
  ].filter(Boolean)
  const tree = report.tree.startsWith(`${home}/`) ? `~${report.tree.slice(home.length)}` : report.tree
  const peers = report.peers.length === 1 ? '1 peer' : `${report.peers.length} peers`
  const lines = [`Pulled ${peers} in ${(report.durationMs / 1000).toFixed(1)} s into ${tree}: ${parts.join(', ')}.`]
  for (const peer of report.peers.filter((p) => p.fix && (!p.ok || p.status === 'no-address' || p.status === 'no-file')))
    lines.push(`  ${peer.peer}: ${peer.fix}`)
  return {lines, exitCode: report.ok ? 0 : 1}
}
