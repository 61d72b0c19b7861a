// What-if for idle-ssh: forge checks through an OpenSSH master connection, which fleet does not use (BENCHMARKS.md).
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import {shellWord} from '../../dist/lib/errors/shell-command.js'
import type {Sshd} from '../../test/support/sshd.ts'
import {type ProcStat, readStat, seconds, unitCost} from './proc-cpu.ts'

/** What-if (not what fleet does): the forge check over ssh with OpenSSH connection multiplexing. */
export interface MuxWhatIf {
  /** Appended to the sshd fixture's GIT_SSH_COMMAND. */
  options: string
  runs: number
  /** The first connection, which becomes the master: git ls-remote with its ssh up to the detach, plus the master by then. */
  firstMs: number
  /** Per later check: git ls-remote with its sh and its ssh (a mux client of the master). */
  clientMs: number
  /** Per later check: the background master's CPU (a descendant of nothing of ours once ssh has detached it). */
  masterMs: number
  spawnerMs: number
  serverMs: number
  /** clientMs + masterMs: what one check costs the machine. */
  perCheckMs: number
  /** The worst machine's steady CPU s/h with each request's client cost (ssh, uncounted) replaced by perCheckMs: an estimate. */
  estimatedCpuSecondsPerHour: number
}

/**
 * What-if: `git ls-remote` over ssh with GIT_SSH_COMMAND extended by ControlMaster=auto / ControlPersist=120 /
 * ControlPath=<dir>/cm-%C (the fixture's own, uncounted key). One first connection starts the master; then `runs`
 * checks through it. The master detaches (a child of init then), so its CPU is read from its own /proc entry.
 * Always ends it (ssh -O exit, then SIGTERM if it is still there).
 */
export async function muxWhatIf(
  sshd: Sshd,
  dir: string,
  url: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  runs: number,
  server: number,
): Promise<Omit<MuxWhatIf, 'estimatedCpuSecondsPerHour'>> {
  mkdirSync(dir, {recursive: true})
  const controlPath = join(dir, 'cm-%C')
  const options = `-o ControlMaster=auto -o ControlPersist=120 -o ControlPath=${shellWord(controlPath)}`
  const muxEnv = {...env, GIT_SSH_COMMAND: `${sshd.gitSshCommand} ${options}`}
  const {hostname} = new URL(url)
  const control = (op: string) =>
    execa('ssh', ['-F', '/dev/null', '-o', `ControlPath=${controlPath}`, '-O', op, '-p', String(sshd.port), '-l', sshd.user, hostname], {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
  let master: ProcStat | undefined
  try {
    const ticks = readStat(process.pid)!.reaped
    await execa('git', ['ls-remote', '--', url], {env: muxEnv, extendEnv: false, cwd, stdin: 'ignore'})
    const firstChild = seconds(readStat(process.pid)!.reaped - ticks) * 1000
    const check = await control('check')
    const pid = Number(/pid=(\d+)/.exec(String(check.stderr))?.[1])
    master = pid ? readStat(pid) : undefined
    if (!master) throw new Error(`no ssh master after the first connection: ${String(check.stderr)}`)
    const cost = await unitCost('git', ['ls-remote', '--', url], {env: muxEnv, cwd, runs, server})
    const after = readStat(master.pid)
    if (!after || after.start !== master.start) throw new Error('the ssh master went away during the runs')
    const masterMs = (seconds(after.self + after.reaped - master.self - master.reaped) * 1000) / runs
    return {
      options,
      runs,
      firstMs: firstChild + seconds(master.self + master.reaped) * 1000,
      clientMs: cost.childMs,
      masterMs,
      spawnerMs: cost.spawnerMs,
      serverMs: cost.serverMs ?? Number.NaN,
      perCheckMs: cost.childMs + masterMs,
    }
  } finally {
    await control('exit')
    if (master) {
      const deadline = Date.now() + 3000
      while (readStat(master.pid)?.start === master.start && Date.now() < deadline) await sleep(50)
      if (readStat(master.pid)?.start === master.start) {
        try {
          process.kill(master.pid, 'SIGTERM')
        } catch {
          // gone
        }
      }
    }
  }
}
