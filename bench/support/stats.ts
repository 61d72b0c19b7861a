// Figures from samples: medians, percentiles and the distributions the reports print, and milliseconds for reading.

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The nearest-rank percentile: the smallest value with at least `p` % of the values at or below it. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]
}

export interface Distribution {
  n: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  minMs: number
}

/** p50, p95, max and min of durations in milliseconds. */
export function distribution(values: number[]): Distribution {
  return {n: values.length, p50Ms: median(values), p95Ms: percentile(values, 95), maxMs: Math.max(...values), minMs: Math.min(...values)}
}

/** A figure measured against its target, as the reports list them. */
export interface Target {
  name: string
  target: string
  value: number
  unit: string
  met: boolean
}

/** Milliseconds as a person reads them: `850 ms`, `1.72 s`. */
export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`
}

/** A figure's samples and their median. */
export interface Series {
  runs: number
  medianMs: number
  samplesMs: number[]
}

/** Samples in milliseconds as a Series. */
export function series(samples: number[]): Series {
  return {runs: samples.length, medianMs: median(samples), samplesMs: samples}
}
