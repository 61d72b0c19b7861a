// Faults: a forge that is down, a sync killed at any point, stale locks, and several syncs at once.
// Whatever happens, the next sync recovers and no edit is lost.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {execa} from 'execa'

import {STALE_INDEX_LOCK_MS} from '../../src/lib/sync/recover.ts'
import {FLEET_BIN, NODE} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'

const APP = '.config/app'

describe('sync faults', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine

  before(async function () {
    fleet = await TestFleet.start('faults')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write(`${APP}/a.conf`, 'a = 0\n')
    alpha.write(`${APP}/b.conf`, 'b = 0\n')
    await alpha.addPath(APP)
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('forge down: exit 3 and the commit stays local; forge back: the next sync pushes it', async function () {
    alpha.write(`${APP}/a.conf`, 'a = offline edit\n')
    renameSync(forge.path, `${forge.path}.down`)
    try {
      const down = await alpha.sync({exit: 3, json: false})
      assert.match(down.stdout, /did not answer/)
      assert.match(await alpha.git(['log', '-1', '--format=%s']), /update \.config\/app\/a\.conf/)
      assert.match(await alpha.git(['show', 'HEAD:dot_config/app/a.conf']), /offline edit/)
    } finally {
      renameSync(`${forge.path}.down`, forge.path)
    }
    const up = (await alpha.sync()).result
    assert.equal(up.pushed, 1)
    await beta.sync()
    assert.equal(beta.read(`${APP}/a.conf`), 'a = offline edit\n')
  })

  // Delays spread over a sync's run (capture, commit, fetch/rebase, push, apply), so the kill lands in each part.
  const delays = [60, 150, 250, 350, 450, 550, 700, 900]
  for (const [round, delay] of delays.entries()) {
    it(`killed (kill -9) after ${delay} ms: the next sync recovers and loses nothing`, async function () {
      // Work on both sides, so alpha's sync has something to capture, to rebase onto, to push and to apply.
      beta.write(`${APP}/b.conf`, `b = ${round}\n`)
      await beta.sync()
      alpha.write(`${APP}/a.conf`, `a = ${round}\n`)
      alpha.write(`${APP}/new-${round}.conf`, `new ${round}\n`)

      const child = execa(NODE, [FLEET_BIN, 'sync'], {env: alpha.env, extendEnv: false, reject: false, stdin: 'ignore'})
      await new Promise((resolve) => setTimeout(resolve, delay))
      child.kill('SIGKILL')
      await child

      const recovered = await alpha.sync()
      if (recovered.result.outcome === 'deferred') {
        // Say who holds the lock, and whether it lives, so that a failure here can be understood.
        const ownerFile = join(alpha.lockDir, 'owner.json')
        const holder = existsSync(ownerFile) ? readFileSync(ownerFile, 'utf8') : '{"pid": 0}'
        const pid = JSON.parse(holder).pid as number
        assert.fail(
          `a dead holder's lock does not block: held by ${holder}; /proc/${pid}: ${existsSync(`/proc/${pid}`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : 'gone'}`,
        )
      }
      await beta.sync()
      assert.equal(beta.read(`${APP}/a.conf`), `a = ${round}\n`)
      assert.equal(beta.read(`${APP}/new-${round}.conf`), `new ${round}\n`)
      assert.equal(alpha.read(`${APP}/b.conf`), `b = ${round}\n`)
      assert.equal(existsSync(join(alpha.sourceDir, '.git/rebase-merge')), false)
      assert.equal(existsSync(join(alpha.sourceDir, '.git/index.lock')), false)
      assert.equal((await alpha.git(['status', '--porcelain'])).trim(), '')
    })
  }

  it('a stale .git/index.lock is removed; one a live process holds is not', async function () {
    const indexLock = join(alpha.sourceDir, '.git/index.lock')
    const fd = openSync(indexLock, 'w')
    // A live process with the lock file open, the way a running git holds it.
    const holder = spawn('sleep', ['30'], {stdio: ['ignore', fd, 'ignore']})
    closeSync(fd)
    try {
      alpha.write(`${APP}/a.conf`, 'a = while git is busy\n')
      const busy = await alpha.sync({exit: 1, json: false})
      assert.match(busy.stdout + busy.stderr, /A git command may be running in the source repo .* \(a git process works there\)/)
      assert.ok(existsSync(indexLock), 'a lock a live process holds is left alone')
    } finally {
      holder.kill('SIGKILL')
      await new Promise((resolve) => holder.once('exit', resolve))
    }
    // Nobody holds it now, but it is too young to tell from a git command waiting for its editor: left alone.
    const young = await alpha.sync({exit: 1, json: false})
    assert.match(young.stdout + young.stderr, /too young to tell/)
    assert.ok(existsSync(indexLock))
    // Old enough, and nothing works in the repo: a killed process left it.
    const old = new Date(Date.now() - STALE_INDEX_LOCK_MS - 60_000)
    utimesSync(indexLock, old, old)
    const recovered = (await alpha.sync()).result
    assert.ok(recovered.notes.some((n) => /stale \.git\/index\.lock/.test(n)))
    await beta.sync()
    assert.equal(beta.read(`${APP}/a.conf`), 'a = while git is busy\n')
  })

  it('several syncs at once: one runs, the others leave a mark and exit 0; the mark is honoured', async function () {
    alpha.write(`${APP}/a.conf`, 'a = concurrent\n')
    const runs = await Promise.all([0, 1, 2].map(() => alpha.sync()))
    const outcomes = runs.map((r) => r.result)
    const deferred = outcomes.filter((o) => o.outcome === 'deferred')
    const ran = outcomes.filter((o) => o.outcome !== 'deferred')
    assert.ok(ran.length >= 1)
    if (deferred.length > 0)
      assert.ok(
        ran.some((o) => o.rounds >= 1),
        'the holder ran again for the deferred triggers',
      )
    assert.match((await forge.show('dot_config/app/a.conf'))!, /concurrent/)

    // An edit made while a sync runs, with a sync started for it, reaches the forge without a further sync.
    const first = alpha.sync({full: true})
    await new Promise((resolve) => setTimeout(resolve, 250))
    alpha.write(`${APP}/a.conf`, 'a = during\n')
    await alpha.sync()
    await first
    assert.match((await forge.show('dot_config/app/a.conf'))!, /during/)
  })

  it('a stale fleet lock (its holder is gone) does not block a sync', async function () {
    const lock = alpha.lockDir
    mkdirSync(lock, {recursive: true})
    const dead = spawn('true')
    await new Promise((resolve) => dead.once('exit', resolve))
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({pid: dead.pid, host: hostname(), startedAt: new Date().toISOString(), purpose: 'sync'}))
    alpha.write(`${APP}/a.conf`, 'a = after stale lock\n')
    const result = (await alpha.sync()).result
    assert.equal(result.outcome, 'ok')
    assert.match((await forge.show('dot_config/app/a.conf'))!, /after stale lock/)
  })
})
