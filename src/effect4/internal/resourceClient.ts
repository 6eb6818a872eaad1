import { Effect, Predicate, Schema, Stream } from "effect"
import { K8sClient } from "../K8sClient.js"
import { fromResponse, K8sError, type K8sRequestInfo } from "../K8sError.js"
import {
  apiVersionOf,
  type KubernetesObject,
  type ResourceKind,
  resourceNameOf,
  type ResourceService,
  type WatchEvent
} from "../resources.js"

/** @internal */
export const makeLive = <T extends KubernetesObject>(
  kind: ResourceKind<T>
): Effect.Effect<ResourceService<T>, never, K8sClient> =>
  Effect.map(K8sClient, (client) => {
    const resource = resourceNameOf(kind)
    const apiVersion = apiVersionOf(kind)
    const base = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`
    const collection = (namespace: string) => `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    const item = (name: string, namespace: string) => `${collection(namespace)}/${encodeURIComponent(name)}`
    const decodeObject = Schema.decodeUnknownEffect(kind.schema)

    // The schema only checks the shape: the object handed out is the server's own, so that fields this library does
    // not know (written by a newer API server or another client) survive a read-modify-write at every depth. (Effect
    // 3 decoded with `onExcessProperty: "preserve"`; Effect 4's decoding drops them from every struct.)
    const decode = (info: K8sRequestInfo) => (body: unknown) =>
      decodeObject(body).pipe(
        Effect.as(body as T),
        Effect.mapError((error) =>
          new K8sError({
            ...info,
            reason: "Decode",
            detail: `the server's ${kind.kind} did not match the expected shape: ${error.message}`,
            cause: error
          })
        )
      )

    const withKind = (object: T): T => ({ ...object, apiVersion, kind: kind.kind })

    const get = (name: string, namespace: string) => {
      const info = { verb: "get", resource, namespace, name } as const
      return client.request({ method: "GET", path: item(name, namespace), info }).pipe(Effect.flatMap(decode(info)))
    }

    const create = (object: T) => {
      const { name, namespace } = object.metadata
      const info = { verb: "create", resource, namespace, name } as const
      return client.request({ method: "POST", path: collection(namespace), body: withKind(object), info }).pipe(
        Effect.flatMap(decode(info))
      )
    }

    const replace = (object: T) => {
      const { name, namespace } = object.metadata
      const info = { verb: "update", resource, namespace, name } as const
      return client.request({ method: "PUT", path: item(name, namespace), body: withKind(object), info }).pipe(
        Effect.flatMap(decode(info))
      )
    }

    const delete_: ResourceService<T>["delete"] = (name, namespace, options) => {
      const info = { verb: "delete", resource, namespace, name } as const
      const preconditions = options?.preconditions
      return client.request({
        method: "DELETE",
        path: item(name, namespace),
        info,
        body: preconditions === undefined
          ? undefined
          : { apiVersion: "v1", kind: "DeleteOptions", preconditions: definedOnly(preconditions) }
      }).pipe(Effect.asVoid)
    }

    const watch: ResourceService<T>["watch"] = (name, namespace, options) => {
      const info = { verb: "watch", resource, namespace, name } as const
      const query: Record<string, string> = {
        watch: "true",
        fieldSelector: `metadata.name=${name}`,
        allowWatchBookmarks: "true"
      }
      if (options?.resourceVersion !== undefined) query["resourceVersion"] = options.resourceVersion
      return client.watch({ method: "GET", path: collection(namespace), query, info }).pipe(
        Stream.mapEffect((line): Effect.Effect<WatchEvent<T> | undefined, K8sError> => {
          if (!Predicate.isObject(line)) return Effect.succeed(undefined)
          const type = line["type"]
          if (type === "ERROR") {
            const status = line["object"]
            const code = Predicate.isObject(status) && typeof status["code"] === "number" ? status["code"] : 500
            return Effect.fail(fromResponse(info, code, status))
          }
          if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") return Effect.succeed(undefined)
          return Effect.map(decode(info)(line["object"]), (object) => ({ type, object }))
        }),
        Stream.filter(Predicate.isNotUndefined)
      )
    }

    return { get, create, replace, delete: delete_, watch }
  })

const definedOnly = <A extends Record<string, unknown>>(record: A) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))
