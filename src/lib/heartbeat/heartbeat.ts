// A machine's heartbeat: a small JSON document saying how it last synced, which key it holds, whether it can decrypt,
// its conflicts, agents and last doctor run. Each machine publishes its own at the forge as
// `refs/fleet/heartbeat/<name>`, a commit without a parent holding `heartbeat.json`: no commit on the fleet's branch,
// nothing in any work tree, and clones and ordinary fetches never see it. Names and paths only, never a secret value.
import {readFileSync} from 'node:fs'

import {z} from 'zod'

import {mkdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import writeFileAtomic from 'write-file-atomic'

import {redactUrl} from '../errors/redact.ts'
import type {GitRepo, RefUpdate} from '../git/git.ts'
import type {FleetPaths} from '../platform/paths.ts'
import {safeLine, withTilde} from '../platform/text.ts'

/** The newest heartbeat format this version writes and reads. */
export const HEARTBEAT_SCHEMA = 1
export const HEARTBEAT_REF_PREFIX = 'refs/fleet/heartbeat/'
/** Every machine's heartbeat, fetched into the same refs here (never into a branch). */
export const HEARTBEAT_FETCH_REFSPEC = `+${HEARTBEAT_REF_PREFIX}*:${HEARTBEAT_REF_PREFIX}*`
const HEARTBEAT_FILE = 'heartbeat.json'

/**
 * The failure codes that mean this machine cannot open the fleet's encrypted files (its key is missing, unreadable,
 * not the roster's, or not a recipient): any other failure says nothing about decryption.
 */
const CANNOT_DECRYPT = new Set([
  'IDENTITY_MISSING',
  'IDENTITY_INVALID',
  'IDENTITY_UNREADABLE',
  'IDENTITY_EXPOSED',
  'KEY_NOT_IN_ROSTER',
  'NOT_ACTIVE',
  'NOT_A_RECIPIENT',
  'DECRYPT_FAILED',
])

const isoTime = z.iso.datetime({offset: true})
const counts = z.object({ok: z.number().int().min(0), warn: z.number().int().min(0), fail: z.number().int().min(0), skip: z.number().int().min(0)})

/** A doctor run in brief: when, how many checks came out each way, and the ids of those that failed. */
export const doctorSummarySchema = z.object({at: isoTime, counts, failing: z.array(z.string())})
export type DoctorSummary = z.infer<typeof doctorSummarySchema>

export const heartbeatSchema = z.object({
  schema: z.number().int().positive(),
  machine: z.string().min(1),
  /** When it was published: the machine was last seen then. */
  at: isoTime,
  fleetVersion: z.string(),
  /** The last sync: when, its outcome, and when it failed the error's first line and code. */
  lastSync: z.object({at: isoTime, outcome: z.string(), error: z.string().optional(), code: z.string().optional()}).optional(),
  /** The age recipient (public key) this machine holds, and where a rotation of it stands. */
  recipient: z.string().optional(),
  keyRotation: z.string(),
  canDecrypt: z.boolean(),
  /** Paths (relative to $HOME) of the conflicts waiting for a person here. */
  conflicts: z.array(z.string()),
  agents: z.array(z.object({id: z.string(), installed: z.boolean()})),
  doctor: doctorSummarySchema.optional(),
})
/** What one machine publishes at each sync (see the header). */
export type Heartbeat = z.infer<typeof heartbeatSchema>

/** What the sync knows about this machine, passed in (the heartbeat reads nothing of the sync's own). */
export interface HeartbeatFacts {
  machine: string
  /** This machine's home directory: shown as `~` in what is published. */
  home?: string
  lastSync?: {at: string; outcome: string; error?: string; code?: string}
  recipient?: string
  keyRotation: string
  /** The code of what is wrong with this machine's key (see identityProblem), if anything. */
  identityProblem?: string
  conflicts: string[]
  agents: Array<{id: string; installed: boolean}>
  doctor?: DoctorSummary
}

/** This version of fleet, from its package.json (two folders above src/lib or dist/lib). */
export const FLEET_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {version?: string}).version ?? 'unknown'
  } catch {
    return 'unknown'
  }
})()

/** How long a published error may be: one line a person reads in the fleet-wide view. */
const ERROR_CHARS = 160

/**
 * A heartbeat from the facts: an error reduced to its first short line, forge addresses without credentials and the
 * home directory as `~` (another machine has no business knowing where this one keeps things).
 */
export function buildHeartbeat(facts: HeartbeatFacts, now = new Date()): Heartbeat {
  const sync = facts.lastSync
  const lastSync = sync && {
    at: sync.at,
    // A quick sync is a good one: the same outcome, so that an idle machine's heartbeat does not change.
    outcome: sync.outcome === 'quick' ? 'ok' : sync.outcome,
    ...(sync.error ? {error: safeLine(withTilde(facts.home ?? '', redactUrl(sync.error)), ERROR_CHARS)} : {}),
    ...(sync.code ? {code: sync.code} : {}),
  }
  const failedToDecrypt = sync?.code !== undefined && CANNOT_DECRYPT.has(sync.code)
  return {
    schema: HEARTBEAT_SCHEMA,
    machine: facts.machine,
    at: now.toISOString(),
    fleetVersion: FLEET_VERSION,
    ...(lastSync ? {lastSync} : {}),
    ...(facts.recipient ? {recipient: facts.recipient} : {}),
    keyRotation: facts.keyRotation,
    canDecrypt: facts.identityProblem === undefined && !failedToDecrypt,
    conflicts: [...facts.conflicts].sort(),
    agents: facts.agents,
    ...(facts.doctor ? {doctor: facts.doctor} : {}),
  }
}

/**
 * What a heartbeat says, without when it was made: two heartbeats with the same content tell the fleet nothing new
 * (the times of publishing and of the last sync aside), so the second need not be published.
 */
export function heartbeatContent(heartbeat: Heartbeat): string {
  const {at: _at, lastSync, ...rest} = heartbeat
  const sync = lastSync && {...lastSync, at: undefined}
  return JSON.stringify({...rest, lastSync: sync})
}

/** The ref a machine's heartbeat lives at, on the forge and in every clone that fetched it. */
export function heartbeatRef(machine: string): string {
  return `${HEARTBEAT_REF_PREFIX}${machine}`
}

/** The commit holding the heartbeat (see the header), and the refspec that force-pushes it to the machine's ref. */
export async function heartbeatRefspec(repo: GitRepo, heartbeat: Heartbeat): Promise<string> {
  const content = JSON.stringify(heartbeat, null, 1) + '\n'
  const commit = await repo.parentlessCommit([{name: HEARTBEAT_FILE, content}], `fleet: ${heartbeat.machine}: heartbeat`, heartbeat.machine)
  return `+${commit}:${heartbeatRef(heartbeat.machine)}`
}

/** How a heartbeat's publication came out, as the sync state keeps it (for `fleet doctor`'s sync.heartbeat). */
export interface HeartbeatRecord {
  /** When it was last published, and what it said (heartbeatContent). */
  publishedAt?: string
  content?: string
  /** The last try was refused by the forge: when, and git's reason. Cleared by the next publication. */
  refused?: {at: string; reason: string}
}

/** The record after a push that carried the heartbeat: published, or refused with git's reason. */
export function afterPublishing(record: HeartbeatRecord | undefined, heartbeat: Heartbeat, update: RefUpdate | undefined): HeartbeatRecord {
  if (update && update.outcome !== 'rejected') return {publishedAt: heartbeat.at, content: heartbeatContent(heartbeat)}
  return {...record, refused: {at: heartbeat.at, reason: update?.reason ?? 'git said nothing about the heartbeat ref'}}
}

/**
 * Whether the heartbeat is worth publishing on its own (a sync with nothing to push): what it says changed, the
 * last one was refused, or the published one is older than `refreshMs` (so that it never looks stale).
 */
export function heartbeatDue(record: HeartbeatRecord | undefined, heartbeat: Heartbeat, refreshMs: number): boolean {
  if (!record?.publishedAt || record.refused || record.content !== heartbeatContent(heartbeat)) return true
  return Date.parse(heartbeat.at) - Date.parse(record.publishedAt) >= refreshMs
}

/** One machine's heartbeat as read from its ref: the heartbeat, or why it could not be read. */
export interface HeartbeatReading {
  machine: string
  heartbeat?: Heartbeat
  problem?: string
}

/** A heartbeat's JSON, checked: a heartbeat, or what is wrong with it (another machine's bug never crashes a view). */
export function parseHeartbeat(text: string): {heartbeat: Heartbeat} | {problem: string} {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return {problem: 'not JSON'}
  }
  const parsed = heartbeatSchema.safeParse(value)
  if (!parsed.success) {
    const [issue] = parsed.error.issues
    return {problem: `${issue.path.join('.') || 'the heartbeat'}: ${issue.message}`}
  }
  if (parsed.data.schema > HEARTBEAT_SCHEMA) return {problem: `written by a newer fleet (heartbeat format ${parsed.data.schema})`}
  return {heartbeat: tamed(parsed.data)}
}

/** A recipient is compared, not printed: long enough for a post-quantum one (about 2,000 characters). */
const RECIPIENT_CHARS = 8192
/** At most this many entries of a list are kept from another machine's heartbeat (a view shows a few of them). */
const LIST_ENTRIES = 100

/**
 * A heartbeat from the forge made safe to print: another machine wrote it, and whatever it says reaches this
 * terminal. Every text loses its control characters (no escape sequence gets through) and is cut to a line of a
 * sensible length; lists keep their first LIST_ENTRIES.
 */
function tamed(heartbeat: Heartbeat): Heartbeat {
  const word = (text: string) => safeLine(text, 80)
  const list = (texts: string[], max = 160) => texts.slice(0, LIST_ENTRIES).map((text) => safeLine(text, max))
  const {lastSync, doctor} = heartbeat
  return {
    ...heartbeat,
    fleetVersion: word(heartbeat.fleetVersion),
    ...(lastSync
      ? {
          lastSync: {
            at: lastSync.at,
            outcome: word(lastSync.outcome),
            ...(lastSync.error === undefined ? {} : {error: safeLine(lastSync.error, ERROR_CHARS)}),
            ...(lastSync.code === undefined ? {} : {code: word(lastSync.code)}),
          },
        }
      : {}),
    ...(heartbeat.recipient === undefined ? {} : {recipient: safeLine(heartbeat.recipient, RECIPIENT_CHARS)}),
    keyRotation: word(heartbeat.keyRotation),
    conflicts: list(heartbeat.conflicts),
    agents: heartbeat.agents.slice(0, LIST_ENTRIES).map((agent) => ({id: word(agent.id), installed: agent.installed})),
    ...(doctor ? {doctor: {...doctor, failing: list(doctor.failing, 80)}} : {}),
  }
}

/** Every machine's heartbeat as last fetched into this repo (see fetchHeartbeats), by machine name. */
export async function readHeartbeats(repo: GitRepo): Promise<Map<string, HeartbeatReading>> {
  const readings = new Map<string, HeartbeatReading>()
  for (const [ref, commit] of await repo.refsUnder(HEARTBEAT_REF_PREFIX)) {
    const machine = ref.slice(HEARTBEAT_REF_PREFIX.length)
    const bytes = await repo.blobBytes(`${commit}:${HEARTBEAT_FILE}`)
    const parsed = bytes === undefined ? {problem: `no ${HEARTBEAT_FILE} in its commit`} : parseHeartbeat(bytes.toString('utf8'))
    const reading = 'heartbeat' in parsed && parsed.heartbeat.machine !== machine ? {problem: `it names another machine (${parsed.heartbeat.machine})`} : parsed
    readings.set(machine, {machine, ...reading})
  }
  return readings
}

function fetchedFile(paths: FleetPaths): string {
  return join(paths.stateDir, 'heartbeats-fetched.json')
}

/**
 * Fetch every machine's heartbeat from the forge into this repo (ForgeUnreachableError when it does not answer), and
 * keep when (see heartbeatsFetchedAt).
 */
export async function fetchHeartbeats(repo: GitRepo, paths: FleetPaths, timeoutMs: number, now = new Date()): Promise<void> {
  await repo.fetchRefs(HEARTBEAT_FETCH_REFSPEC, timeoutMs)
  await mkdir(paths.stateDir, {recursive: true, mode: 0o700})
  await writeFileAtomic(fetchedFile(paths), JSON.stringify({at: now.toISOString()}) + '\n', {mode: 0o600}).catch(() => undefined)
}

/** When this machine last fetched the heartbeats (undefined: never, so having none of a machine says nothing about it). */
export async function heartbeatsFetchedAt(paths: FleetPaths): Promise<string | undefined> {
  try {
    const at = (JSON.parse(await readFile(fetchedFile(paths), 'utf8')) as {at?: unknown}).at
    return typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? at : undefined
  } catch {
    return undefined
  }
}
