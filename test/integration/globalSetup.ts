import { buildCandidate } from "../../testkit/buildCandidate.js"
import { ensureBinaries } from "../../testkit/controlPlane.js"

/**
 * Builds etcd, kube-apiserver, kube-controller-manager and the client-go candidate once (cached afterwards), and our
 * candidate on the built library (dist/, about 5 s), which the suites run on plain node as users do.
 */
export default async function setup() {
  const started = Date.now()
  await ensureBinaries({ log: (line) => process.stderr.write(`[control plane] ${line}\n`) })
  process.stderr.write(`[control plane] binaries ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  const building = Date.now()
  await buildCandidate()
  process.stderr.write(`[candidate] built on dist/ in ${((Date.now() - building) / 1000).toFixed(1)} s\n`)
}
