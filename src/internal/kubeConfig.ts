/**
 * Kubeconfig files and the in-cluster service account, resolved as client-node's `KubeConfig` resolves them, without
 * loading client-node: importing its `KubeConfig` loads its whole generated API (about 65 MiB of memory in every
 * replica). What this does not support (the legacy `auth-provider`s: azure, gcp, oidc) fails with an error that
 * says to build a client-node `KubeConfig` and hand it to `K8sClient.fromKubeConfig`.
 */
import yaml from "js-yaml"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import type * as https from "node:https"
import * as net from "node:net"
import * as path from "node:path"

/** @internal */
export interface Cluster {
  readonly name: string
  readonly server: string
  readonly caData?: string | undefined
  readonly caFile?: string | undefined
  readonly skipTLSVerify: boolean
  readonly tlsServerName?: string | undefined
  readonly proxyUrl?: string | undefined
}

/** @internal */
export interface ExecConfig {
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string }> | undefined
}

/** @internal */
export interface User {
  readonly name: string
  readonly token?: string | undefined
  /** Read again whenever the credentials are applied: a projected service account token rotates. */
  readonly tokenFile?: string | undefined
  readonly certData?: string | undefined
  readonly certFile?: string | undefined
  readonly keyData?: string | undefined
  readonly keyFile?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  readonly impersonate?: string | undefined
  readonly exec?: ExecConfig | undefined
  readonly authProvider?: { readonly name?: string; readonly config?: Record<string, unknown> } | undefined
}

/** @internal */
export interface KubeContext {
  readonly name: string
  readonly cluster: string
  readonly user: string
  readonly namespace?: string | undefined
}

/** @internal */
export interface KubeConfigData {
  readonly clusters: ReadonlyArray<Cluster>
  readonly users: ReadonlyArray<User>
  readonly contexts: ReadonlyArray<KubeContext>
  readonly currentContext: string | undefined
  /** Where it came from, for error messages. */
  readonly source: string
}

type Tls = Pick<https.AgentOptions, "ca" | "cert" | "key" | "servername" | "rejectUnauthorized">

/**
 * What the transport needs: where the API server is, and the credentials of each request, applied again when they
 * may have rotated (`refresh` after a 401: an exec plugin runs again, files are read again).
 *
 * @internal
 */
export interface ConnectionSource {
  readonly server: string
  readonly proxyUrl: string | undefined
  readonly credentials: (refresh: boolean) => Promise<{ readonly tls: Tls; readonly headers: Record<string, string> }>
}

const serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
const text = (value: unknown): string | undefined => typeof value === "string" && value !== "" ? value : undefined
const absolute = (directory: string | undefined, file: string | undefined) =>
  file === undefined || directory === undefined || path.isAbsolute(file) ? file : path.join(directory, file)

const entries = (document: Record<string, unknown>, key: string, source: string) => {
  const list = document[key]
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) throw new Error(`${source}: ${key} is not a list`)
  return list.map((entry, index) => {
    if (!isRecord(entry) || text(entry["name"]) === undefined) {
      throw new Error(`${source}: ${key}[${index}].name is missing`)
    }
    return { name: entry["name"] as string, index, entry }
  })
}

/**
 * Parses one kubeconfig document. Relative certificate and key paths are resolved against `directory` (the file's),
 * as client-node and kubectl do; the entries are checked as client-node checks them.
 *
 * @internal
 */
export const parse = (source: string, content: string, directory?: string): KubeConfigData => {
  const document = yaml.load(content)
  if (!isRecord(document)) throw new Error(`${source}: not a kubeconfig (expected a YAML mapping)`)
  const clusters = entries(document, "clusters", source).map(({ entry, index, name }): Cluster => {
    const cluster = entry["cluster"]
    if (!isRecord(cluster)) throw new Error(`${source}: clusters[${index}].cluster is missing`)
    const server = text(cluster["server"])
    if (server === undefined) throw new Error(`${source}: clusters[${index}].cluster.server is missing`)
    return {
      name,
      server: server.replace(/\/$/, ""),
      caData: text(cluster["certificate-authority-data"]),
      caFile: absolute(directory, text(cluster["certificate-authority"])),
      skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
      tlsServerName: text(cluster["tls-server-name"]),
      proxyUrl: text(cluster["proxy-url"])
    }
  })
  const users = entries(document, "users", source).map(({ entry, name }): User => {
    const user = isRecord(entry["user"]) ? entry["user"] : {}
    const exec = isRecord(user["exec"]) ? user["exec"] : undefined
    const authProvider = isRecord(user["auth-provider"]) ? user["auth-provider"] : undefined
    return {
      name,
      token: text(user["token"]),
      tokenFile: text(user["token-file"]),
      certData: text(user["client-certificate-data"]),
      certFile: absolute(directory, text(user["client-certificate"])),
      keyData: text(user["client-key-data"]),
      keyFile: absolute(directory, text(user["client-key"])),
      username: text(user["username"]),
      password: typeof user["password"] === "string" ? user["password"] : undefined,
      impersonate: text(user["as"]),
      exec: exec === undefined ? undefined : {
        command: exec["command"] as string,
        args: Array.isArray(exec["args"]) ? exec["args"].map(String) : undefined,
        env: Array.isArray(exec["env"]) ? exec["env"] as ExecConfig["env"] : undefined
      },
      authProvider: authProvider === undefined ? undefined : {
        ...(text(authProvider["name"]) === undefined ? {} : { name: authProvider["name"] as string }),
        ...(isRecord(authProvider["config"]) ? { config: authProvider["config"] } : {})
      }
    }
  })
  const contexts = entries(document, "contexts", source).map(({ entry, index, name }): KubeContext => {
    const context = entry["context"]
    if (!isRecord(context)) throw new Error(`${source}: contexts[${index}].context is missing`)
    return {
      name,
      cluster: String(context["cluster"] ?? ""),
      user: String(context["user"] ?? ""),
      namespace: text(context["namespace"])
    }
  })
  return { clusters, users, contexts, currentContext: text(document["current-context"]), source }
}

/** @internal */
export const loadFile = (file: string): KubeConfigData => {
  let content: string
  try {
    content = fs.readFileSync(file, "utf8")
  } catch (cause) {
    throw new Error(`cannot read the kubeconfig ${file}: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  return parse(file, content, path.dirname(file))
}

/** client-node's merge of the files in $KUBECONFIG: each later file's current-context wins, duplicates fail. */
const merge = (first: KubeConfigData, next: KubeConfigData): KubeConfigData => {
  const join = <A extends { readonly name: string }>(kind: string, a: ReadonlyArray<A>, b: ReadonlyArray<A>) => {
    for (const entry of b) {
      if (a.some((existing) => existing.name === entry.name)) {
        throw new Error(`${next.source}: duplicate ${kind} "${entry.name}" (already in ${first.source})`)
      }
    }
    return [...a, ...b]
  }
  return {
    clusters: join("cluster", first.clusters, next.clusters),
    users: join("user", first.users, next.users),
    contexts: join("context", first.contexts, next.contexts),
    currentContext: next.currentContext ?? first.currentContext,
    source: `${first.source}${path.delimiter}${next.source}`
  }
}

/**
 * The in-cluster configuration: the API server from KUBERNETES_SERVICE_HOST/PORT, the service account's CA and
 * token (read again on every refresh: it rotates). `root` prefixes the service account directory, for tests.
 *
 * @internal
 */
export const inCluster = (env: NodeJS.ProcessEnv = process.env, root = ""): KubeConfigData => {
  const host = env["KUBERNETES_SERVICE_HOST"]
  const port = env["KUBERNETES_SERVICE_PORT"]
  if (host === undefined || host === "" || port === undefined || port === "") {
    throw new Error("in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
  }
  const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https"
  const directory = `${root}${serviceAccountDirectory}`
  return {
    clusters: [{
      name: "inCluster",
      server: `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: `${directory}/ca.crt`,
      skipTLSVerify: false
    }],
    users: [{ name: "inClusterUser", tokenFile: `${directory}/token` }],
    contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser" }],
    currentContext: "inClusterContext",
    source: "the in-cluster service account"
  }
}

const exists = (file: string) => {
  try {
    fs.accessSync(file)
    return true
  } catch {
    return false
  }
}

/**
 * client-node's `loadFromDefault` on Linux and macOS: the files of $KUBECONFIG (merged), else ~/.kube/config, else the
 * in-cluster service account. Where client-node falls back to an unauthenticated http://localhost:8080, this fails
 * and says what it looked for.
 *
 * @internal
 */
export const loadDefault = (env: NodeJS.ProcessEnv = process.env, root = ""): KubeConfigData => {
  const files = (env["KUBECONFIG"] ?? "").split(path.delimiter).filter((file) => file !== "")
  if (files.length > 0) return files.map(loadFile).reduce(merge)
  const home = env["HOME"]
  if (home !== undefined && home !== "" && exists(path.join(home, ".kube", "config"))) {
    return loadFile(path.join(home, ".kube", "config"))
  }
  if (exists(`${root}${serviceAccountDirectory}/token`)) return inCluster(env, root)
  throw new Error(
    "no kubeconfig found: $KUBECONFIG is not set, ~/.kube/config does not exist, and there is no service account " +
      `token at ${serviceAccountDirectory}/token (not in a Pod, or automountServiceAccountToken is false)`
  )
}

interface ExecCredential {
  readonly status?: {
    readonly token?: string
    readonly clientCertificateData?: string
    readonly clientKeyData?: string
    readonly expirationTimestamp?: string
  }
}

const runExec = (exec: ExecConfig, user: string): Promise<ExecCredential> =>
  new Promise((resolve, reject) => {
    const env = exec.env === undefined
      ? undefined
      : { ...process.env, ...Object.fromEntries(exec.env.map(({ name, value }) => [name, value])) }
    const child = spawn(exec.command, [...(exec.args ?? [])], env === undefined ? {} : { env })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", (error) => reject(new Error(`exec plugin of user "${user}" (${exec.command}): ${error.message}`)))
    child.on("close", (code) => {
      if (code !== 0) {
        return reject(
          new Error(`exec plugin of user "${user}" (${exec.command}) exited with ${code}: ${stderr.trim()}`)
        )
      }
      try {
        resolve(JSON.parse(stdout) as ExecCredential)
      } catch (cause) {
        reject(new Error(`exec plugin of user "${user}" (${exec.command}) printed no ExecCredential JSON: ${cause}`))
      }
    })
  })

/**
 * The connection of the current context, with client-node's precedence: the cluster's CA, server name and
 * verification; the user's certificate and key, then an exec plugin's (which replace them), then the bearer token of
 * the exec plugin, the token file, or the token (the last one wins), then basic auth over all of them.
 *
 * @internal
 */
export const connectionOf = (config: KubeConfigData, now: () => number = Date.now): ConnectionSource => {
  const context = config.contexts.find((context) => context.name === config.currentContext)
  if (context === undefined) {
    throw new Error(
      config.currentContext === undefined
        ? `${config.source}: no current-context is set`
        : `${config.source}: the current-context "${config.currentContext}" is not among its contexts`
    )
  }
  const cluster = config.clusters.find((cluster) => cluster.name === context.cluster)
  if (cluster === undefined) {
    throw new Error(
      `${config.source}: context "${context.name}" names cluster "${context.cluster}", which is not defined`
    )
  }
  const user: User = config.users.find((user) => user.name === context.user) ?? { name: context.user }
  const provider = user.authProvider
  const providerExec = isRecord(provider?.config?.["exec"])
    ? provider.config["exec"] as unknown as ExecConfig
    : undefined
  const providerTokenFile = text(provider?.config?.["tokenFile"])
  const exec = user.exec ?? providerExec
  if (provider !== undefined && exec === undefined && providerTokenFile === undefined) {
    throw new Error(
      `${config.source}: user "${user.name}" authenticates with the auth-provider "${provider.name ?? "?"}", which ` +
        "effect-k8s-leader does not load itself: build a KubeConfig of @kubernetes/client-node and pass it to " +
        "K8sClient.fromKubeConfig"
    )
  }
  if (exec !== undefined && text(exec.command) === undefined) {
    throw new Error(`${config.source}: the exec plugin of user "${user.name}" has no command`)
  }

  let cached: ExecCredential | undefined
  const execCredential = async (refresh: boolean): Promise<ExecCredential | undefined> => {
    if (exec === undefined) return undefined
    const expires = Date.parse(cached?.status?.expirationTimestamp ?? "")
    // A credential without an expiry is kept until the API server refuses it (a 401 refreshes), as client-go does.
    if (cached !== undefined && !refresh && (Number.isNaN(expires) || expires > now())) return cached
    cached = await runExec(exec, user.name)
    return cached
  }
  const read = (file: string | undefined, data: string | undefined) =>
    file !== undefined ? fs.readFileSync(file) : data !== undefined ? Buffer.from(data, "base64") : undefined

  return {
    server: cluster.server,
    proxyUrl: cluster.proxyUrl,
    credentials: async (refresh) => {
      const tls: Tls = {}
      const headers: Record<string, string> = {}
      if (cluster.skipTLSVerify) tls.rejectUnauthorized = false
      if (cluster.tlsServerName !== undefined) tls.servername = cluster.tlsServerName
      const ca = read(cluster.caFile, cluster.caData)
      if (ca !== undefined) tls.ca = ca
      const cert = read(user.certFile, user.certData)
      if (cert !== undefined) tls.cert = cert
      const key = read(user.keyFile, user.keyData)
      if (key !== undefined) tls.key = key
      if (user.impersonate !== undefined) headers["Impersonate-User"] = user.impersonate
      const credential = await execCredential(refresh)
      if (credential?.status?.clientCertificateData) tls.cert = credential.status.clientCertificateData
      if (credential?.status?.clientKeyData) tls.key = credential.status.clientKeyData
      if (credential?.status?.token) headers["Authorization"] = `Bearer ${credential.status.token}`
      // client-node applies the first auth provider that matches (exec before the token file), then the user's token.
      const tokenFile = user.tokenFile ?? (exec === undefined ? providerTokenFile : undefined)
      const token = user.token ?? (tokenFile === undefined ? undefined : fs.readFileSync(tokenFile, "utf8"))
      if (token !== undefined) headers["Authorization"] = `Bearer ${token}`
      if (user.username !== undefined) {
        headers["Authorization"] = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`
      }
      return { tls, headers }
    }
  }
}

/** The TLS settings a connection source hands out. @internal */
export const tlsKeys = ["ca", "cert", "key", "servername", "rejectUnauthorized"] as const

/**
 * What `K8sClient.fromKubeConfig` uses of a `KubeConfig` of `@kubernetes/client-node` (1.x or 2.x): its current
 * cluster, and the credentials it applies to a request. Structural, so that the library's declarations do not import
 * client-node, an optional peer that only users of `fromKubeConfig` install.
 */
export interface ClientNodeKubeConfig {
  getCurrentCluster(): { readonly server: string; readonly proxyUrl?: string | undefined } | null
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>
}

/**
 * A `KubeConfig` of client-node the user built (any auth provider it supports): its credentials, applied by it.
 *
 * @internal
 */
export const fromClientNode = (kubeConfig: ClientNodeKubeConfig): ConnectionSource => {
  const cluster = kubeConfig.getCurrentCluster()
  if (cluster === null) {
    throw new Error("The kubeconfig has no current cluster: set a current-context or use KubeConfig.loadFromCluster()")
  }
  return {
    server: cluster.server,
    proxyUrl: cluster.proxyUrl,
    credentials: async () => {
      const options: https.RequestOptions = {}
      await kubeConfig.applyToHTTPSOptions(options)
      const tls: Tls = Object.fromEntries(
        tlsKeys.flatMap((key) => options[key] === undefined ? [] : [[key, options[key]]])
      )
      const headers: Record<string, string> = {}
      for (const [key, value] of Object.entries(options.headers ?? {})) {
        if (typeof value === "string") headers[key] = value
        else if (typeof value === "number") headers[key] = String(value)
        else if (Array.isArray(value)) headers[key] = value.join(", ")
      }
      if (typeof options.auth === "string" && options.auth !== ":" && !options.auth.startsWith("undefined")) {
        headers["Authorization"] = `Basic ${Buffer.from(options.auth).toString("base64")}`
      }
      return { tls, headers }
    }
  }
}
