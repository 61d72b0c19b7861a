// The watcher's look at the forge: every few seconds, one cheap round trip asks whether the branch moved there.

/** Where the poller reads the two heads it compares (the real ones: forgeBranchHead and the source repo's). */
export interface BranchHeads {
  /** The branch's head on the forge at `url` (one `git ls-remote`, or a read of a forge on disk). */
  forge(url: string, branch: string): Promise<string | undefined>
  /** The branch's head here: after a sync it is where the forge's was. */
  here(branch: string): Promise<string | undefined>
}

/**
 * Checks the forge every `seconds` (see every()) and calls `moved` when the branch's head there is not the one here:
 * another machine pushed. A check is skipped while `busy` says a sync runs or is about to (it looks at the forge
 * itself); a forge that cannot be reached is left to the next check, or to the puller.
 */
export class ForgePoller {
  readonly #heads: BranchHeads
  readonly #busy: () => boolean
  readonly #moved: () => Promise<void>
  /** The source repo's remote, until its address is known (see follow()). */
  #url = 'origin'
  #branch = ''
  #interval: NodeJS.Timeout | undefined
  #stopped = false
  #checking = false

  constructor(heads: BranchHeads, busy: () => boolean, moved: () => Promise<void>) {
    this.#heads = heads
    this.#busy = busy
    this.#moved = moved
  }

  /** Look at this forge and branch from now on; an address not known (undefined) keeps the last one. */
  follow(url: string | undefined, branch: string): void {
    this.#url = url ?? this.#url
    this.#branch = branch
  }

  /** Check every `seconds` from now on (again from zero when called again). */
  every(seconds: number): void {
    clearInterval(this.#interval)
    this.#interval = setInterval(() => void this.check(), seconds * 1000)
  }

  /** One check: resolves once it is done, with the sync it started, if any. */
  async check(): Promise<void> {
    // A forge that answers slowly (ls-remote may take longer than the interval) gets one question at a time.
    if (this.#stopped || this.#checking || this.#busy()) return
    this.#checking = true
    const branch = this.#branch
    try {
      const remote = await this.#heads.forge(this.#url, branch)
      const here = await this.#heads.here(branch)
      if (remote !== undefined && remote !== here) await this.#moved()
    } catch {
      // The forge is down: the next check, or the puller, tries again.
    } finally {
      this.#checking = false
    }
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#interval)
  }
}
