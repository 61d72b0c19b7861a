// The record of the last pull-fleet (`<data>/last-pull.json`): when it ran and how each peer came out, for the doctor's
// last-pull check and for a person wondering why a peer's rows are old.
import {readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** How one peer's pull came out (see PeerOutcome in pull.ts, which carries more). */
export interface PeerRecord {
  peer: string
  status: string
  /** The peer's pull did what it could (copied, unchanged, nothing recorded yet, no address): not a failure. */
  ok: boolean
  message: string
  /** What to do, where it failed. */
  fix?: string
}

/** The last pull-fleet's record. */
export interface LastPull {
  /** When it started, ISO 8601. */
  pulledAt: string
  durationMs: number
  /** Every peer was fine. */
  ok: boolean
  peers: PeerRecord[]
}

/** Where the last pull is recorded, in the plugin's data directory. */
export function lastPullFile(dataDir: string): string {
  return join(dataDir, 'last-pull.json')
}

/** Record the last pull, replacing the previous record whole (a reader never sees half of it). */
export async function writeLastPull(dataDir: string, record: LastPull): Promise<void> {
  const file = lastPullFile(dataDir)
  const part = `${file}.${process.pid}.part`
  await writeFile(part, `${JSON.stringify(record, null, 2)}\n`, {mode: 0o644})
  await rename(part, file)
}

/** The last pull's record; undefined when none has run here, or its record cannot be read (it is rewritten by the next). */
export async function readLastPull(dataDir: string): Promise<LastPull | undefined> {
  let text: string
  try {
    text = await readFile(lastPullFile(dataDir), 'utf8')
  } catch {
    return undefined
  }
  try {
    const record = JSON.parse(text) as Partial<LastPull>
    if (typeof record.pulledAt !== 'string' || Number.isNaN(Date.parse(record.pulledAt)) || !Array.isArray(record.peers)) return undefined
    return record as LastPull
  } catch {
    return undefined
  }
}
