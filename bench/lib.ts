// Shared benchmark helpers: wall-clock medians of whole processes, run side by side with a baseline.
import {execa} from 'execa'

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]
}

/** Milliseconds one run of `file args` takes, start to exit. */
export async function timeProcess(file: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string} = {}): Promise<number> {
  const start = process.hrtime.bigint()
  const result = await execa(file, args, {env: options.env, cwd: options.cwd, reject: false, stdin: 'ignore'})
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.exitCode}: ${String(result.stderr)}`)
  return elapsed
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

export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`
}
