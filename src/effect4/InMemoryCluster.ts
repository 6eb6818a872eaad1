/**
 * An in-memory Kubernetes API server for tests and demos: one store behind `Pods`, `ConfigMaps`, `Leases` and
 * `LeaderLocks`, with the API server's semantics (uids, resourceVersions, optimistic concurrency, delete
 * preconditions, ordered watches) and its garbage collector.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Effect, Layer, PubSub, Ref, Stream } from "effect"
import {
  type Change,
  copyEvent,
  InMemoryStatus,
  type KindInfo,
  makeInMemoryStore,
  type Outcome
} from "../internal/inMemoryStore.js"
import { ConfigMaps } from "./ConfigMaps.js"
import { fromResponse, K8sError, type K8sVerb } from "./K8sError.js"
import { LeaderLocks } from "./LeaderLocks.js"
import { Leases } from "./Leases.js"
import { Pods } from "./Pods.js"
import {
  apiVersionOf,
  ConfigMapKind,
  type KubernetesObject,
  LeaderLockKind,
  LeaseKind,
  PodKind,
  type ResourceKind,
  resourceNameOf,
  type ResourceService,
  type WatchEvent
} from "./resources.js"

/**
 * One request as the in-memory API server sees it.
 *
 * @since 0.1.0
 */
export interface InMemoryRequest {
  readonly verb: K8sVerb
  readonly resource: string
  readonly namespace: string
  readonly name: string
}

/**
 * Wraps every request: it may delay it, fail it, let it through and then fail (a lost response), or never
 * answer. `proceed` performs the request.
 *
 * @since 0.1.0
 */
export type Interceptor = <A>(
  request: InMemoryRequest,
  proceed: Effect.Effect<A, K8sError>
) => Effect.Effect<A, K8sError>

/**
 * Control over the in-memory API server, for tests that inject faults or inspect the store.
 *
 * @since 0.1.0
 */
export class InMemoryCluster extends Context.Service<InMemoryCluster, {
  /** Every stored object, of every kind. */
  readonly objects: Effect.Effect<ReadonlyArray<KubernetesObject>>
  /** Sets (or with `undefined` removes) the interceptor that wraps every following request. */
  readonly setInterceptor: (interceptor: Interceptor | undefined) => Effect.Effect<void>
  /** Ends every open watch with a `Transport` error, as a dropped connection would. */
  readonly dropWatches: Effect.Effect<void>
  /** The watches open now, one entry per watch. */
  readonly openWatches: Effect.Effect<ReadonlyArray<InMemoryRequest>>
}>()("effect-k8s-leader/InMemoryCluster") {
  /**
   * A new, empty cluster.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<InMemoryCluster | Pods | ConfigMaps | Leases | LeaderLocks> = Layer
    .effectContext(Effect.suspend(() => make))
}

const make = Effect.gen(function*() {
  const store = makeInMemoryStore()
  const changes = yield* PubSub.unbounded<Change>()
  const interceptor = yield* Ref.make<Interceptor | undefined>(undefined)
  const dropSignal = yield* Ref.make(yield* Deferred.make<never, K8sError>())
  const watching = new Set<InMemoryRequest>()

  const serviceFor = <T extends KubernetesObject>(kind: ResourceKind<T>): ResourceService<T> => {
    const resource = resourceNameOf(kind)
    const info: KindInfo = { kind: kind.kind, apiVersion: apiVersionOf(kind), resource }

    /** Performs a request on the store at the Clock's time, through the interceptor; publishes what it changed. */
    const request = <A>(
      verb: K8sVerb,
      namespace: string,
      name: string,
      perform: (now: number) => Outcome<A>
    ): Effect.Effect<A, K8sError> => {
      const proceed = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let outcome: Outcome<A>
        try {
          outcome = perform(now)
        } catch (error) {
          return error instanceof InMemoryStatus
            ? Effect.fail(
              fromResponse({ verb, resource, namespace, name }, error.code, {
                reason: error.reason,
                message: error.message
              })
            )
            : Effect.die(error)
        }
        return Effect.as(PubSub.publishAll(changes, outcome.changes), outcome.result)
      })
      return Effect.flatMap(
        Ref.get(interceptor),
        (intercept) => intercept === undefined ? proceed : intercept({ verb, resource, namespace, name }, proceed)
      )
    }

    const get = (name: string, namespace: string) =>
      request("get", namespace, name, () => store.get(info, namespace, name) as Outcome<T>)

    const create = (object: T) =>
      // The creation timestamp is the time of the call, before the interceptor.
      Effect.flatMap(Clock.currentTimeMillis, (createdAt) =>
        request(
          "create",
          object.metadata.namespace,
          object.metadata.name,
          (now) => store.create(info, object, createdAt, now) as Outcome<T>
        ))

    const replace = (object: T) =>
      request(
        "update",
        object.metadata.namespace,
        object.metadata.name,
        (now) => store.replace(info, object, now) as Outcome<T>
      )

    const delete_: ResourceService<T>["delete"] = (name, namespace, options) =>
      request("delete", namespace, name, (now) => store.delete(info, namespace, name, options?.preconditions, now))

    const watch: ResourceService<T>["watch"] = (name, namespace, options) =>
      Stream.unwrap(
        Effect.gen(function*() {
          const opened: InMemoryRequest = { verb: "watch", resource, namespace, name }
          yield* Effect.acquireRelease(
            Effect.sync(() => watching.add(opened)),
            () => Effect.sync(() => watching.delete(opened))
          )
          const subscription = yield* PubSub.subscribe(changes)
          const dropped = yield* Ref.get(dropSignal)
          const initial = yield* request(
            "watch",
            namespace,
            name,
            () => store.watch(info, namespace, name, options?.resourceVersion)
          )
          const live = Stream.fromSubscription(subscription).pipe(
            Stream.filter((change) => change.key === initial.key && change.resourceVersion > initial.after),
            Stream.map((change) => copyEvent(change.event))
          )
          return Stream.concat(Stream.fromIterable(initial.events), live).pipe(
            Stream.interruptWhen(Deferred.await(dropped))
          ) as Stream.Stream<WatchEvent<T>, K8sError>
        })
      )

    return { get, create, replace, delete: delete_, watch }
  }

  const cluster = InMemoryCluster.of({
    objects: Effect.sync(() => store.objects() as Array<KubernetesObject>),
    setInterceptor: (value) => Ref.set(interceptor, value),
    openWatches: Effect.sync(() => [...watching]),
    dropWatches: Effect.gen(function*() {
      const fresh = yield* Deferred.make<never, K8sError>()
      const previous = yield* Ref.getAndSet(dropSignal, fresh)
      yield* Deferred.fail(
        previous,
        new K8sError({ verb: "watch", resource: "*", reason: "Transport", detail: "watch connection dropped" })
      )
    })
  })

  return Context.make(InMemoryCluster, cluster).pipe(
    Context.add(Pods, serviceFor(PodKind)),
    Context.add(ConfigMaps, serviceFor(ConfigMapKind)),
    Context.add(Leases, serviceFor(LeaseKind)),
    Context.add(LeaderLocks, serviceFor(LeaderLockKind))
  )
})
