// A fleet for a scenario, in a temporary directory of its own: a forge made the way people make one (a plain
// `git init --bare`) and machines, each in its own HOME; the first machine starts the fleet and approves the others.
//
// Setting a fleet up runs fleet several times (an enroll per machine, an approval per joining one), and many test
// files set up the same fleet. So a fleet set up once is kept aside (a copy of its directory) and the next start with
// the same options in this process puts that copy back at the same place: every path in it (the HOMEs, chezmoi's
// config and state, the source repos' remote) is the one it was made with, so it is the same fleet, byte for byte, as
// one set up afresh a moment ago. Only one fleet lives at a place at a time; a copy older than three minutes is set up
// afresh, so that nothing in it (a heartbeat, the last sync) is older than a fleet just set up could be.
import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {Forge} from './forge.ts'
import {Machine} from './machine.ts'
import {Sshd} from './sshd.ts'
import {makeTempDir, removeTempDir} from './tmp.ts'

export interface FleetOptions {
  /** The machines, by name; the first starts the fleet and approves the others. alpha and beta unless told. */
  machines?: string[]
  /** How many of them are in the fleet once it is set up, the first ones (all unless told); the others only have a HOME, for the story to enroll. */
  joined?: number
  /** The machines reach the forge over ssh://, through an sshd of the fleet's own on 127.0.0.1 (file:// unless told). */
  ssh?: boolean
  /**
   * What the story does to the fleet once it is set up, before it begins (paths added, files synced): done once and kept
   * with the set-up fleet, so a second start with the same function puts the fleet back as it left it. Give the same
   * function (a named one, not a new closure each time) for the same preparation.
   */
  prepare?: (fleet: TestFleet) => Promise<void>
}

/** A fleet set up earlier in this process, kept aside to be put back at its place. */
interface KeptFleet {
  /** The options it was set up with (but `prepare`), as JSON. */
  key: string
  prepare: FleetOptions['prepare']
  /** Where it was set up, and where it is put back. */
  root: string
  /** Its copy, as it was once set up (and prepared). */
  copy: string
  madeAt: number
  /** A fleet lives at `root` now (until its remove()). */
  inUse: boolean
}

/**
 * How long a kept fleet may be put back after it was set up: with the few minutes a story takes, still well within
 * fleet's own spans of time (a machine's first sync is due 10 minutes after its enrolment, a heartbeat is refreshed
 * after 15).
 */
const KEPT_FOR_MS = 3 * 60_000

const kept: KeptFleet[] = []

/** Copy a directory as it is (modes, times, links): `cp -a`. */
async function copyTree(from: string, to: string): Promise<void> {
  await execa('cp', ['-a', from, to])
}

/** Remove the kept copies when this process ends. */
let cleanupRegistered = false
function removeKeptAtExit(): void {
  if (cleanupRegistered) return
  cleanupRegistered = true
  process.once('exit', () => {
    for (const fleet of kept) rmSync(fleet.copy, {recursive: true, force: true})
  })
}

export class TestFleet {
  /** The temporary directory: the forge, every machine's HOME, the sshd's files. */
  readonly root: string
  readonly forge: Forge
  /** Where the machines reach the forge: file://, or ssh:// through `sshd`. */
  readonly url: string
  readonly machines: Machine[]
  readonly sshd: Sshd | undefined
  private readonly keptAs: KeptFleet | undefined

  private constructor(root: string, forge: Forge, machines: Machine[], sshd: Sshd | undefined, keptAs?: KeptFleet) {
    this.root = root
    this.forge = forge
    this.url = sshd ? sshd.url(forge.path) : forge.url
    this.machines = machines
    this.sshd = sshd
    this.keptAs = keptAs
  }

  /**
   * Set up a fleet in a new temporary directory named after `prefix` (or put back one set up earlier with the same
   * options, see above). When that fails, nothing is left running or behind.
   */
  static async start(prefix: string, options: FleetOptions = {}): Promise<TestFleet> {
    const key = TestFleet.keyOf(options)
    if (key !== undefined) {
      const back = await TestFleet.putBack(key, options)
      if (back) return back
    }
    const root = makeTempDir(prefix)
    let sshd: Sshd | undefined
    try {
      sshd = options.ssh ? await Sshd.start(join(root, 'sshd')) : undefined
      const forge = await Forge.create(root)
      const machines = (options.machines ?? ['alpha', 'beta']).map((name) => new Machine(root, name, sshd?.env))
      const fleet = new TestFleet(root, forge, machines, sshd)
      const [first, ...others] = machines.slice(0, options.joined ?? machines.length)
      if (first) await first.enroll(fleet.url)
      for (const machine of others) await fleet.join(machine)
      await options.prepare?.(fleet)
      if (key === undefined) return fleet
      const keptAs: KeptFleet = {key, prepare: options.prepare, root, copy: `${root}.kept`, madeAt: Date.now(), inUse: true}
      await copyTree(root, keptAs.copy)
      kept.push(keptAs)
      removeKeptAtExit()
      return new TestFleet(root, forge, machines, sshd, keptAs)
    } catch (error) {
      await sshd?.stop()
      removeTempDir(root)
      throw error
    }
  }

  /**
   * What a fleet set up with these options is kept by; undefined when it is not kept: an sshd runs for it, nothing
   * in it is set up (no machine joined, nothing prepared), or FLEET_TEST_KEEP keeps every directory as a story left it.
   */
  private static keyOf(options: FleetOptions): string | undefined {
    const machines = options.machines ?? ['alpha', 'beta']
    const joined = Math.min(options.joined ?? machines.length, machines.length)
    if (options.ssh || process.env.FLEET_TEST_KEEP || (joined === 0 && !options.prepare)) return undefined
    return JSON.stringify({machines, joined})
  }

  /** The kept fleet for these options put back at its place, or undefined when there is none to put back. */
  private static async putBack(key: string, options: FleetOptions): Promise<TestFleet | undefined> {
    for (const old of kept.filter((k) => !k.inUse && Date.now() - k.madeAt > KEPT_FOR_MS)) {
      rmSync(old.copy, {recursive: true, force: true})
      kept.splice(kept.indexOf(old), 1)
    }
    const keptAs = kept.find((k) => k.key === key && k.prepare === options.prepare && !k.inUse && !existsSync(k.root))
    if (!keptAs) return undefined
    keptAs.inUse = true
    try {
      await copyTree(keptAs.copy, keptAs.root)
    } catch (error) {
      keptAs.inUse = false
      throw error
    }
    const machines = (options.machines ?? ['alpha', 'beta']).map((name) => new Machine(keptAs.root, name))
    return new TestFleet(keptAs.root, new Forge(join(keptAs.root, 'forge.git')), machines, undefined, keptAs)
  }

  /** The machine enrolls (it is pending) and the fleet's first machine approves it. */
  async join(machine: Machine): Promise<Machine> {
    await machine.enroll(this.url)
    await this.machines[0].approve(machine.name)
    return machine
  }

  /** Stop the sshd, if any, and remove the temporary directory (kept with FLEET_TEST_KEEP). */
  async remove(): Promise<void> {
    await this.sshd?.stop()
    removeTempDir(this.root)
    if (this.keptAs) this.keptAs.inUse = false
  }
}
