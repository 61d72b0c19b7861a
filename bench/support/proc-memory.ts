// The memory a process holds, from /proc/<pid>/status.
import {readFileSync} from 'node:fs'

export interface ProcessMemory {
  /** VmRSS: resident now, MB (10^6 bytes). */
  rssMb: number
  /** VmHWM: the most it has been resident at once, MB. */
  hwmMb: number
}

/** A process's resident set now and at its peak, or undefined once it is gone. */
export function readMemory(pid: number): ProcessMemory | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined // gone
  }
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {rssMb: (kB('VmRSS') * 1024) / 1e6, hwmMb: (kB('VmHWM') * 1024) / 1e6}
}
