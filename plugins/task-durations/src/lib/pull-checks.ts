// pull-fleet's checks for fleet doctor: rsync is here, each peer answers over SSH with its pinned host key, and the
// last pull is recent. Every process they start stops with the hook's signal and within its time.
import {FleetError, type Machine, parseSshAddress, type PluginCheckResult, readFleet, run, sshDestination} from '@dotfleet/fleet'

import {PULL_EVERY_SECONDS} from '../hooks/agents.ts'
import type {DurationsPaths} from './paths.ts'
import {readLastPull} from './pull-record.ts'
import {
  type ConnectionFailure,
  connectionFailure,
  describeConnectionFailure,
  knownHostsFile,
  recordedNewHostKey,
  sshArgs,
  sshByHand,
  type SshSettings,
} from './ssh.ts'

/** A last pull older than this many of the agent's intervals is worth a warning. */
const STALE_PULLS = 3

/** What the checks need: the plugin's files, the environment, the hook's signal and time. */
export interface PullCheckContext {
  paths: DurationsPaths
  env: NodeJS.ProcessEnv
  signal: AbortSignal
  timeoutMs: number
}

/** Time for one process, leaving the hook a little to answer within its `timeoutMs`. */
function processBudgetMs(timeoutMs: number): number {
  return Math.max(500, timeoutMs - 750)
}

/** All of pull-fleet's checks, at once: `task-durations.rsync`, `task-durations.peer.<name>` per peer, `task-durations.last-pull`. */
export async function pullChecks(context: PullCheckContext): Promise<PluginCheckResult[]> {
  const rsync = rsyncCheck(context)
  let peers: Machine[]
  try {
    peers = (await readFleet(context.env)).peers
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    return [
      await rsync,
      {id: 'task-durations.last-pull', status: 'skip', message: `Not looked at: this machine's fleet cannot be read (${why.replace(/\.$/, '')}).`},
    ]
  }
  const [rsyncResult, ...peerResults] = await Promise.all([rsync, ...peers.map((peer) => peerCheck(peer, context))])
  return [rsyncResult, ...peerResults, await lastPullCheck(peers, context)]
}

/** `task-durations.rsync`: rsync is on PATH (pull-fleet copies with it). */
export async function rsyncCheck(context: PullCheckContext): Promise<PluginCheckResult> {
  const id = 'task-durations.rsync'
  try {
    const result = await run('rsync', ['--version'], {timeout: processBudgetMs(context.timeoutMs), signal: context.signal, allowFailure: true})
    const version = /version\s+(\S+)/.exec(result.stdout)?.[1]
    if (result.exitCode === 0) return {id, status: 'ok', message: `rsync${version ? ` ${version}` : ''} is on PATH.`}
    return {id, status: 'fail', message: `rsync --version exited ${result.exitCode}.`, fix: 'Reinstall rsync (apt install rsync, brew install rsync).'}
  } catch (error) {
    if (error instanceof FleetError && error.code === 'NOT_FOUND') {
      return {
        id,
        status: 'fail',
        message: 'rsync is not on PATH: pull-fleet cannot copy the peers’ files.',
        fix: 'Install rsync (apt install rsync, brew install rsync).',
      }
    }
    throw error
  }
}

/** `task-durations.peer.<name>`: the peer answers over SSH (a short `ssh … true`, BatchMode, its pinned host key). */
export async function peerCheck(peer: Machine, context: PullCheckContext): Promise<PluginCheckResult> {
  const id = `task-durations.peer.${peer.name}`
  if (!peer.sshAddress) {
    return {
      id,
      status: 'skip',
      message: `${peer.name} has no SSH address in the roster: it is not pulled.`,
      fix: `On ${peer.name}: fleet machines address [user@]host[:port].`,
    }
  }
  let address
  try {
    address = parseSshAddress(peer.sshAddress)
  } catch (error) {
    return {
      id,
      status: 'fail',
      message: `${peer.name}'s SSH address "${peer.sshAddress}" cannot be used.`,
      fix: error instanceof FleetError ? error.fix : undefined,
    }
  }
  const budgetMs = processBudgetMs(context.timeoutMs)
  const settings: SshSettings = {knownHosts: knownHostsFile(context.paths.dir), connectTimeoutSeconds: Math.floor((budgetMs * 0.6) / 1000), env: context.env}
  const result = await run('ssh', [...sshArgs(address, settings), sshDestination(address), 'true'], {
    timeout: budgetMs,
    signal: context.signal,
    allowFailure: true,
  })
  if (result.exitCode === 0) {
    const recorded = recordedNewHostKey(result.stderr) ? '; its host key was recorded now, at first contact' : ''
    return {id, status: 'ok', message: `${peer.name} answers at ${peer.sshAddress}${recorded}.`}
  }
  const failure: ConnectionFailure | undefined = result.timedOut
    ? {kind: 'offline', reason: `no answer within ${(budgetMs / 1000).toFixed(1)} s`}
    : connectionFailure(result.stderr)
  if (!failure) {
    const said = result.stderr.trim().split('\n').at(-1)?.slice(0, 200)
    return {
      id,
      status: 'fail',
      message: `ssh to ${peer.name} at ${peer.sshAddress} exited ${result.exitCode}${said ? ` (${said})` : ''}.`,
      fix: `Try it by hand: ${sshByHand(address)}.`,
    }
  }
  const {what, fix} = describeConnectionFailure(failure, peer.name, address, settings)
  return {id, status: failure.kind === 'offline' ? 'warn' : 'fail', message: `${peer.name} at ${peer.sshAddress}: ${what}.`, fix}
}

/** `task-durations.last-pull`: the last pull ran within STALE_PULLS agent intervals and every peer was fine in it (from last-pull.json). */
export async function lastPullCheck(peers: Machine[], context: PullCheckContext): Promise<PluginCheckResult> {
  const id = 'task-durations.last-pull'
  if (!peers.some((peer) => peer.sshAddress)) {
    return {
      id,
      status: 'skip',
      message: 'No peer has an SSH address in the roster: there is nothing to pull.',
      fix: 'On each machine to pull from: fleet machines address [user@]host[:port].',
    }
  }
  const last = await readLastPull(context.paths.dir)
  const fix = `Run fleet task-durations pull-fleet; its agent does every ${PULL_EVERY_SECONDS / 60} minutes once installed (fleet agents install, then fleet agents list shows it).`
  if (!last) return {id, status: 'warn', message: 'No pull has run on this machine yet: estimate --fleet has no peer’s durations.', fix}
  const ageMs = Date.now() - Date.parse(last.pulledAt)
  const failed = last.peers.filter((peer) => !peer.ok)
  const outcome =
    failed.length === 0
      ? 'every peer fine'
      : `${failed.length} of ${last.peers.length} failed: ${failed.map((peer) => `${peer.peer} (${peer.status})`).join(', ')}`
  const when = `The last pull was ${ago(ageMs)} (${outcome})`
  if (ageMs > STALE_PULLS * PULL_EVERY_SECONDS * 1000) {
    return {id, status: 'warn', message: `${when}: more than ${(STALE_PULLS * PULL_EVERY_SECONDS) / 60} minutes, so its agent is not pulling.`, fix}
  }
  if (failed.length > 0) {
    const fixes = failed.filter((peer) => peer.fix).map((peer) => `${peer.peer}: ${peer.fix}`)
    return {
      id,
      status: 'warn',
      message: `${when}: their durations are only as recent as their last good copies.`,
      fix: fixes.length > 0 ? fixes.join(' ') : 'Run fleet task-durations pull-fleet to see what each failed peer says and what to do.',
    }
  }
  return {id, status: 'ok', message: `${when}.`}
}

/** `40 s ago`, `12 min ago`, `5 h ago`, `3 d ago`. */
function ago(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000)
  if (seconds < 120) return `${seconds} s ago`
  const minutes = Math.round(seconds / 60)
  if (minutes < 120) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} d ago`
}
