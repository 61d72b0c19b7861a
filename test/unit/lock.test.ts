// The fleet lock: one holder at a time; a holder that died is taken over, a live one never.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {currentBoot, isStale, type LockOwner, processAlive, processStart, readOwner, tryLock, waitForLock} from '../../src/lib/lock/lock.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

/** The pid of a process that has started and exited: nobody alive has it (short of pid reuse). */
async function deadPid(): Promise<number> {
  const child = spawn('true', {stdio: 'ignore'})
  const pid = child.pid
  assert.ok(pid, 'spawned `true`')
  await new Promise<void>((resolve, reject) => {
    child.once('exit', () => resolve())
    child.once('error', reject)
  })
  return pid
}

function writeOwner(lockDir: string, owner: Partial<LockOwner> & {pid: number}): LockOwner {
  const full: LockOwner = {host: hostname(), startedAt: new Date().toISOString(), purpose: 'someone else', ...owner}
  mkdirSync(lockDir, {mode: 0o700})
  writeFileSync(join(lockDir, 'owner.json'), JSON.stringify(full))
  return full
}

describe('lock: tryLock, stale locks', function () {
  let root: string
  let lockDir: string
  const children: ChildProcess[] = []

  beforeEach(() => {
    root = makeTempDir('lock')
    lockDir = join(root, 'fleet.lock')
  })
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    removeTempDir(root)
  })

  it('a second tryLock gets nothing while the first is held, and the lock again after release', function () {
    const first = tryLock(lockDir, 'sync')
    assert.ok(first, 'the first tryLock takes the lock')
    assert.equal(first.dir, lockDir)
    const owner = readOwner(lockDir)
    assert.equal(owner?.pid, process.pid)
    assert.equal(owner?.host, hostname())
    assert.equal(owner?.purpose, 'sync')

    assert.equal(tryLock(lockDir, 'apply'), undefined, 'a second tryLock gets nothing')
    assert.equal(readOwner(lockDir)?.purpose, 'sync', 'the refused attempt left the holder alone')

    first.release()
    assert.equal(existsSync(lockDir), false, 'release removes the lock directory')
    const again = tryLock(lockDir, 'apply')
    assert.ok(again, 'after release the lock can be taken again')
    assert.equal(readOwner(lockDir)?.purpose, 'apply')
    again.release()
  })

  it('release is idempotent: releasing twice does not remove a lock someone else took in between', function () {
    const first = tryLock(lockDir, 'one')
    assert.ok(first)
    first.release()
    const second = tryLock(lockDir, 'two')
    assert.ok(second)
    first.release()
    assert.equal(readOwner(lockDir)?.purpose, 'two', "the second holder's lock is still there")
    second.release()
  })

  it('takes over a lock whose holder (on this host) is no longer alive', async function () {
    const pid = await deadPid()
    assert.equal(processAlive(pid), false)
    writeOwner(lockDir, {pid})
    assert.equal(isStale(lockDir), true)
    const lock = tryLock(lockDir, 'sync')
    assert.ok(lock, 'the stale lock is taken')
    assert.equal(readOwner(lockDir)?.pid, process.pid, 'the lock now names this process')
    assert.deepEqual(readdirSync(root), ['fleet.lock'], 'no .breaking or .stale-* directory is left behind')
    lock.release()
  })

  it('never takes a lock held by a live other process', async function () {
    const sleeper = spawn('sleep', ['30'], {stdio: 'ignore'})
    children.push(sleeper)
    assert.ok(sleeper.pid)
    const owner = writeOwner(lockDir, {pid: sleeper.pid})
    assert.equal(processAlive(sleeper.pid), true)
    assert.equal(isStale(lockDir), false)
    assert.equal(tryLock(lockDir, 'sync'), undefined)
    assert.deepEqual(readOwner(lockDir), owner, "the holder's record is untouched")
  })

  it('never takes a lock held by a process on another host (its pid means nothing here)', async function () {
    const pid = await deadPid()
    writeOwner(lockDir, {pid, host: `not-${hostname()}`})
    assert.equal(tryLock(lockDir, 'sync'), undefined)
    assert.equal(readOwner(lockDir)?.pid, pid)
  })

  it('does not take an owner-less lock younger than 10 s (its holder may be between mkdir and its write)', function () {
    mkdirSync(lockDir)
    assert.equal(tryLock(lockDir, 'sync'), undefined)
    assert.equal(existsSync(lockDir), true)
    assert.equal(readOwner(lockDir), undefined, 'nothing was written into it')
  })

  it('takes an owner-less lock older than 10 s', function () {
    mkdirSync(lockDir)
    const old = new Date(Date.now() - 60_000)
    utimesSync(lockDir, old, old)
    const lock = tryLock(lockDir, 'sync')
    assert.ok(lock)
    assert.equal(readOwner(lockDir)?.pid, process.pid)
    lock.release()
  })

  it('waitForLock gets the lock once the holder releases it, and gives up at its timeout otherwise', async function () {
    const held = tryLock(lockDir, 'holder')
    assert.ok(held)
    const started = Date.now()
    assert.equal(await waitForLock(lockDir, 'waiter', 300), undefined)
    assert.ok(Date.now() - started >= 300, 'it waited for the timeout')
    setTimeout(() => held.release(), 150)
    const lock = await waitForLock(lockDir, 'waiter', 5_000)
    assert.ok(lock)
    assert.equal(readOwner(lockDir)?.purpose, 'waiter')
    lock.release()
  })
})

describe('lock: boots and reused pids', function () {
  let dir: string
  beforeEach(() => {
    dir = makeTempDir('lockboot')
  })
  afterEach(() => removeTempDir(dir))

  it('a lock taken in an earlier boot is stale, even if its pid is alive now; so is one whose pid was reused', function () {
    const lock = join(dir, 'lock')
    mkdirSync(lock)
    const owner = {pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose: 'test', pidStart: processStart(process.pid)}
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({...owner, boot: currentBoot()}))
    assert.equal(isStale(lock), false, 'this process holds it, in this boot')
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({...owner, boot: 'another-boot'}))
    assert.equal(isStale(lock), true, 'an earlier boot')
    if (processStart(process.pid) !== undefined) {
      writeFileSync(join(lock, 'owner.json'), JSON.stringify({...owner, boot: currentBoot(), pidStart: '1'}))
      assert.equal(isStale(lock), true, 'the pid now belongs to a process that started later')
    }
  })
})
