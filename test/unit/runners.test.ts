// The watcher's debounce and its forge check, on fake timers and fake heads: no real waiting, no forge.
import assert from 'node:assert/strict'

import {Debouncer, type Timers} from '../../src/lib/runners/debouncer.ts'
import {type BranchHeads, ForgePoller, PROCESS_CHECK_MIN_SECONDS, QUIET_AFTER_MS} from '../../src/lib/runners/forge-poller.ts'

/** Timers on a clock that moves only when told to (advance), firing what falls due on the way, in order. */
class FakeTimers implements Timers {
  now = 0
  #nextId = 1
  readonly #due = new Map<number, {at: number; callback: () => void}>()

  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++
    this.#due.set(id, {at: this.now + ms, callback})
    return id
  }

  clearTimeout(timer: unknown): void {
    this.#due.delete(timer as number)
  }

  /** Move the clock on by `ms`; after each timer fired, let the promises it started settle. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms
    for (;;) {
      const next = [...this.#due].filter(([, timer]) => timer.at <= end).sort(([a, x], [b, y]) => x.at - y.at || a - b)[0]
      if (next === undefined) break
      this.#due.delete(next[0])
      this.now = next[1].at
      next[1].callback()
      await settle()
    }
    this.now = end
  }
}

/** Let every promise that can settle now do so (one turn of the event loop). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A job that records when it ran and why; while `hold` is set, each run waits until release() is called. */
class RecordingJob {
  readonly runs: Array<{reason: string; at: number}> = []
  hold = false
  #release: (() => void) | undefined
  readonly #timers: FakeTimers

  constructor(timers: FakeTimers) {
    this.#timers = timers
  }

  readonly run = async (reason: string): Promise<void> => {
    this.runs.push({reason, at: this.#timers.now})
    if (this.hold) await new Promise<void>((resolve) => (this.#release = resolve))
  }

  async release(): Promise<void> {
    this.#release?.()
    this.#release = undefined
    await settle()
  }
}

describe('runners: the debouncer (quiet period and ceiling)', function () {
  const timings = {quietMs: 300, ceilingMs: 1000}
  let timers: FakeTimers
  let job: RecordingJob
  let debouncer: Debouncer
  let failures: unknown[]

  beforeEach(() => {
    failures = []
    timers = new FakeTimers()
    job = new RecordingJob(timers)
    debouncer = new Debouncer(
      job.run,
      () => timings,
      (error) => failures.push(error),
      timers,
    )
  })

  it('runs once for a single event, quietMs after it, and not again', async function () {
    debouncer.event('watcher')
    assert.ok(debouncer.waiting)
    await timers.advance(299)
    assert.deepEqual(job.runs, [])
    await timers.advance(1)
    assert.deepEqual(job.runs, [{reason: 'watcher', at: 300}])
    assert.ok(!debouncer.waiting && !debouncer.running)
    await timers.advance(5000)
    assert.equal(job.runs.length, 1, 'the ceiling of a burst that has run does not run it again')
  })

  it('runs a burst once, quietMs after its last event', async function () {
    for (let i = 0; i < 5; i++) {
      debouncer.event('watcher')
      await timers.advance(100)
    }
    await timers.advance(5000)
    assert.deepEqual(job.runs, [{reason: 'watcher', at: 400 + 300}])
  })

  it('runs a steady stream of events at the ceiling, counted from the first event of each burst', async function () {
    // An event every 100 ms, for 2.5 s: never quiet for 300 ms.
    for (let t = 0; t < 2500; t += 100) {
      debouncer.event('watcher')
      await timers.advance(100)
    }
    // The first burst starts at 0 and runs at its ceiling; the next starts with the next event (1000) and so on.
    assert.deepEqual(
      job.runs.map((r) => r.at),
      [1000, 2000],
    )
    await timers.advance(5000)
    assert.deepEqual(
      job.runs.map((r) => r.at),
      [1000, 2000, 2400 + 300],
      'the last burst runs quietMs after the stream ended',
    )
  })

  it('runs exactly once more after a run during which events and requests came, with the first reason', async function () {
    job.hold = true
    debouncer.event('watcher')
    await timers.advance(300)
    assert.ok(debouncer.running)
    debouncer.event('watcher')
    void debouncer.runNow('watcher-forge')
    debouncer.event('watcher')
    await timers.advance(5000)
    assert.equal(job.runs.length, 1, 'nothing runs beside a running run, nor waits on a timer')
    job.hold = false
    await job.release()
    assert.deepEqual(job.runs, [
      {reason: 'watcher', at: 300},
      {reason: 'watcher', at: 5300},
    ])
    await timers.advance(5000)
    assert.equal(job.runs.length, 2)
  })

  it('runNow runs at once, and a request during its run runs once more with the first reason asked', async function () {
    job.hold = true
    const first = debouncer.runNow('watcher-start')
    assert.deepEqual(job.runs, [{reason: 'watcher-start', at: 0}])
    void debouncer.runNow('watcher-forge')
    void debouncer.runNow('watcher')
    job.hold = false
    await job.release()
    await first
    assert.deepEqual(
      job.runs.map((r) => r.reason),
      ['watcher-start', 'watcher-forge'],
    )
  })

  it('stop() cancels a waiting run and takes no more events or requests', async function () {
    debouncer.event('watcher')
    await debouncer.stop()
    assert.ok(!debouncer.waiting, 'the waiting run is cancelled')
    await timers.advance(5000)
    debouncer.event('watcher')
    await debouncer.runNow('watcher-forge')
    await timers.advance(5000)
    assert.equal(job.runs.length, 0)
  })

  it('stop() resolves once a running run has finished, and drops the run that would have come after it', async function () {
    job.hold = true
    void debouncer.runNow('watcher-start')
    debouncer.event('watcher')
    let stopped = false
    const stopping = debouncer.stop().then(() => (stopped = true))
    await settle()
    assert.ok(!stopped, 'stop() waits for the running run')
    await job.release()
    await stopping
    await timers.advance(5000)
    assert.deepEqual(
      job.runs.map((r) => r.reason),
      ['watcher-start'],
    )
  })

  /** A debouncer whose first run throws; `calls()` counts the runs. */
  function failingOnce(): {failing: Debouncer; calls: () => number} {
    let calls = 0
    const failing = new Debouncer(
      async () => {
        calls++
        if (calls === 1) throw new Error('the sync broke')
      },
      () => timings,
      (error) => failures.push(error),
      timers,
    )
    return {failing, calls: () => calls}
  }

  it('a run that throws leaves the debouncer working', async function () {
    const {failing, calls} = failingOnce()
    await assert.rejects(failing.runNow('watcher-start'), /the sync broke/)
    assert.ok(!failing.running)
    failing.event('watcher')
    await timers.advance(300)
    assert.equal(calls(), 2)
  })

  it('a run a burst started that throws is handed to `failed`, and the next burst runs again', async function () {
    const {failing, calls} = failingOnce()
    failing.event('watcher')
    await timers.advance(300)
    assert.equal(calls(), 1)
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['the sync broke'],
    )
    failing.event('watcher')
    await timers.advance(300)
    assert.equal(calls(), 2)
    assert.equal(failures.length, 1)
  })
})

describe('runners: the forge poller decides when the forge moved', function () {
  let forgeHead: string | undefined | Error
  let hereHead: string | undefined
  let busy: boolean
  let moved: number
  let asked: Array<{url: string; branch: string}>
  let poller: ForgePoller

  beforeEach(() => {
    forgeHead = 'aaa'
    hereHead = 'aaa'
    busy = false
    moved = 0
    asked = []
    const heads: BranchHeads = {
      forge: async (url, branch) => {
        asked.push({url, branch})
        if (forgeHead instanceof Error) throw forgeHead
        return forgeHead
      },
      here: async () => hereHead,
    }
    poller = new ForgePoller(
      heads,
      () => busy,
      async () => {
        moved++
      },
    )
    poller.follow('file:///forge.git', 'main')
  })
  afterEach(() => poller.stop())

  it('syncs only when the branch head on the forge is not the one here', async function () {
    await poller.check()
    assert.equal(moved, 0, 'same head: nothing to do')
    forgeHead = 'bbb'
    await poller.check()
    assert.equal(moved, 1, 'the forge moved')
    hereHead = undefined
    await poller.check()
    assert.equal(moved, 2, 'no branch here yet: the forge has work')
    hereHead = 'aaa'
    forgeHead = undefined
    await poller.check()
    assert.equal(moved, 2, 'no branch on the forge: nothing to fetch')
    assert.deepEqual(asked.at(-1), {url: 'file:///forge.git', branch: 'main'})
  })

  it('does not ask the forge while busy or stopped, and takes a forge that fails for no news', async function () {
    forgeHead = 'bbb'
    busy = true
    await poller.check()
    assert.deepEqual(asked, [])
    busy = false
    forgeHead = new Error('could not resolve host')
    await poller.check()
    assert.equal(moved, 0)
    forgeHead = 'bbb'
    poller.stop()
    await poller.check()
    assert.equal(moved, 0)
    assert.equal(asked.length, 1)
  })

  it('asks a slow forge one question at a time: a check while one waits for the forge does not ask again', async function () {
    const answer = Promise.withResolvers<string>()
    let questions = 0
    const slow = new ForgePoller(
      {
        forge: async () => {
          questions++
          return answer.promise
        },
        here: async () => 'aaa',
      },
      () => false,
      async () => {
        moved++
      },
    )
    slow.follow('file:///forge.git', 'main')
    const first = slow.check()
    await slow.check()
    assert.equal(questions, 1)
    answer.resolve('bbb')
    await first
    assert.equal(moved, 1)
    await slow.check()
    assert.equal(questions, 2, 'the next check asks again')
    slow.stop()
  })

  it('keeps the last forge address when the remote has none, and follows the branch', async function () {
    poller.follow(undefined, 'trunk')
    await poller.check()
    assert.deepEqual(asked, [{url: 'file:///forge.git', branch: 'trunk'}])
  })
})

describe('runners: the forge poller asks often while the fleet is active, less once it is quiet', function () {
  const settings = {remoteCheckSeconds: 2, quietCheckSeconds: 4, pullIntervalSeconds: 300}
  let timers: FakeTimers
  let forgeHead: string
  let hereHead: string
  let busy: boolean
  let spawns: boolean
  let asked: number[]
  let syncs: Array<{reason: string; at: number}>
  let notes: string[]
  let poller: ForgePoller

  beforeEach(() => {
    timers = new FakeTimers()
    forgeHead = 'aaa'
    hereHead = 'aaa'
    busy = false
    spawns = false
    asked = []
    syncs = []
    notes = []
    const heads: BranchHeads = {
      forge: async () => {
        asked.push(timers.now)
        return forgeHead
      },
      here: async () => hereHead,
      startedProcess: () => spawns,
    }
    const clock = {
      setTimeout: (callback: () => void, ms: number) => timers.setTimeout(callback, ms),
      clearTimeout: (t: unknown) => timers.clearTimeout(t),
      now: () => timers.now,
    }
    poller = new ForgePoller(
      heads,
      () => busy,
      async (reason) => {
        syncs.push({reason, at: timers.now})
        hereHead = forgeHead
      },
      {note: (line) => notes.push(line), timers: clock},
    )
    poller.follow('ssh://git@forge.example/fleet.git', 'main')
    poller.schedule(settings)
  })
  afterEach(() => poller.stop())

  /** The gaps between the questions asked in the last `ms` of the clock. */
  const gapsDuring = async (ms: number) => {
    const from = asked.length
    await timers.advance(ms)
    const times = asked.slice(from - 1 >= 0 ? from - 1 : 0)
    return times.slice(1).map((t, i) => t - times[i])
  }

  it('asks every remoteCheckSeconds while active, every quietCheckSeconds once quiet for QUIET_AFTER_MS, and says so', async function () {
    assert.deepEqual(new Set(await gapsDuring(20_000)), new Set([2000]))
    assert.ok(!poller.quiet)
    await timers.advance(QUIET_AFTER_MS)
    assert.ok(poller.quiet)
    assert.match(notes.join('\n'), /quiet for 3 min: asking the forge every 4 s/)
    assert.deepEqual(new Set(await gapsDuring(40_000)), new Set([4000]))
    assert.equal(syncs.length, 0, 'nothing moved, and no sweep is due yet')
  })

  it('a change on the forge, whoever made it, makes the fleet active again: the next question comes remoteCheckSeconds later', async function () {
    await timers.advance(QUIET_AFTER_MS + 10_000)
    assert.ok(poller.quiet)
    forgeHead = hereHead = 'bbb' // this machine's own push
    await timers.advance(4000)
    assert.ok(!poller.quiet, 'the forge moved: the fleet is active')
    assert.equal(syncs.length, 0, 'nothing to bring in: the forge is where this machine is')
    assert.match(notes.at(-1)!, /active: asking the forge every 2 s/)
    assert.deepEqual(new Set(await gapsDuring(20_000)), new Set([2000]))

    await timers.advance(QUIET_AFTER_MS)
    assert.ok(poller.quiet)
    forgeHead = 'ccc' // another machine's push
    await timers.advance(4000)
    assert.equal(syncs.filter((s) => s.reason === 'watcher-forge').length, 1, 'the forge moved: a sync brings it in')
    assert.ok(!poller.quiet)
    assert.deepEqual(new Set(await gapsDuring(20_000)), new Set([2000]))
  })

  it('a save here (a sync running or waiting) keeps the fleet active, and is not asked over', async function () {
    for (let t = 0; t < QUIET_AFTER_MS + 60_000; t += 30_000) {
      busy = true
      const before = asked.length
      await timers.advance(2000)
      assert.equal(asked.length, before, 'no question while a sync runs or waits')
      busy = false
      await timers.advance(28_000)
    }
    assert.ok(!poller.quiet)
  })

  it('questions that start a process come at most every PROCESS_CHECK_MIN_SECONDS; one without a process ends that', async function () {
    spawns = true
    await timers.advance(30_000)
    const gaps = await gapsDuring(60_000)
    assert.ok(
      gaps.every((gap) => gap === PROCESS_CHECK_MIN_SECONDS * 1000),
      `gaps ${gaps.join(', ')}`,
    )
    spawns = false
    await timers.advance(10_000)
    assert.deepEqual(new Set(await gapsDuring(20_000)), new Set([2000]))
  })

  it('when no sync ran for most of the puller period, a sweep (the puller look) runs instead of a question, and the fleet stays quiet', async function () {
    await timers.advance(QUIET_AFTER_MS + 10_000)
    assert.ok(poller.quiet)
    await timers.advance(300_000 * 0.9 - QUIET_AFTER_MS)
    assert.deepEqual(
      syncs.map((s) => s.reason),
      ['watcher-sweep'],
    )
    assert.ok(syncs[0].at >= 270_000 && syncs[0].at <= 274_000, `swept at ${syncs[0].at}`)
    assert.ok(poller.quiet, 'a sweep is not activity')
    await timers.advance(260_000)
    assert.equal(syncs.length, 1, 'the next sweep comes a whole period later')
    await timers.advance(20_000)
    assert.equal(syncs.length, 2)
  })
})
