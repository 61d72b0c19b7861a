// The watcher's look at the forge: every few seconds, one cheap question whether the branch moved there — more often
// while the fleet is active, less once it has been quiet — and, now and then, the puller's look at everything.
import type {AgentSettings} from '../manifest/schema.ts'

/** Where the poller reads the two heads it compares (the real ones: forgeBranchHead and the source repo's). */
export interface BranchHeads {
  /** The branch's head on the forge at `url` (a read of a forge on disk, a question through a shared ssh connection, or `git ls-remote`). */
  forge(url: string, branch: string): Promise<string | undefined>
  /** The branch's head here: after a sync it is where the forge's was. */
  here(branch: string): Promise<string | undefined>
  /** Whether the last question to the forge at `url` started a process (absent: never). */
  startedProcess?(url: string): boolean
}

/** Why the poller asks for a sync: the forge moved, or it is time for the look at everything the puller would take. */
export type PollerReason = 'watcher-forge' | 'watcher-sweep'

/** The timer functions and clock the poller uses: the global ones, or fakes in tests. */
export interface PollerTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
  now(): number
}

const realTimers: PollerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  now: () => Date.now(),
}

/** The fleet counts as quiet once nothing happened for this long: no save here, no change on the forge. */
export const QUIET_AFTER_MS = 3 * 60_000
/**
 * A question that starts a process each time (git ls-remote: an HTTPS forge, an ssh command fleet leaves alone)
 * comes at most this often, as every question did before they could be asked without one.
 */
export const PROCESS_CHECK_MIN_SECONDS = 10
/** The sweep comes a little before the puller's period is over, so that the puller finds it done (see puller-gate). */
const SWEEP_SHARE_OF_PULL_INTERVAL = 0.9

/** The settings the poller follows (the manifest's `settings.agents`). */
export type PollerSettings = Pick<AgentSettings, 'remoteCheckSeconds' | 'quietCheckSeconds' | 'pullIntervalSeconds'>

/**
 * Checks the forge and calls `moved('watcher-forge')` when the branch's head there is not the one here: another
 * machine pushed. Every `remoteCheckSeconds` while the fleet is active (a sync here, or the forge's head changing, in
 * the last QUIET_AFTER_MS), every `quietCheckSeconds` once it is quiet; never more often than every
 * PROCESS_CHECK_MIN_SECONDS when each question starts a process. When no sync ran for most of `pullIntervalSeconds`,
 * it calls `moved('watcher-sweep')` instead: a sync that looks at everything (a missed event, too), so that the
 * puller, finding it done, has nothing to do. A check is skipped while `busy` says a sync runs or is about to (it
 * looks at the forge itself); a forge that cannot be reached is left to the next check, or to the puller.
 */
export class ForgePoller {
  readonly #heads: BranchHeads
  readonly #busy: () => boolean
  readonly #moved: (reason: PollerReason) => Promise<void>
  readonly #note: (line: string) => void
  readonly #timers: PollerTimers
  /** The source repo's remote, until its address is known (see follow()). */
  #url = 'origin'
  #branch = ''
  #settings: PollerSettings | undefined
  #timer: unknown
  #stopped = false
  #checking = false
  /** The forge's head at the last answer: a change, whoever made it, means the fleet is active. */
  #lastForgeHead: string | undefined
  #lastActivity: number
  #lastSync: number
  #wasQuiet = false
  /** Questions in a row that started a process. */
  #processStreak = 0

  constructor(
    heads: BranchHeads,
    busy: () => boolean,
    moved: (reason: PollerReason) => Promise<void>,
    options: {note?: (line: string) => void; timers?: PollerTimers} = {},
  ) {
    this.#heads = heads
    this.#busy = busy
    this.#moved = moved
    this.#note = options.note ?? (() => {})
    this.#timers = options.timers ?? realTimers
    // Starting is activity, and comes with a sync (the watcher's first).
    this.#lastActivity = this.#lastSync = this.#timers.now()
  }

  /** Look at this forge and branch from now on; an address not known (undefined) keeps the last one. */
  follow(url: string | undefined, branch: string): void {
    this.#url = url ?? this.#url
    this.#branch = branch
  }

  /** Check on these settings from now on (the next check comes one interval from now). */
  schedule(settings: PollerSettings): void {
    this.#settings = settings
    this.#next()
  }

  /** The fleet has been quiet for QUIET_AFTER_MS: the checks come every `quietCheckSeconds`. */
  get quiet(): boolean {
    return this.#timers.now() - this.#lastActivity >= QUIET_AFTER_MS
  }

  /** Milliseconds from one check to the next, as things stand now. */
  get intervalMs(): number {
    const settings = this.#settings
    if (!settings) return PROCESS_CHECK_MIN_SECONDS * 1000
    const seconds = this.quiet ? settings.quietCheckSeconds : settings.remoteCheckSeconds
    return Math.max(seconds, this.#processStreak >= 2 ? PROCESS_CHECK_MIN_SECONDS : 0) * 1000
  }

  /** One check: resolves once it is done, with the sync it started, if any. */
  async check(): Promise<void> {
    // A forge that answers slowly (ls-remote may take longer than the interval) gets one question at a time.
    if (this.#stopped || this.#checking) return
    const now = this.#timers.now()
    if (this.#busy()) {
      // A save here (or a sync someone asked for): the fleet is active.
      this.#lastActivity = this.#lastSync = now
      return
    }
    this.#checking = true
    try {
      if (this.#settings && now - this.#lastSync >= this.#settings.pullIntervalSeconds * 1000 * SWEEP_SHARE_OF_PULL_INTERVAL) {
        this.#lastSync = now
        await this.#moved('watcher-sweep')
        return
      }
      await this.#ask(now)
    } catch {
      // The forge is down: the next check, or the puller, tries again.
    } finally {
      this.#checking = false
    }
  }

  async #ask(now: number): Promise<void> {
    const branch = this.#branch
    const url = this.#url
    let remote: string | undefined
    try {
      remote = await this.#heads.forge(url, branch)
    } finally {
      this.#processStreak = this.#heads.startedProcess?.(url) ? this.#processStreak + 1 : 0
    }
    if (remote !== undefined && this.#lastForgeHead !== undefined && remote !== this.#lastForgeHead) this.#lastActivity = now
    this.#lastForgeHead = remote ?? this.#lastForgeHead
    const here = await this.#heads.here(branch)
    if (remote !== undefined && remote !== here) {
      this.#lastActivity = this.#lastSync = now
      await this.#moved('watcher-forge')
    }
  }

  /** The next check, one interval from now; a change between active and quiet is told. */
  #next(): void {
    this.#timers.clearTimeout(this.#timer)
    if (this.#stopped || !this.#settings) return
    const quiet = this.quiet
    if (quiet !== this.#wasQuiet) {
      this.#wasQuiet = quiet
      const settings = this.#settings
      this.#note(
        quiet
          ? `the fleet has been quiet for ${QUIET_AFTER_MS / 60_000} min: asking the forge every ${settings.quietCheckSeconds} s`
          : `the fleet is active: asking the forge every ${settings.remoteCheckSeconds} s`,
      )
    }
    this.#timer = this.#timers.setTimeout(() => void this.check().finally(() => this.#next()), this.intervalMs)
  }

  /** No more checks (one under way finishes). */
  stop(): void {
    this.#stopped = true
    this.#timers.clearTimeout(this.#timer)
  }
}
