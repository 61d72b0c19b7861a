// Never lose an edit to a disk that fills up: a sync that runs out of space in the fetch, in writing out the source
// repo or in the apply fails with an error that says so, commits nothing truncated, and the next sync, once there is
// room again, finishes.
//
// Three machines, delta, epsilon and zeta, each with a small tmpfs for a HOME, join the fleet; once each has synced,
// its disk is filled so that only a little is left, different for each, and alpha adds one big file. How much is left
// decides where each one's sync runs out of space: with ~300 KB the fetch fails; with ~2 MB the fetched objects of the
// big file (~1.2 MB packed) fit but writing it out in the source repo does not; with ~3.5 MB only the apply fails.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync, statfsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

/** The base64 alphabet, and one as long without vowels, `-`, `_`, `=`, `:`, `/`, `@` or quotes. */
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const NO_WORDS = 'BCDFGHJKLMNPQRSTVWXZbcdfghjklmnpqrstvwxz0123456789!#%&()*+,;?[]^'

/**
 * About `bytes` of random text in lines of 76: base64, written in an alphabet of 64 characters that spells no word a
 * secret scanner looks for (key, token, api, …) and no `name=value` or URL. It packs as badly as base64 does (6 bits a
 * character), but chezmoi's scan of it, when it is added, takes a second rather than ~20 s of CPU for 1.5 MB of base64.
 */
function randomText(bytes: number): string {
  const letter = Object.fromEntries([...BASE64].map((c, i) => [c, NO_WORDS[i]]))
  const text = randomBytes(bytes * 0.75)
    .toString('base64')
    .replace(/[A-Za-z0-9+/]/g, (c) => letter[c])
  return (text.match(/.{1,76}/g) ?? []).join('\n') + '\n'
}

/** The machines with a small disk: how much each leaves free (KiB) before the big file comes, and where its sync runs out. */
const SMALL_DISKS = [
  ['delta', 300, 'fetch'],
  ['epsilon', 2000, 'checkout'],
  ['zeta', 3500, 'apply'],
] as const

describe('edit safety: a disk that fills up during a sync', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  /** The machines with a small disk, by name. */
  const small = new Map<string, Machine>()
  /** HOMEs this file mounted (tmpfs), unmounted in after(). */
  const mounted: string[] = []
  /** Why no HOME can be a small disk here, when none can: every story is skipped, saying why. */
  let cannotMount: string | undefined
  /** alpha's big file (1.5 MB of text, under a managed path), as a target and as it is in the forge. */
  const big = randomText(1.5 * 1024 * 1024)
  const bigFile = '.config/big.bin'
  let bigSource: string | undefined

  const filler = (machine: Machine) => join(machine.home, 'filler')

  before(async function () {
    fleet = await TestFleet.start('edit-safety-disk', {machines: ['alpha']})
    ;({
      forge,
      machines: [alpha],
    } = fleet)
    for (const [name] of SMALL_DISKS) {
      const machine = new Machine(fleet.root, name)
      const mount = await execa('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0755', 'tmpfs', machine.home], {reject: false})
      if (mount.exitCode !== 0) {
        cannotMount = String(mount.stderr).trim() || `exit ${mount.exitCode}`
        return
      }
      mounted.push(machine.home)
      await fleet.join(machine)
      small.set(name, machine)
    }
    // Each synced once all have joined (the forge's head is where each is), then its disk filled: all but what it leaves.
    for (const [name, leaveKiB] of SMALL_DISKS) {
      const machine = small.get(name)!
      await machine.sync()
      const stats = statfsSync(machine.home)
      writeFileSync(filler(machine), Buffer.alloc(Math.max(0, stats.bavail * stats.bsize - leaveKiB * 1024)))
    }
    alpha.write(bigFile, big)
    await alpha.addPath(bigFile, {force: true}) // committed and synced: on the forge
    bigSource = (await forge.files()).find((f) => f.endsWith('big.bin'))
  })

  after(async function () {
    for (const dir of mounted) await execa('umount', ['-l', dir], {reject: false})
    await fleet?.remove()
  })

  for (const [name, , where] of SMALL_DISKS) {
    it(`5. a disk that fills up during a sync (in the ${where}): an error that says so, nothing truncated committed, and the next sync finishes`, async function () {
      if (cannotMount) {
        this.test!.title += ` (skipped: cannot mount a tmpfs here: ${cannotMount})`
        this.skip()
      }
      const delta = small.get(name)!
      assert.ok(bigSource, 'the big file reached the forge')

      // delta's sync on a full disk fails with exit 1.
      const full = await delta.sync({exit: 1, json: false})
      assert.match(full.stderr, /space|full/i, `the error says the disk is full:\n${full.stderr}`)
      assert.ok(
        full.stderr
          .trim()
          .split('\n')
          .some((l) => l.trim() !== '' && !/ENOSPC/.test(l)),
        `more than a raw ENOSPC:\n${full.stderr}`,
      )
      assert.match(full.stderr, /fix|free/i, `the error says how to fix it:\n${full.stderr}`)
      const status = (await delta.status()).result
      assert.equal(status.lastSync?.outcome, 'error', `the last sync is recorded as failed: ${JSON.stringify(status.lastSync)}`)

      rmSync(filler(delta))
      await delta.sync()
      assert.ok(delta.exists(bigFile) && readFileSync(delta.path(bigFile)).equals(Buffer.from(big)), `${name} has the big file, byte for byte`)
      const forgeLog = (await forge.git(['log', '--format=%an|%s', 'main'])).split('\n')
      assert.deepEqual(
        forgeLog.filter((l) => l.split('|')[0].includes(name) && /big/.test(l)),
        [],
        `no commit of ${name}'s touches the big file on the forge`,
      )
      assert.deepEqual(
        (await forge.git(['log', '--format=%an', 'main', '--', bigSource])).split('\n').filter((a) => a.includes(name)),
        [],
        `${name} never committed the big file`,
      )
      assert.equal(await forge.show(bigSource), big, 'the forge holds the big file as alpha added it')
      const ownLog = (await delta.git(['log', '--all', '--format=%an', '--', bigSource])).split('\n').filter((a) => a.includes(name))
      assert.deepEqual(ownLog, [], `nothing truncated was committed in ${name}'s source repo either`)
      assert.deepEqual((await delta.status()).result.conflicts, [], 'no conflict recorded')
    })
  }
})
