// The watcher's debounce: one job (a sync) at a time, run once per burst of events, a moment after the burst.

/** How long a burst waits, in milliseconds; read when each event arrives, so a new setting applies at once. */
export interface DebounceTimings {
  /** The run comes this long after the last event of a burst... */
  quietMs: number
  /** ...but never later than this after the burst's first event, so a file written continuously still syncs. */
  ceilingMs: number
}

/** The timer functions the debouncer uses: the global ones, or fakes in tests. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

/**
 * Runs `run` for bursts of events and for requests to run now, never two at once. A burst runs it once, `quietMs`
 * after its last event but no later than `ceilingMs` after its first. An event or a request that comes while it
 * runs makes it run once more right after (however many came, with the reason of the first). A run that throws
 * rejects the runNow() that started it, or, when a burst started it, is handed to `failed`; either way the next
 * event or request runs again. stop() cancels a burst that waits, and takes no more events or requests.
 */
export class Debouncer {
  readonly #run: (reason: string) => Promise<void>
  readonly #timings: () => DebounceTimings
  readonly #timers: Timers
  readonly #failed: (error: unknown) => void
  #quietTimer: unknown
  #ceilingTimer: unknown
  #running: Promise<void> | undefined
  #again: string | undefined
  #stopped = false

  constructor(run: (reason: string) => Promise<void>, timings: () => DebounceTimings, failed: (error: unknown) => void, timers: Timers = globalThis) {
    this.#run = run
    this.#timings = timings
    this.#failed = failed
    this.#timers = timers
  }

  /** The job runs now. */
  get running(): boolean {
    return this.#running !== undefined
  }

  /** A burst waits for its run. */
  get waiting(): boolean {
    return this.#quietTimer !== undefined
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** One event of a burst: the run comes `quietMs` after the last one, at the latest `ceilingMs` after the first. */
  event(reason: string): void {
    if (this.#stopped) return
    if (this.#running) {
      this.#again ??= reason
      return
    }
    const {quietMs, ceilingMs} = this.#timings()
    this.#timers.clearTimeout(this.#quietTimer)
    this.#quietTimer = this.#timers.setTimeout(() => this.#fire(reason), quietMs)
    this.#ceilingTimer ??= this.#timers.setTimeout(() => this.#fire(reason), ceilingMs)
  }

  /** Run now; or, while a run is going, once more right after it. Resolves when the runs it started are done. */
  async runNow(reason: string): Promise<void> {
    if (this.#stopped) return
    if (this.#running) {
      this.#again ??= reason
      return
    }
    this.#running = this.#run(reason)
    try {
      await this.#running
    } finally {
      this.#running = undefined
    }
    const again = this.#again
    this.#again = undefined
    if (again !== undefined) await this.runNow(again)
  }

  /** Cancel a burst that waits and take nothing more; resolves once a run that is going has finished. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#cancelBurst()
    await this.#running
  }

  #fire(reason: string): void {
    this.#cancelBurst()
    this.runNow(reason).catch(this.#failed)
  }

  #cancelBurst(): void {
    this.#timers.clearTimeout(this.#quietTimer)
    this.#timers.clearTimeout(this.#ceilingTimer)
    this.#quietTimer = undefined
    this.#ceilingTimer = undefined
  }
}
