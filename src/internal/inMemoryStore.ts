/**
 * The store behind the in-memory API server (`InMemoryCluster`), without Effect, shared by both editions: objects,
 * uids, resourceVersions, optimistic concurrency, delete preconditions, finalizers, the garbage collector and the
 * watch history. Each edition wraps it with its interceptor, its change feed and its `K8sError`s.
 *
 * Every operation runs at once and returns its result with the changes it made, in order; a refused request throws
 * an {@link InMemoryStatus}, the `Status` the API server would answer.
 */

/** The metadata the store reads and sets: a structural part of `ObjectMeta`. */
export interface StoredMeta {
  readonly name: string
  readonly namespace: string
  readonly uid?: string | undefined
  readonly resourceVersion?: string | undefined
  readonly creationTimestamp?: string | undefined
  readonly deletionTimestamp?: string | undefined
  readonly finalizers?: ReadonlyArray<string> | undefined
  readonly ownerReferences?: ReadonlyArray<{ readonly kind: string; readonly uid: string }> | undefined
}

/** Any object the store holds: a structural part of `KubernetesObject`. */
export interface StoredObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata: StoredMeta
}

/** A resource type, as the store names it. */
export interface KindInfo {
  /** `Pod`, `Lease`, ... */
  readonly kind: string
  /** `v1`, `coordination.k8s.io/v1`, ... */
  readonly apiVersion: string
  /** As RBAC and errors name it: `pods`, `leases.coordination.k8s.io`, ... */
  readonly resource: string
}

/** A change as a watch delivers it. */
export interface StoredEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: StoredObject
}

/** One write of one object, in the order of resourceVersions. */
export interface Change {
  readonly key: string
  readonly resourceVersion: number
  readonly event: StoredEvent
}

/** The result of a request and the changes it made, in order. */
export interface Outcome<A> {
  readonly result: A
  readonly changes: ReadonlyArray<Change>
}

/**
 * A refused request: the HTTP status and the `Status` body (`reason`, `message`) the API server would answer, for
 * the edition's `fromResponse` to turn into a `K8sError`.
 */
export class InMemoryStatus {
  constructor(readonly code: number, readonly reason: string, readonly message: string) {}
}

/** How many past events a watch can resume from, like the API server's watch cache. */
export const historyLimit = 10_000

/** The identity of an object: its resource, namespace and name. */
export const keyOf = (kind: KindInfo, namespace: string, name: string): string =>
  `${kind.resource}/${namespace}/${name}`

/** A copy of an event, for a watcher: no two watchers share an object. */
export const copyEvent = (event: StoredEvent): StoredEvent => ({
  type: event.type,
  object: structuredClone(event.object)
})

/** Timestamps as the API server writes them: seconds, no fraction. */
const timestamp = (millis: number) => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

interface Stored {
  readonly key: string
  readonly object: StoredObject
}

/** A new, empty store. */
export const makeInMemoryStore = () => {
  const store = new Map<string, Stored>()
  const history: Array<Change> = []
  let resourceVersion = 0
  let uidCounter = 0

  const nextUid = () => {
    uidCounter += 1
    return `00000000-0000-4000-8000-${uidCounter.toString(16).padStart(12, "0")}`
  }

  const publish = (stored: Stored, type: StoredEvent["type"]): Change => {
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
  const remove = (stored: Stored, now: number): Array<Change> => {
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
    if ((stored.object.metadata.finalizers ?? []).length === 0) return remove(stored, now)
    if (stored.object.metadata.deletionTimestamp !== undefined) return []
    resourceVersion += 1
    const marked: Stored = {
      ...stored,
      object: {
        ...stored.object,
        metadata: {
          ...stored.object.metadata,
          deletionTimestamp: timestamp(now),
          resourceVersion: String(resourceVersion)
        }
      }
    }
    store.set(stored.key, marked)
    return [publish(marked, "MODIFIED")]
  }

  /** The garbage collector removes at once an object whose owning Pod does not exist. */
  const collectOrphan = (stored: Stored, now: number): Array<Change> =>
    stored.object.metadata.ownerReferences?.some((ref) => ref.kind === "Pod" && !isLiveUid(ref.uid))
      ? requestDeletion(stored, now)
      : []

  const refuse = (code: number, reason: string, message: string): never => {
    throw new InMemoryStatus(code, reason, message)
  }
  const notFound = (kind: KindInfo, name: string) => refuse(404, "NotFound", `${kind.resource} "${name}" not found`)
  const conflict = (kind: KindInfo, name: string, why: string) =>
    refuse(409, "Conflict", `Operation cannot be fulfilled on ${kind.resource} "${name}": ${why}`)

  const copy = (object: StoredObject): StoredObject => structuredClone(object)

  const get = (kind: KindInfo, namespace: string, name: string): Outcome<StoredObject> => {
    const stored = store.get(keyOf(kind, namespace, name))
    return { result: stored === undefined ? notFound(kind, name) : copy(stored.object), changes: [] }
  }

  /** `createdAt` is the creation timestamp; `now` the time the server performs the request (for the collector). */
  const create = (kind: KindInfo, object: StoredObject, createdAt: number, now: number): Outcome<StoredObject> => {
    const { name, namespace } = object.metadata
    if (!name) refuse(422, "Invalid", `${kind.kind}.metadata.name: Required value: name is required`)
    const key = keyOf(kind, namespace, name)
    if (store.has(key)) refuse(409, "AlreadyExists", `${kind.resource} "${name}" already exists`)
    resourceVersion += 1
    const created = withDefaults(kind, {
      ...structuredClone(object),
      apiVersion: kind.apiVersion,
      kind: kind.kind,
      metadata: {
        ...structuredClone(object.metadata),
        uid: nextUid(),
        resourceVersion: String(resourceVersion),
        creationTimestamp: timestamp(createdAt)
      }
    })
    const stored = { key, object: created }
    store.set(key, stored)
    return { result: copy(created), changes: [publish(stored, "ADDED"), ...collectOrphan(stored, now)] }
  }

  const replace = (kind: KindInfo, object: StoredObject, now: number): Outcome<StoredObject> => {
    const { name, namespace } = object.metadata
    const key = keyOf(kind, namespace, name)
    const current = store.get(key)
    if (current === undefined) return notFound(kind, name)
    const sent = object.metadata.resourceVersion
    if (sent !== undefined && sent !== current.object.metadata.resourceVersion) {
      return conflict(
        kind,
        name,
        "the object has been modified; please apply your changes to the latest version and try again"
      )
    }
    if (object.metadata.uid !== undefined && object.metadata.uid !== current.object.metadata.uid) {
      return conflict(kind, name, `Precondition failed: UID in precondition: ${object.metadata.uid}`)
    }
    resourceVersion += 1
    const updated: StoredObject = {
      ...structuredClone(object),
      apiVersion: kind.apiVersion,
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
    }
    const stored = { key, object: updated }
    store.set(key, stored)
    // The update that removes the last finalizer of an object being deleted completes its deletion.
    const finished = updated.metadata.deletionTimestamp !== undefined &&
      (updated.metadata.finalizers ?? []).length === 0
    return {
      result: copy(updated),
      changes: [publish(stored, "MODIFIED"), ...(finished ? remove(stored, now) : collectOrphan(stored, now))]
    }
  }

  const delete_ = (
    kind: KindInfo,
    namespace: string,
    name: string,
    preconditions: { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined } | undefined,
    now: number
  ): Outcome<void> => {
    const current = store.get(keyOf(kind, namespace, name))
    if (current === undefined) return notFound(kind, name)
    const { resourceVersion: expectedVersion, uid } = preconditions ?? {}
    if (uid !== undefined && uid !== current.object.metadata.uid) {
      return conflict(
        kind,
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.object.metadata.uid}`
      )
    }
    if (expectedVersion !== undefined && expectedVersion !== current.object.metadata.resourceVersion) {
      return conflict(
        kind,
        name,
        `Precondition failed: ResourceVersion in precondition: ${expectedVersion}, ResourceVersion in object meta: ${current.object.metadata.resourceVersion}`
      )
    }
    return { result: undefined, changes: requestDeletion(current, now) }
  }

  /**
   * The start of a watch: without a resourceVersion, the object as it is now (an `ADDED` event, if it exists);
   * with one, every change of the object after it, from the history (410 Gone when the history no longer reaches
   * back that far). A watcher then follows the changes of `key` with a resourceVersion above `after`.
   */
  const watch = (
    kind: KindInfo,
    namespace: string,
    name: string,
    fromResourceVersion: string | undefined
  ): Outcome<{ readonly key: string; readonly events: ReadonlyArray<StoredEvent>; readonly after: number }> => {
    const key = keyOf(kind, namespace, name)
    if (fromResourceVersion === undefined) {
      const current = store.get(key)
      return {
        result: {
          key,
          events: current === undefined ? [] : [{ type: "ADDED", object: copy(current.object) }],
          after: resourceVersion
        },
        changes: []
      }
    }
    const after = Number(fromResourceVersion)
    if (history.length > 0 && history[0]!.resourceVersion > after + 1 && after < resourceVersion) {
      // What the API server answers (a `Status` with reason `Expired`, code 410).
      refuse(410, "Expired", `too old resource version: ${after}`)
    }
    return {
      result: {
        key,
        events: history.filter((change) => change.key === key && change.resourceVersion > after).map((change) =>
          copyEvent(change.event)
        ),
        after: resourceVersion
      },
      changes: []
    }
  }

  return {
    /** Copies of every stored object, of every kind. */
    objects: (): Array<StoredObject> => [...store.values()].map((stored) => copy(stored.object)),
    get,
    create,
    replace,
    delete: delete_,
    watch
  }
}

/** The store of {@link makeInMemoryStore}. */
export type InMemoryStore = ReturnType<typeof makeInMemoryStore>

/** Pods start Running unless the caller gave them a phase, as if a kubelet had started them. */
const withDefaults = (kind: KindInfo, object: StoredObject): StoredObject => {
  if (kind.kind !== "Pod" || kind.apiVersion !== "v1") return object
  const pod = object as StoredObject & { status?: { phase?: string } }
  return pod.status?.phase === undefined ? { ...pod, status: { ...pod.status, phase: "Running" } } as StoredObject : pod
}
