/**
 * An in-memory Kubernetes API server for tests and demos: one store behind `Pods`, `ConfigMaps`, `Leases` and
 * `LeaderLocks`, with the API server's semantics (uids, resourceVersions, optimistic concurrency, delete
 * preconditions, ordered watches) and its garbage collector.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Effect, Layer, PubSub, Ref, Stream } from "effect"
import { ConfigMaps } from "./ConfigMaps.js"
import { K8sError, type K8sVerb } from "./K8sError.js"
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
export class InMemoryCluster extends Context.Tag("effect-k8s-leader/InMemoryCluster")<InMemoryCluster, {
  /** Every stored object, of every kind. */
  readonly objects: Effect.Effect<ReadonlyArray<KubernetesObject>>
  /** Sets (or with `undefined` removes) the interceptor that wraps every following request. */
  readonly setInterceptor: (interceptor: Interceptor | undefined) => Effect.Effect<void>
  /** Ends every open watch with a `Transport` error, as a dropped connection would. */
  readonly dropWatches: Effect.Effect<void>
  /** The watches open now, one entry per watch. */
  readonly openWatches: Effect.Effect<ReadonlyArray<InMemoryRequest>>
}>() {
  /**
   * A new, empty cluster.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<InMemoryCluster | Pods | ConfigMaps | Leases | LeaderLocks> = Layer
    .effectContext(Effect.suspend(() => make))
}

/** How many past events a watch can resume from, like the API server's watch cache. */
const historyLimit = 10_000

interface Stored {
  readonly key: string
  readonly kind: ResourceKind<any>
  readonly object: KubernetesObject
}

interface Change {
  readonly key: string
  readonly resourceVersion: number
  readonly event: WatchEvent<KubernetesObject>
}

const keyOf = (kind: ResourceKind<any>, namespace: string, name: string) =>
  `${resourceNameOf(kind)}/${namespace}/${name}`

const make = Effect.gen(function*() {
  const store = new Map<string, Stored>()
  const history: Array<Change> = []
  let resourceVersion = 0
  let uidCounter = 0
  /** The Clock's time at the current request, for the timestamps the server sets. */
  let now = 0
  const changes = yield* PubSub.unbounded<Change>()
  const interceptor = yield* Ref.make<Interceptor | undefined>(undefined)
  const dropSignal = yield* Ref.make(yield* Deferred.make<never, K8sError>())
  const watching = new Set<InMemoryRequest>()

  const nextUid = () => {
    uidCounter += 1
    return `00000000-0000-4000-8000-${uidCounter.toString(16).padStart(12, "0")}`
  }

  const publish = (stored: Stored, type: WatchEvent<unknown>["type"]) => {
    const change: Change = {
      key: stored.key,
      resourceVersion: Number(stored.object.metadata.resourceVersion),
      event: { type, object: stored.object }
    }
    history.push(change)
    if (history.length > historyLimit) history.shift()
    return change
  }

  const isLiveUid = (uid: string) => {
    for (const stored of store.values()) if (stored.object.metadata.uid === uid) return true
    return false
  }

  /** Removes an object and, like the garbage collector, everything it owns; returns the changes in order. */
  const remove = (stored: Stored): Array<Change> => {
    store.delete(stored.key)
    resourceVersion += 1
    const deleted: Stored = {
      ...stored,
      object: { ...stored.object, metadata: { ...stored.object.metadata, resourceVersion: String(resourceVersion) } }
    }
    const published = [publish(deleted, "DELETED")]
    const uid = stored.object.metadata.uid
    for (const dependent of [...store.values()]) {
      if (dependent.object.metadata.ownerReferences?.some((ref) => ref.uid === uid) && store.has(dependent.key)) {
        published.push(...requestDeletion(dependent, now))
      }
    }
    return published
  }

  /**
   * A deletion as the API server performs it: an object with finalizers only gets its `deletionTimestamp` (once) and
   * stays until an update removes the last finalizer; any other object goes at once, with what it owns.
   */
  const requestDeletion = (stored: Stored, now: number): Array<Change> => {
    if ((stored.object.metadata.finalizers ?? []).length === 0) return remove(stored)
    if (stored.object.metadata.deletionTimestamp !== undefined) return []
    resourceVersion += 1
    const marked: Stored = {
      ...stored,
      object: {
        ...stored.object,
        metadata: {
          ...stored.object.metadata,
          deletionTimestamp: new Date(now).toISOString().replace(/\.\d+Z$/, "Z"),
          resourceVersion: String(resourceVersion)
        }
      }
    }
    store.set(stored.key, marked)
    return [publish(marked, "MODIFIED")]
  }

  /** The garbage collector removes at once an object whose owning Pod does not exist. */
  const collectOrphan = (stored: Stored): Array<Change> =>
    stored.object.metadata.ownerReferences?.some((ref) => ref.kind === "Pod" && !isLiveUid(ref.uid))
      ? requestDeletion(stored, now)
      : []

  const serviceFor = <T extends KubernetesObject>(kind: ResourceKind<T>): ResourceService<T> => {
    const resource = resourceNameOf(kind)
    const apiVersion = apiVersionOf(kind)

    const request = <A>(
      verb: K8sVerb,
      namespace: string,
      name: string,
      perform: () => { readonly result: A; readonly changes?: ReadonlyArray<Change> }
    ): Effect.Effect<A, K8sError> => {
      const proceed = Effect.flatMap(Clock.currentTimeMillis, (millis) => {
        now = millis
        try {
          const { changes: published = [], result } = perform()
          return Effect.as(PubSub.publishAll(changes, published), result)
        } catch (error) {
          return Effect.fail(error as K8sError)
        }
      })
      return Effect.flatMap(
        Ref.get(interceptor),
        (intercept) => intercept === undefined ? proceed : intercept({ verb, resource, namespace, name }, proceed)
      )
    }

    const fail = (verb: K8sVerb, namespace: string, name: string, status: number, detail: string) => {
      // 410 Gone ("too old resource version") maps as `fromResponse` maps it for a live client.
      const reason = status === 404 || status === 410 ? "NotFound" : status === 409 && detail.endsWith("already exists")
        ? "AlreadyExists"
        : status === 409
        ? "Conflict"
        : "Invalid"
      throw new K8sError({ verb, resource, namespace, name, reason, status, detail })
    }
    const notFound = (verb: K8sVerb, namespace: string, name: string) =>
      fail(verb, namespace, name, 404, `${resource} "${name}" not found`)
    const conflict = (verb: K8sVerb, namespace: string, name: string, why: string) =>
      fail(verb, namespace, name, 409, `Operation cannot be fulfilled on ${resource} "${name}": ${why}`)

    const copy = (object: KubernetesObject): T => structuredClone(object) as T

    const get = (name: string, namespace: string) =>
      request("get", namespace, name, () => {
        const stored = store.get(keyOf(kind, namespace, name))
        return { result: stored === undefined ? notFound("get", namespace, name) : copy(stored.object) }
      })

    const create = (object: T) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const { name, namespace } = object.metadata
        return request("create", namespace, name, () => {
          if (!name) {
            fail("create", namespace, name, 422, `${kind.kind}.metadata.name: Required value: name is required`)
          }
          const key = keyOf(kind, namespace, name)
          if (store.has(key)) fail("create", namespace, name, 409, `${resource} "${name}" already exists`)
          resourceVersion += 1
          const created = withDefaults(kind, {
            ...structuredClone(object),
            apiVersion,
            kind: kind.kind,
            metadata: {
              ...structuredClone(object.metadata),
              uid: nextUid(),
              resourceVersion: String(resourceVersion),
              creationTimestamp: new Date(now).toISOString().replace(/\.\d+Z$/, "Z")
            }
          })
          const stored = { key, kind, object: created }
          store.set(key, stored)
          return { result: copy(created), changes: [publish(stored, "ADDED"), ...collectOrphan(stored)] }
        })
      })

    const replace = (object: T) => {
      const { name, namespace } = object.metadata
      return request("update", namespace, name, () => {
        const key = keyOf(kind, namespace, name)
        const current = store.get(key)
        if (current === undefined) return notFound("update", namespace, name)
        const sent = object.metadata.resourceVersion
        if (sent !== undefined && sent !== current.object.metadata.resourceVersion) {
          return conflict(
            "update",
            namespace,
            name,
            "the object has been modified; please apply your changes to the latest version and try again"
          )
        }
        if (object.metadata.uid !== undefined && object.metadata.uid !== current.object.metadata.uid) {
          return conflict("update", namespace, name, `Precondition failed: UID in precondition: ${object.metadata.uid}`)
        }
        resourceVersion += 1
        const updated = {
          ...structuredClone(object),
          apiVersion,
          kind: kind.kind,
          metadata: {
            ...structuredClone(object.metadata),
            uid: current.object.metadata.uid,
            creationTimestamp: current.object.metadata.creationTimestamp,
            resourceVersion: String(resourceVersion),
            ...(current.object.metadata.deletionTimestamp !== undefined
              ? { deletionTimestamp: current.object.metadata.deletionTimestamp }
              : {})
          }
        } as KubernetesObject
        const stored = { key, kind, object: updated }
        store.set(key, stored)
        // The update that removes the last finalizer of an object being deleted completes its deletion.
        const finished = updated.metadata.deletionTimestamp !== undefined &&
          (updated.metadata.finalizers ?? []).length === 0
        return {
          result: copy(updated),
          changes: [publish(stored, "MODIFIED"), ...(finished ? remove(stored) : collectOrphan(stored))]
        }
      })
    }

    const delete_: ResourceService<T>["delete"] = (name, namespace, options) =>
      request("delete", namespace, name, () => {
        const current = store.get(keyOf(kind, namespace, name))
        if (current === undefined) return notFound("delete", namespace, name)
        const { uid, resourceVersion: expectedVersion } = options?.preconditions ?? {}
        if (uid !== undefined && uid !== current.object.metadata.uid) {
          return conflict(
            "delete",
            namespace,
            name,
            `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.object.metadata.uid}`
          )
        }
        if (expectedVersion !== undefined && expectedVersion !== current.object.metadata.resourceVersion) {
          return conflict(
            "delete",
            namespace,
            name,
            `Precondition failed: ResourceVersion in precondition: ${expectedVersion}, ResourceVersion in object meta: ${current.object.metadata.resourceVersion}`
          )
        }
        return { result: undefined, changes: requestDeletion(current, now) }
      })

    const watch: ResourceService<T>["watch"] = (name, namespace, options) =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          const key = keyOf(kind, namespace, name)
          const opened: InMemoryRequest = { verb: "watch", resource, namespace, name }
          yield* Effect.acquireRelease(
            Effect.sync(() => watching.add(opened)),
            () => Effect.sync(() => watching.delete(opened))
          )
          const subscription = yield* PubSub.subscribe(changes)
          const dropped = yield* Ref.get(dropSignal)
          const initial = yield* request("watch", namespace, name, () => {
            if (options?.resourceVersion === undefined) {
              const current = store.get(key)
              return {
                result: {
                  events: current === undefined ? [] : [{ type: "ADDED" as const, object: copy(current.object) }],
                  after: resourceVersion
                }
              }
            }
            const after = Number(options.resourceVersion)
            if (history.length > 0 && history[0]!.resourceVersion > after + 1 && after < resourceVersion) {
              return fail("watch", namespace, name, 410, `too old resource version: ${after}`)
            }
            return {
              result: {
                events: history.filter((change) => change.key === key && change.resourceVersion > after).map((
                  change
                ) => ({ type: change.event.type, object: copy(change.event.object) })),
                after: resourceVersion
              }
            }
          })
          const live = Stream.fromQueue(subscription).pipe(
            Stream.filter((change) => change.key === key && change.resourceVersion > initial.after),
            Stream.map((change) => ({ type: change.event.type, object: copy(change.event.object) }))
          )
          return Stream.concat(Stream.fromIterable(initial.events), live).pipe(
            Stream.interruptWhen(Deferred.await(dropped))
          )
        })
      )

    return { get, create, replace, delete: delete_, watch }
  }

  const cluster = InMemoryCluster.of({
    objects: Effect.sync(() => [...store.values()].map((stored) => structuredClone(stored.object))),
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

/** Pods start Running unless the caller gave them a phase, as if a kubelet had started them. */
const withDefaults = (kind: ResourceKind<any>, object: KubernetesObject): KubernetesObject => {
  if (kind !== PodKind) return object
  const pod = object as KubernetesObject & { status?: { phase?: string } }
  return pod.status?.phase === undefined
    ? { ...pod, status: { ...pod.status, phase: "Running" } } as KubernetesObject
    : pod
}
