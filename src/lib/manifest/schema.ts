// The manifest: `.chezmoidata/fleet.yaml` in the source repo, top-level key `fleet`. chezmoi templates read it
// as `.fleet`; fleet validates it on every read.
import {z} from 'zod'

/** The newest manifest schema this version of fleet reads and writes. */
export const MANIFEST_VERSION = 1

export const MACHINE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/
export const machineNameRule = 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters'

export const KEY_TYPES = ['pq', 'x25519'] as const
export type KeyType = (typeof KEY_TYPES)[number]
/** The branch of the forge that holds a new fleet (the manifest's `branch` setting names it afterwards). */
export const DEFAULT_BRANCH = 'main'
/** The key type of a new fleet unless the person chooses: hybrid post-quantum. */
export const DEFAULT_KEY_TYPE: KeyType = 'pq'

export const MACHINE_STATES = ['pending', 'active', 'revoked'] as const
export type MachineState = (typeof MACHINE_STATES)[number]

const isoTime = z.iso.datetime({offset: true})

export const machineSchema = z.strictObject({
  name: z.string().regex(MACHINE_NAME_PATTERN, `must be ${machineNameRule}`),
  hostname: z.string().min(1),
  os: z.enum(['darwin', 'linux']),
  recipient: z.string().regex(/^age1[0-9a-z]+$/, 'must be an age recipient (age1…)'),
  sshPublicKey: z
    .string()
    .regex(/^(ssh-|ecdsa-|sk-)\S+ \S+/, 'must be an OpenSSH public key line')
    .optional(),
  sshAddress: z.string().min(1).optional(),
  state: z.enum(MACHINE_STATES),
  enrolledAt: isoTime,
  updatedAt: isoTime,
  approvedAt: isoTime.optional(),
  approvedBy: z.string().optional(),
  /** When the machine's current key (its `recipient`) was made by `fleet rotate-keys`; absent: the key it enrolled with. */
  keyCreatedAt: isoTime.optional(),
})
/**
 * One machine of the roster (the manifest's `fleet.machines`): its name, hostname and OS, its age `recipient` (public
 * key) and optional SSH key and address, its state (`pending` until an active machine approves it, `active`,
 * `revoked`) and ISO 8601 times of enrolment, last change and approval.
 */
export type Machine = z.infer<typeof machineSchema>

export const managedPathSchema = z.strictObject({
  /** Relative to $HOME, forward slashes, no `..`. */
  path: z
    .string()
    .min(1)
    .refine(
      (p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.split('/').includes(''),
      'must be a path inside $HOME, relative to it, without `..`',
    ),
  encrypt: z.boolean().default(false),
  /**
   * Files in it the person confirmed hold no secret though they look like it (`fleet add-path --plain-text`): synced
   * in plain text while their contents are the ones confirmed (path relative to $HOME, SHA-256 of the contents).
   */
  plainText: z.array(z.strictObject({path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/)})).optional(),
  addedAt: isoTime.optional(),
  addedBy: z.string().optional(),
})
/**
 * One managed path (the manifest's `fleet.paths`): a file or directory relative to $HOME, whether its files are
 * encrypted to every active machine, the files confirmed to hold no secret, and who added it when.
 */
export type ManagedPath = z.infer<typeof managedPathSchema>

export const agentSettingsSchema = z.strictObject({
  /** The puller's period: the safety net for a missed event or a dead watcher. */
  pullIntervalSeconds: z.number().int().min(10).default(300),
  /**
   * How often the watcher asks the forge whether it moved while the fleet is active (a save here, or a change on the
   * forge, in the last 3 minutes). Over SSH the question goes through one connection the watcher keeps open, and
   * starts no process; a question that must start one (git ls-remote: an HTTPS forge, say) comes at most every 10 s.
   */
  remoteCheckSeconds: z.number().int().min(1).default(2),
  /** …and once the fleet has been quiet for 3 minutes: a save after a long quiet still arrives within seconds. */
  quietCheckSeconds: z.number().int().min(1).default(5),
  /** The watcher syncs once the managed paths have been quiet this long… */
  debounceMs: z.number().int().min(50).default(1500),
  /** …or this long after the first change of a burst, whichever comes first (a file written continuously still syncs). */
  maxDelayMs: z.number().int().min(100).default(10_000),
})
export type AgentSettings = z.infer<typeof agentSettingsSchema>

export const heartbeatSettingsSchema = z.strictObject({
  /** A machine whose heartbeat is older than this is shown stale by `fleet status --fleet` and fails `fleet doctor --fleet`. */
  staleAfterSeconds: z.number().int().min(1).default(3600),
})
export type HeartbeatSettings = z.infer<typeof heartbeatSettingsSchema>

export const settingsSchema = z.strictObject({
  /** All machines of a fleet share one key type: age refuses to mix post-quantum and classic recipients in one file. */
  keyType: z.enum(KEY_TYPES).default(DEFAULT_KEY_TYPE),
  branch: z.string().min(1).default(DEFAULT_BRANCH),
  /** A file larger than this (MiB) is not captured: it is reported and skipped, and every other file keeps syncing. */
  maxFileMiB: z.number().positive().default(20),
  agents: agentSettingsSchema.default(() => agentSettingsSchema.parse({})),
  /** Absent in most manifests: see heartbeatSettings for the defaults. */
  heartbeat: heartbeatSettingsSchema.optional(),
  /** `fleet rotate-keys --all`: every active machine whose key is older than this rotates it at its next sync. */
  rotationRequestedAt: isoTime.optional(),
})
export type Settings = z.infer<typeof settingsSchema>

/** The heartbeat settings a fleet has, its defaults where the manifest says nothing. */
export function heartbeatSettings(settings: Settings): HeartbeatSettings {
  return settings.heartbeat ?? heartbeatSettingsSchema.parse({})
}

export const fleetSchema = z.strictObject({
  version: z.number().int().positive(),
  id: z.string().min(8),
  createdAt: isoTime,
  settings: settingsSchema.default(() => settingsSchema.parse({})),
  paths: z.array(managedPathSchema).default([]),
  machines: z.array(machineSchema).default([]),
  plugins: z.array(z.string()).default([]),
})
/**
 * The manifest's contents (`.chezmoidata/fleet.yaml` in the source repo, under the key `fleet`), as read and checked
 * by readManifest: the format version, the fleet's id, its settings (key type, branch, file size limit, agents'
 * timings), the managed paths, the roster of machines and the plugins the fleet uses.
 */
export type Fleet = z.infer<typeof fleetSchema>

export const manifestFileSchema = z.strictObject({fleet: fleetSchema})
