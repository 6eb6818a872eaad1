/** Request rates from two samples of `apiserver_request_total`, keyed "resource verb". */

/** Requests per minute by "resource verb" between two samples, for the given resources. */
export const ratePerMinute = (
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
  resources: ReadonlyArray<string>
): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [key, value] of after) {
    const [resource] = key.split(" ")
    if (!resources.includes(resource!)) continue
    const delta = value - (before.get(key) ?? 0)
    if (delta !== 0) out[key] = (delta * 60) / seconds
  }
  return out
}
export const minus = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const value = (a[key] ?? 0) - (b[key] ?? 0)
    if (Math.abs(value) > 1e-9) out[key] = value
  }
  return out
}
export const total = (rates: Record<string, number>) => Object.values(rates).reduce((a, b) => a + b, 0)
export const verbRate = (rates: Record<string, number>, verb: string) =>
  Object.entries(rates).filter(([key]) => key.endsWith(` ${verb}`)).reduce((a, [, v]) => a + v, 0)
