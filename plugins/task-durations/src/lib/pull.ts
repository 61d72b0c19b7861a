// pull-fleet: every peer's local.parquet, copied over SSH with rsync into this machine's Hive-partitioned tree
// (`<data>/fleet/host=<peer>/local.parquet`). Peers are pulled in parallel (a few at once), each within a time limit;
// a download replaces the last good copy only once it is known to be a complete parquet file, since one truncated
// file would fail every fleet query; whatever goes wrong with one peer leaves its last good copy where it was.
import {copyFile, link, mkdir, rename, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {FleetError, type Machine, parseSshAddress, run, type SshAddress, sshDestination} from '@dotfleet/fleet'

import {removeAbandonedFiles} from './leftovers.ts'
import {type DurationsPaths, hostFile} from './paths.ts'
import {type LastPull, writeLastPull} from './pull-record.ts'
import {connectionFailure, describeConnectionFailure, knownHostsFile, recordedNewHostKey, rsyncShell, sshByHand, type SshSettings} from './ssh.ts'

/** Where a peer keeps its file, relative to its home directory (the plugin's default data directory there). */
export const REMOTE_FILE = '.local/share/fleet/task-durations/local.parquet'
/**
 * How many peers are pulled at once: a person's fleet of a few machines all at once, so that a pull takes about as long
 * as its slowest peer; a larger one never opens more connections than this.
 */
export const PULL_CONCURRENCY = 8
/** Seconds a peer has to answer at all (ssh's ConnectTimeout). */
export const CONNECT_TIMEOUT_SECONDS = 10
/** How long one peer's pull may take in all, in milliseconds; past it, its rsync and ssh are stopped. */
export const PEER_TIMEOUT_MS = 60_000
/** Seconds rsync waits for data before it gives up on a connection that went quiet (its --timeout). */
const IO_TIMEOUT_SECONDS = 30

/**
 * How a peer's pull came out. Fine: `copied` (a new copy), `unchanged` (the copy is the peer's file already),
 * `no-file` (the peer has recorded nothing yet), `no-address` (the roster has no SSH address for it: not pulled).
 * Failed, the last good copy kept: `offline`, `host-key-changed` (refused), `host-key-unverified`, `denied` (the
 * peer refused the login), `bad-file` (what came was not a complete parquet file), `timed-out`, `failed` (anything else).
 */
export type PeerStatus =
  'copied' | 'unchanged' | 'no-file' | 'no-address' | 'offline' | 'host-key-changed' | 'host-key-unverified' | 'denied' | 'bad-file' | 'timed-out' | 'failed'

const FINE: ReadonlySet<PeerStatus> = new Set<PeerStatus>(['copied', 'unchanged', 'no-file', 'no-address'])

/** One peer's pull. */
export interface PeerOutcome {
  peer: string
  /** Its SSH address in the roster. */
  address?: string
  status: PeerStatus
  /** Not a failure (see PeerStatus). */
  ok: boolean
  /** One line for a person: `copied 1.2 MB`, `offline (connection refused); the last good copy is kept`. */
  message: string
  /** What to do, where it failed. */
  fix?: string
  /** The size of this peer's copy in the tree now, when there is one. */
  bytes?: number
  /** Its host key was recorded just now, at first contact. */
  hostKeyRecorded?: boolean
  durationMs: number
}

/** What pull-fleet did. */
export interface PullReport {
  /** When it started, ISO 8601. */
  pulledAt: string
  durationMs: number
  /** The Hive-partitioned tree the copies are in. */
  tree: string
  /** The file peers' host keys are pinned in. */
  knownHosts: string
  /** Every peer was fine (see PeerStatus). */
  ok: boolean
  peers: PeerOutcome[]
}

/** How to pull: where the plugin's files are, the environment (FLEET_SSH_IDENTITY), the limits; a signal that stops every pull. */
export interface PullSettings {
  paths: DurationsPaths
  env: NodeJS.ProcessEnv
  connectTimeoutSeconds?: number
  peerTimeoutMs?: number
  concurrency?: number
  signal?: AbortSignal
}

/** One peer's pull, to be run: the runner shows its name and address, and calls `pull`. */
export interface PeerPull {
  peer: string
  address?: string
  pull(): Promise<PeerOutcome>
}

/** Runs the peers' pulls, at most `concurrency` at once, and gives their outcomes in the pulls' order. */
export type PullRunner = (pulls: PeerPull[], concurrency: number) => Promise<PeerOutcome[]>

/** A PullRunner without a display: at most `concurrency` pulls at once, `onDone` told of each as it ends. */
export function inParallel(onDone?: (outcome: PeerOutcome) => void): PullRunner {
  return async (pulls, concurrency) => {
    const outcomes: PeerOutcome[] = Array.from({length: pulls.length})
    let next = 0
    const worker = async () => {
      while (next < pulls.length) {
        const index = next++
        outcomes[index] = await pulls[index].pull()
        onDone?.(outcomes[index])
      }
    }
    await Promise.all(Array.from({length: Math.min(concurrency, pulls.length)}, worker))
    return outcomes
  }
}

/**
 * Pull every peer's file into the tree (see the file's comment), through `runner` (inParallel unless told), and
 * record the pull in `<data>/last-pull.json`. Never throws for one peer's failure: each is an outcome.
 */
export async function pullFleet(peers: Machine[], settings: PullSettings, runner: PullRunner = inParallel()): Promise<PullReport> {
  const started = Date.now()
  const pulledAt = new Date(started).toISOString()
  await mkdir(settings.paths.fleetDir, {recursive: true})
  const pulls = peers.map((peer) => ({peer: peer.name, address: peer.sshAddress, pull: () => pullPeer(peer, settings)}))
  const outcomes = await runner(pulls, settings.concurrency ?? PULL_CONCURRENCY)
  const report: PullReport = {
    pulledAt,
    durationMs: Date.now() - started,
    tree: settings.paths.fleetDir,
    knownHosts: knownHostsFile(settings.paths.dir),
    ok: outcomes.every((outcome) => outcome.ok),
    peers: outcomes,
  }
  const record: LastPull = {
    pulledAt,
    durationMs: report.durationMs,
    ok: report.ok,
    peers: outcomes.map(({peer, status, ok, message, fix}) => ({peer, status, ok, message, ...(ok || !fix ? {} : {fix})})),
  }
  await writeLastPull(settings.paths.dir, record)
  return report
}

/** Pull one peer's file (see pullFleet). */
export async function pullPeer(peer: Machine, settings: PullSettings): Promise<PeerOutcome> {
  const started = Date.now()
  const outcome = (status: PeerStatus, message: string, extra: Partial<PeerOutcome> = {}): PeerOutcome => ({
    peer: peer.name,
    ...(peer.sshAddress ? {address: peer.sshAddress} : {}),
    status,
    ok: FINE.has(status),
    message,
    ...extra,
    durationMs: Date.now() - started,
  })
  if (!peer.sshAddress) {
    return outcome('no-address', 'not pulled: it has no SSH address in the roster', {
      fix: `On ${peer.name}, record how to reach it: fleet machines address [user@]host[:port].`,
    })
  }
  let address: SshAddress
  try {
    address = parseSshAddress(peer.sshAddress)
  } catch (error) {
    return outcome('failed', `its SSH address "${peer.sshAddress}" cannot be used; nothing pulled`, {fix: error instanceof FleetError ? error.fix : undefined})
  }

  const target = hostFile(settings.paths, peer.name)
  const ssh: SshSettings = {
    knownHosts: knownHostsFile(settings.paths.dir),
    connectTimeoutSeconds: settings.connectTimeoutSeconds ?? CONNECT_TIMEOUT_SECONDS,
    env: settings.env,
  }
  await mkdir(dirname(target), {recursive: true})
  await removeAbandonedFiles(dirname(target))
  const lastGood = await sizeOf(target)
  // The download goes to a file beside the copy, whose name no `*.parquet` glob matches. It starts as the last good
  // copy (a hard link), so that rsync sends only what changed, and leaves it alone when nothing did; rsync writes a
  // changed file anew and renames it over this name, never touching the copy itself.
  const part = `${target}.${process.pid}.part`
  await rm(part, {force: true})
  if (lastGood !== undefined) await link(target, part).catch(() => copyFile(target, part))
  const before = await identityOf(part)
  try {
    const timeoutMs = settings.peerTimeoutMs ?? PEER_TIMEOUT_MS
    let result
    try {
      result = await run(
        'rsync',
        ['--times', `--timeout=${IO_TIMEOUT_SECONDS}`, '-e', rsyncShell(address, ssh), `${sshDestination(address)}:${REMOTE_FILE}`, part],
        {allowFailure: true, timeout: timeoutMs, processGroup: true, signal: settings.signal},
      )
    } catch (error) {
      if (error instanceof FleetError && error.code === 'NOT_FOUND') {
        return outcome('failed', 'rsync is not installed on this machine: nothing pulled', {
          fix: 'Install rsync (apt install rsync, brew install rsync) or put it on PATH.',
        })
      }
      throw error
    }
    const kept = lastGood === undefined ? 'no copy of it yet' : 'the last good copy is kept'
    const firstContact = recordedNewHostKey(result.stderr) ? {hostKeyRecorded: true} : {}
    const recorded = firstContact.hostKeyRecorded ? ' (host key recorded at first contact)' : ''
    if (result.timedOut) {
      return outcome('timed-out', `did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped; ${kept}`, {
        fix: `Check ${peer.name}'s network; the next pull tries again.`,
        ...(lastGood === undefined ? {} : {bytes: lastGood}),
      })
    }
    if (result.exitCode === 0) {
      const after = await identityOf(part)
      if (lastGood !== undefined && after === before)
        return outcome('unchanged', `unchanged (${formatBytes(lastGood)})${recorded}`, {bytes: lastGood, ...firstContact})
      const size = (await sizeOf(part)) ?? 0
      // DuckDB is loaded only once a download needs checking.
      const {isCompleteParquet} = await import('./parquet.ts')
      if (!(await isCompleteParquet(part))) {
        return outcome('bad-file', `sent an incomplete parquet file (${formatBytes(size)}), discarded; ${kept}`, {
          fix: `Look at ~/${REMOTE_FILE} on ${peer.name}: fleet task-durations record replaces it whole, so something else wrote it.`,
          ...(lastGood === undefined ? {} : {bytes: lastGood}),
          ...firstContact,
        })
      }
      await rename(part, target)
      return outcome('copied', `copied ${formatBytes(size)}${recorded}`, {bytes: size, ...firstContact})
    }
    const extra = {...(lastGood === undefined ? {} : {bytes: lastGood}), ...firstContact}
    if (result.exitCode === 23 && /No such file or directory/i.test(result.stderr)) {
      const gone = lastGood === undefined ? '' : `, its file is gone (${kept})`
      return outcome('no-file', `has recorded nothing yet: no ~/${REMOTE_FILE} there${gone}${recorded}`, {
        fix: `A peer with FLEET_DATA_DIR set keeps its records under that directory instead, which pull-fleet does not read: record on ${peer.name} without it for its durations to be pulled.`,
        ...extra,
      })
    }
    const failure = connectionFailure(result.stderr)
    if (failure) {
      const {what, fix} = describeConnectionFailure(failure, peer.name, address, ssh)
      return outcome(failure.kind, `${what}; ${kept}`, {fix, ...extra})
    }
    const said = lastLine(result.stderr)
    if (/rsync: (command )?not found/i.test(result.stderr) || result.exitCode === 127) {
      return outcome('failed', `rsync is not installed on ${peer.name}; ${kept}`, {fix: `Install rsync on ${peer.name}.`, ...extra})
    }
    return outcome('failed', `rsync exited ${result.exitCode}${said ? ` (${said})` : ''}; ${kept}`, {
      fix: `See whether ${peer.name} can be reached by hand: ${sshByHand(address)}; the next pull tries again.`,
      ...extra,
    })
  } finally {
    await rm(part, {force: true})
  }
}

/** A file's size, or undefined when there is no such file. */
async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size
  } catch {
    return undefined
  }
}

/** Which file is at `path` (device, inode and modification time), to tell whether rsync replaced it; undefined when none. */
async function identityOf(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path, {bigint: true})
    return `${info.dev}:${info.ino}:${info.mtimeNs}`
  } catch {
    return undefined
  }
}

/** The last line a process printed, trimmed, for a message. */
function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim().slice(0, 200) ?? ''
}

/** `512 bytes`, `12.3 kB`, `1.2 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = -1
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}
