/**
 * The kubeconfig loader resolves every form users still use exactly as client-node's `KubeConfig` does: each case
 * loads the same files with both and compares the server, the proxy, the TLS material and the headers.
 */
import { describe, expect, it } from "@effect/vitest"
import { KubeConfig } from "@kubernetes/client-node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import {
  connectionOf,
  type ConnectionSource,
  fromClientNode,
  inCluster,
  loadDefault,
  loadFile
} from "../src/internal/kubeConfig.js"

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-test-"))
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }))

const write = (name: string, content: string) => {
  const file = path.join(directory, name)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
  return file
}
const base64 = (text: string) => Buffer.from(text).toString("base64")

write("pki/ca.crt", "-----BEGIN CERTIFICATE-----\nCA FROM FILE\n-----END CERTIFICATE-----\n")
write("pki/client.crt", "-----BEGIN CERTIFICATE-----\nCLIENT FROM FILE\n-----END CERTIFICATE-----\n")
write("pki/client.key", "-----BEGIN PRIVATE KEY-----\nKEY FROM FILE\n-----END PRIVATE KEY-----\n")
const tokenFile = write("token", "token-from-file")
const plugin = write(
  "plugin.mjs",
  `const [mode] = process.argv.slice(2)
const status = mode === "cert"
  ? { clientCertificateData: "EXEC CERT", clientKeyData: "EXEC KEY" }
  : { token: "exec-" + (process.env.PLUGIN_TENANT ?? "none"), expirationTimestamp: "2999-01-01T00:00:00Z" }
console.log(JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status }))
`
)

const kubeconfig = (cluster: string, user: string, extra = "") =>
  `apiVersion: v1
kind: Config
current-context: main
contexts:
  - name: main
    context: { cluster: main, user: main, namespace: ops }
clusters:
  - name: main
    cluster:
${cluster.replace(/^/gm, "      ")}
users:
  - name: main
    user:
${user.replace(/^/gm, "      ")}
${extra}`

const resolve = async (source: ConnectionSource) => ({
  server: source.server,
  proxyUrl: source.proxyUrl,
  ...(await source.credentials(false))
})

/** Both resolutions of the kubeconfig file `file`. */
const both = async (file: string) => {
  const theirs = new KubeConfig()
  theirs.loadFromFile(file)
  return { ours: await resolve(connectionOf(loadFile(file))), theirs: await resolve(fromClientNode(theirs)) }
}

const cases: ReadonlyArray<readonly [string, string, string]> = [
  [
    "a token, an inline CA and tls-server-name",
    `server: https://10.0.0.1:6443/\ncertificate-authority-data: ${base64("INLINE CA")}\ntls-server-name: api.internal`,
    "token: abc.def"
  ],
  [
    "client certificate and key files, relative to the kubeconfig",
    "server: https://api.example:6443\ncertificate-authority: pki/ca.crt",
    "client-certificate: pki/client.crt\nclient-key: pki/client.key"
  ],
  [
    "inline client certificate and key",
    "server: https://api.example:6443",
    `client-certificate-data: ${base64("INLINE CERT")}\nclient-key-data: ${base64("INLINE KEY")}`
  ],
  ["a token file", "server: https://api.example:6443", `token-file: ${tokenFile}`],
  ["a token beats a token file", "server: https://api.example:6443", `token: inline\ntoken-file: ${tokenFile}`],
  ["basic auth", "server: https://api.example:6443", "username: admin\npassword: s3cret"],
  ["impersonation", "server: https://api.example:6443", "token: abc\nas: system:serviceaccount:ops:robot"],
  ["insecure-skip-tls-verify", "server: https://api.example:6443\ninsecure-skip-tls-verify: true", "token: abc"],
  ["an HTTP proxy-url", "server: https://api.example:6443\nproxy-url: http://proxy.corp:3128", "token: abc"],
  ["a SOCKS proxy-url", "server: https://api.example:6443\nproxy-url: socks5://proxy.corp:1080", "token: abc"],
  [
    "an exec plugin with a token, an expiry and its env",
    "server: https://api.example:6443",
    `exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: node\n  args: [${plugin}]\n  env:\n    - { name: PLUGIN_TENANT, value: blue }`
  ],
  [
    "an exec plugin with a client certificate over the file's",
    "server: https://api.example:6443",
    `client-certificate: pki/client.crt\nclient-key: pki/client.key\nexec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: node\n  args: [${plugin}, cert]`
  ],
  [
    "a token over an exec plugin's",
    "server: https://api.example:6443",
    `token: wins\nexec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: node\n  args: [${plugin}]`
  ]
]

describe("kubeconfig: resolved as client-node resolves it", () => {
  for (const [name, cluster, user] of cases) {
    it(name, async () => {
      const { ours, theirs } = await both(write(`${name.replace(/\W+/g, "-")}.yaml`, kubeconfig(cluster, user)))
      expect(ours).toEqual(theirs)
    })
  }

  it("what the cases resolve to, spelled out for two of them", async () => {
    const files = await both(write("files.yaml", kubeconfig(cases[1]![1], cases[1]![2])))
    expect(files.ours.tls.ca?.toString()).toContain("CA FROM FILE")
    expect(files.ours.tls.key?.toString()).toContain("KEY FROM FILE")
    const exec = await both(write("exec.yaml", kubeconfig(cases[10]![1], cases[10]![2])))
    expect(exec.ours.headers).toEqual({ Authorization: "Bearer exec-blue" })
  })

  it("$KUBECONFIG with several files: merged, the later current-context wins, as in client-node", async () => {
    const first = write("merge/a.yaml", kubeconfig("server: https://a.example:6443", "token: a"))
    const second = write(
      "merge/b.yaml",
      `current-context: other
contexts: [{ name: other, context: { cluster: other, user: other } }]
clusters: [{ name: other, cluster: { server: "https://b.example:6443" } }]
users: [{ name: other, user: { token: b } }]
`
    )
    const env = { KUBECONFIG: [first, second].join(path.delimiter) }
    const saved = process.env["KUBECONFIG"]
    process.env["KUBECONFIG"] = env.KUBECONFIG
    const theirs = new KubeConfig()
    try {
      theirs.loadFromDefault()
    } finally {
      if (saved === undefined) delete process.env["KUBECONFIG"]
      else process.env["KUBECONFIG"] = saved
    }
    const ours = await resolve(connectionOf(loadDefault(env)))
    expect(ours).toEqual(await resolve(fromClientNode(theirs)))
    expect(ours.server).toBe("https://b.example:6443")
    // A duplicate name fails in both.
    const duplicate = { KUBECONFIG: [first, first].join(path.delimiter) }
    expect(() => loadDefault(duplicate)).toThrow(/duplicate cluster "main"/)
  })

  it("in cluster: the service account's CA and token, an IPv6 host in brackets; a rotated token is read again", async () => {
    const root = path.join(directory, "pod")
    write("pod/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "SERVICE ACCOUNT CA")
    const token = write("pod/var/run/secrets/kubernetes.io/serviceaccount/token", "first-token")
    const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }
    const saved = { ...process.env }
    Object.assign(process.env, env)
    const theirs = new KubeConfig()
    try {
      theirs.loadFromCluster(root)
    } finally {
      for (const key of Object.keys(env)) {
        if (saved[key] === undefined) delete process.env[key]
        else process.env[key] = saved[key]
      }
    }
    const source = connectionOf(inCluster(env, root))
    const ours = await resolve(source)
    expect(ours).toEqual(await resolve(fromClientNode(theirs)))
    expect(ours.server).toBe("https://[fd00::1]:443")
    expect(ours.headers).toEqual({ Authorization: "Bearer first-token" })
    // loadDefault finds the token when there is no kubeconfig.
    expect(loadDefault({ ...env, HOME: path.join(directory, "nohome") }, root).source).toBe(
      "the in-cluster service account"
    )
    fs.writeFileSync(token, "rotated-token")
    expect((await source.credentials(false)).headers).toEqual({ Authorization: "Bearer rotated-token" })
  })

  it("an exec credential is cached until its expiry, and run again on a refresh (after a 401)", async () => {
    const counter = write(
      "count.mjs",
      `import fs from "node:fs"
const file = process.argv[2]
const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : 0) + 1
fs.writeFileSync(file, String(n))
console.log(JSON.stringify({ status: { token: "t" + n } }))
`
    )
    const runs = path.join(directory, "runs")
    const source = connectionOf(
      loadFile(write(
        "counted.yaml",
        kubeconfig(
          "server: https://api.example:6443",
          `exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: node\n  args: [${counter}, ${runs}]`
        )
      ))
    )
    expect((await source.credentials(false)).headers["Authorization"]).toBe("Bearer t1")
    expect((await source.credentials(false)).headers["Authorization"]).toBe("Bearer t1")
    expect((await source.credentials(true)).headers["Authorization"]).toBe("Bearer t2")
  })

  describe("errors that say what to fix", () => {
    it("a legacy auth-provider: build a client-node KubeConfig and pass it to K8sClient.fromKubeConfig", () => {
      const file = write(
        "oidc.yaml",
        kubeconfig("server: https://api.example:6443", "auth-provider:\n  name: oidc\n  config: { idp-issuer-url: x }")
      )
      expect(() => connectionOf(loadFile(file))).toThrow(/auth-provider "oidc".*K8sClient\.fromKubeConfig/)
    })

    it("no current-context, an unknown one, a cluster without server, an exec plugin without command", () => {
      const noContext = write("no-context.yaml", "clusters: []\n")
      expect(() => connectionOf(loadFile(noContext))).toThrow(/no current-context is set/)
      const unknown = write(
        "unknown.yaml",
        kubeconfig("server: https://x", "token: a").replace(
          "current-context: main",
          "current-context: prod"
        )
      )
      expect(() => connectionOf(loadFile(unknown))).toThrow(/current-context "prod" is not among its contexts/)
      const noServer = write("no-server.yaml", kubeconfig("insecure-skip-tls-verify: true", "token: a"))
      expect(() => loadFile(noServer)).toThrow(/clusters\[0\]\.cluster\.server is missing/)
      expect(() => new KubeConfig().loadFromFile(noServer)).toThrow(/clusters\[0\]\.cluster\.server is missing/)
      const noCommand = write("no-command.yaml", kubeconfig("server: https://x", "exec:\n  args: [a]"))
      expect(() => connectionOf(loadFile(noCommand))).toThrow(/exec plugin of user "main" has no command/)
    })

    it("nothing to load: says where it looked, where client-node would fall back to http://localhost:8080", () => {
      expect(() => loadDefault({ HOME: path.join(directory, "nohome") }, path.join(directory, "nopod"))).toThrow(
        /no kubeconfig found: \$KUBECONFIG is not set, ~\/\.kube\/config does not exist/
      )
      expect(() => loadFile(path.join(directory, "missing.yaml"))).toThrow(/cannot read the kubeconfig .*missing\.yaml/)
    })
  })
})
