// What doctor's checks share: this machine's paths and fleet, its manifest and sync state, each read once however
// many checks ask for it. A check that needs something that cannot be had is skipped (SkipCheck), not failed: the
// check that looks at that thing itself says what is wrong with it.
import type {ContributedAgent} from '../agents/spec.ts'
import {errorMessage} from '../errors/index.ts'
import {type LocalFleet, openLocalFleet} from '../fleet/local.ts'
import type {Fleet} from '../manifest/schema.ts'
import {readManifest} from '../manifest/store.ts'
import {type FleetPaths, fleetPaths, homeRelative} from '../platform/paths.ts'
import {readSyncState, type SyncState} from '../sync/state.ts'

/** Thrown by a check (through DoctorContext.need) that cannot look: the runner reports it as `skip` with this message. */
export class SkipCheck extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SkipCheck'
  }
}

/** How a DoctorContext is made: the environment (HOME, XDG_*, FLEET_*) and this machine's agents. */
export interface DoctorContextOptions {
  env?: NodeJS.ProcessEnv
  /** The agents this machine should run (the core's and the plugins', from the fleet:agents hook). */
  agents?: ContributedAgent[]
  /** The package names of the plugins installed or linked here (the plugin manager's, from oclif's config). */
  installedPlugins?: string[]
}

/** The check that reports each failure of a shared read, so that the checks that needed it point there instead of repeating it. */
const reporters = new WeakMap<object, string>()

/** `value`, its failure marked as the one `check` reports (unless an earlier read's failure was marked already). */
function reported<T>(check: string, value: Promise<T>): Promise<T> {
  return value.catch((error: unknown) => {
    if (error instanceof Object && !reporters.has(error)) reporters.set(error, check)
    throw error
  })
}

/** How long a reason may be in a skipped check's message. */
const REASON_CHARS = 100

/** A failure's first line, cut at REASON_CHARS. */
function shortReason(error: unknown): string {
  const line = errorMessage(error).split('\n')[0].trim().replace(/[.:]$/, '')
  return line.length <= REASON_CHARS ? line : `${line.slice(0, REASON_CHARS - 1).trimEnd()}…`
}

export class DoctorContext {
  readonly env: NodeJS.ProcessEnv
  readonly paths: FleetPaths
  readonly agents: ContributedAgent[]
  readonly installedPlugins: string[]
  private readonly memo = new Map<string, Promise<unknown>>()

  constructor(options: DoctorContextOptions = {}) {
    this.env = options.env ?? process.env
    this.paths = fleetPaths(this.env)
    this.agents = options.agents ?? []
    this.installedPlugins = options.installedPlugins ?? []
  }

  /** `compute()`, run once per context and shared by every check that asks for `key`. */
  once<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let value = this.memo.get(key) as Promise<T> | undefined
    if (!value) {
      value = compute()
      value.catch(() => undefined) // a failure is seen by whoever awaits it, not reported as unhandled
      this.memo.set(key, value)
    }
    return value
  }

  /** Forget what was read, so that checks run again after `--fix` see the repaired machine. */
  forget(): void {
    this.memo.clear()
  }

  /**
   * `value`, or SkipCheck naming what it is and why it could not be had: the check that reports that failure when
   * there is one (`reportedBy`, or the one context.local() and context.manifest() name: source.repo, manifest.valid),
   * else the failure's first line, cut short.
   */
  async need<T>(what: string, value: Promise<T>, reportedBy?: string): Promise<T> {
    try {
      return await value
    } catch (error) {
      const check = reportedBy ?? (error instanceof Object ? reporters.get(error) : undefined)
      throw new SkipCheck(`Skipped: ${what} could not be read (${check ? `see ${check}` : shortReason(error)}).`)
    }
  }

  /** This machine's fleet (throws FleetError NOT_ENROLLED when it has none; source.repo reports it). */
  local(): Promise<LocalFleet> {
    return this.once('local', () => reported('source.repo', openLocalFleet(this.env)))
  }

  /** The manifest as the source repo has it (throws ManifestError naming the file and field when it is not valid; manifest.valid reports it). */
  manifest(): Promise<Fleet> {
    return this.once('manifest', () =>
      reported(
        'manifest.valid',
        this.local().then((local) => readManifest(local.paths.sourceDir)),
      ),
    )
  }

  /** The last sync's record, conflicts and what it held back. */
  syncState(): Promise<SyncState> {
    return this.once('syncState', () => readSyncState(this.paths))
  }

  /** `path` as a person would paste it in a bug report: `~/…` inside the home directory. */
  tilde(path: string): string {
    if (path === this.paths.home) return '~'
    const relative = homeRelative(this.paths, path)
    return relative === undefined ? path : `~/${relative}`
  }
}
