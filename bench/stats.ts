/** Nearest-rank statistics of a benchmark's samples. */
export interface Stats {
  readonly n: number
  readonly p50: number
  readonly p95: number
  readonly max: number
  readonly min: number
  readonly mean: number
}

/** Nearest-rank percentiles; `undefined` without samples. */
export const stats = (values: ReadonlyArray<number>): Stats | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
  return {
    n: sorted.length,
    p50: rank(0.5),
    p95: rank(0.95),
    max: sorted[sorted.length - 1]!,
    min: sorted[0]!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length
  }
}
