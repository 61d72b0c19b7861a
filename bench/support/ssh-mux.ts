// idle-ssh: what one forge check costs through the watcher's shared connection (git/ssh.ts), as the watcher asks it.
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import {forgeSshEnv, holdSharedConnections, releaseSharedConnections, sharedAdvertisedRefs} from '../../dist/lib/git/ssh.js'
import type {Machine} from '../../test/support/machine.ts'
import {sharedConnectionPids} from './fleet-bed.ts'
import {readStat, seconds, treeCpu} from './proc-cpu.ts'

/** One forge check through the shared connection: this process's part, the master's, the sshd's; and its wall time. */
export interface SharedCheckCost {
  runs: number
  /** The first connection (git ls-remote, its sh and ssh, which becomes the master), once. */
  firstMs: number
  /** Per check: this process (the watcher's part: a unix socket, a few SSH messages, parsing the advertisement). */
  processMs: number
  /** Per check: the master ssh (a process of its own once it has detached). */
  masterMs: number
  serverMs: number
  wallMs: number
  /** processMs + masterMs: what one check costs the machine. */
  perCheckMs: number
}

/**
 * `runs` checks of `url` as machine `m`'s watcher asks them: this process holds connections as the watcher does, lets
 * git open the master, then asks through it (after 5 unmeasured checks, so the code is warm). Lets go at the end.
 */
export async function sharedCheckCost(m: Machine, url: string, runs: number, server: number): Promise<SharedCheckCost> {
  const env = {...m.env}
  holdSharedConnections()
  try {
    const ticks = readStat(process.pid)!.reaped
    await execa('git', ['ls-remote', '--', url], {env: {...env, ...(await forgeSshEnv(m.home, env))}, extendEnv: false, cwd: m.home, stdin: 'ignore'})
    const [pid] = sharedConnectionPids(m)
    const master = pid === undefined ? undefined : readStat(pid)
    if (!master) throw new Error('no shared connection after the first git ls-remote')
    const firstMs = (seconds(readStat(process.pid)!.reaped - ticks) + seconds(master.self)) * 1000
    const ask = async () => {
      const refs = await sharedAdvertisedRefs(url, 10_000, env)
      if (!refs?.has('refs/heads/main')) throw new Error('the shared connection did not answer with the branch')
    }
    for (let i = 0; i < 5; i++) await ask()
    const masterBefore = readStat(master.pid)!
    const serverBefore = treeCpu(server).total
    const own = process.cpuUsage()
    const start = performance.now()
    for (let i = 0; i < runs; i++) await ask()
    const wallMs = (performance.now() - start) / runs
    const spent = process.cpuUsage(own)
    const masterAfter = readStat(master.pid)
    if (!masterAfter || masterAfter.start !== master.start) throw new Error('the shared connection went away during the checks')
    const processMs = (spent.user + spent.system) / 1000 / runs
    const masterMs = (seconds(masterAfter.self - masterBefore.self) * 1000) / runs
    return {
      runs,
      firstMs,
      processMs,
      masterMs,
      serverMs: (seconds(treeCpu(server).total - serverBefore) * 1000) / runs,
      wallMs,
      perCheckMs: processMs + masterMs,
    }
  } finally {
    await releaseSharedConnections(env)
    const deadline = Date.now() + 5000
    while (sharedConnectionPids(m).length > 0 && Date.now() < deadline) await sleep(50)
  }
}
