// Timing whole processes: wall clock, CPU through GNU time, and several commands interleaved with a baseline.
import {randomUUID} from 'node:crypto'
import {readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'

import {execa} from 'execa'

/** Milliseconds one run of `file args` takes, start to exit. */
export async function timeProcess(file: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string} = {}): Promise<number> {
  const start = process.hrtime.bigint()
  const result = await execa(file, args, {env: options.env, cwd: options.cwd, reject: false, stdin: 'ignore'})
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.exitCode}: ${String(result.stderr)}`)
  return elapsed
}

export interface ProcessTimes {
  /** Start to exit, measured here. */
  wallMs: number
  /** user + sys of the process and every child it waited for (git, chezmoi, …), from wait4's rusage. */
  cpuMs: number
  stdout: string
}

/**
 * Wall and CPU time of one run of `file args`. Node cannot read a child's rusage, so the run goes through GNU time
 * (/usr/bin/time; Debian: apt-get install time), which reports it with 10 ms resolution to a file of its own.
 * `onLine` is told each line the run prints (stdout or stderr) as it comes, with the ms since the start.
 */
export async function timeProcessCpu(
  file: string,
  args: string[],
  options: {env?: NodeJS.ProcessEnv; cwd?: string; extendEnv?: boolean; onLine?: (text: string, atMs: number) => void} = {},
): Promise<ProcessTimes> {
  const report = join(tmpdir(), `bench-time-${randomUUID()}`)
  try {
    const start = process.hrtime.bigint()
    const since = () => Number(process.hrtime.bigint() - start) / 1e6
    const subprocess = execa('/usr/bin/time', ['--format', '%U %S', '--output', report, '--', file, ...args], {
      env: options.env,
      extendEnv: options.extendEnv,
      cwd: options.cwd,
      reject: false,
      stdin: 'ignore',
      all: options.onLine !== undefined,
    })
    const {onLine} = options
    if (onLine && subprocess.all) createInterface({input: subprocess.all}).on('line', (text) => onLine(text, since()))
    const result = await subprocess
    const wallMs = since()
    if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.exitCode}: ${String(result.stderr)}`)
    const [user, sys] = readFileSync(report, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
    return {wallMs, cpuMs: (user + sys) * 1000, stdout: String(result.stdout)}
  } finally {
    rmSync(report, {force: true})
  }
}

/**
 * Time several commands interleaved (A B C A B C …) so that drift in the machine's load touches each alike.
 * Returns each command's samples.
 */
export async function interleaved(commands: Record<string, () => Promise<number>>, runs: number, warmup = 2): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let i = 0; i < warmup + runs; i++) {
    for (const [name, fn] of Object.entries(commands)) {
      const ms = await fn()
      if (i >= warmup) samples[name].push(ms)
    }
  }
  return samples
}
