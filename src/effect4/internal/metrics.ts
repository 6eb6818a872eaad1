import { Metric } from "effect"

/** 1 while this replica leads the lock named by the `name` attribute, else 0 (client-go's metric name). */
export const leaderStatus = Metric.gauge("leader_election_master_status", {
  description: "1 while this replica leads the lock, 0 otherwise"
})

/** Every time this replica starts leading. */
export const transitions = Metric.counter("leader_election_transitions_total", {
  description: "times this replica became the leader",
  incremental: true
})

/** Failed renew attempts of a lease. */
export const renewFailures = Metric.counter("leader_election_renew_failures_total", {
  description: "failed lease renew attempts",
  incremental: true
})

/** Renewals that fell back from the cached object to GET + update (client-go's metric name). */
export const slowPath = Metric.counter("leader_election_slowpath_total", {
  description: "renewals that needed a GET because the cached lease was stale",
  incremental: true
})

/** @internal */
export const forLock = (name: string) => <M extends Metric.Metric<any, any>>(metric: M): M =>
  Metric.withAttributes(metric, { name }) as M
