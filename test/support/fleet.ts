// A fleet for a scenario, in a temporary directory of its own: a forge made the way people make one (a plain
// `git init --bare`) and machines, each in its own HOME; the first machine starts the fleet and approves the others.
import {join} from 'node:path'

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
}

export class TestFleet {
  /** The temporary directory: the forge, every machine's HOME, the sshd's files. */
  readonly root: string
  readonly forge: Forge
  /** Where the machines reach the forge: file://, or ssh:// through `sshd`. */
  readonly url: string
  readonly machines: Machine[]
  readonly sshd: Sshd | undefined

  private constructor(root: string, forge: Forge, machines: Machine[], sshd: Sshd | undefined) {
    this.root = root
    this.forge = forge
    this.url = sshd ? sshd.url(forge.path) : forge.url
    this.machines = machines
    this.sshd = sshd
  }

  /** Set up a fleet in a new temporary directory named after `prefix`. When that fails, nothing is left running or behind. */
  static async start(prefix: string, options: FleetOptions = {}): Promise<TestFleet> {
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
      return fleet
    } catch (error) {
      await sshd?.stop()
      removeTempDir(root)
      throw error
    }
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
  }
}
