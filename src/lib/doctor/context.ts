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
}

export class DoctorContext {
  readonly env: NodeJS.ProcessEnv
  readonly paths: FleetPaths
  readonly agents: ContributedAgent[]
  private readonly memo = new Map<string, Promise<unknown>>()

  constructor(options: DoctorContextOptions = {}) {
    this.env = options.env ?? process.env
    this.paths = fleetPaths(this.env)
    this.agents = options.agents ?? []
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

  /** `value`, or SkipCheck naming what it is and why it could not be had. */
  async need<T>(what: string, value: Promise<T>): Promise<T> {
    try {
      return await value
    } catch (error) {
      throw new SkipCheck(`Skipped: ${what} could not be read (${errorMessage(error).split('\n')[0]}).`)
    }
  }

  /** This machine's fleet (throws FleetError NOT_ENROLLED when it has none). */
  local(): Promise<LocalFleet> {
    return this.once('local', () => openLocalFleet(this.env))
  }

  /** The manifest as the source repo has it (throws ManifestError naming the file and field when it is not valid). */
  manifest(): Promise<Fleet> {
    return this.once('manifest', async () => readManifest((await this.local()).paths.sourceDir))
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
