import { ensureBinaries } from "../../scripts/controlPlane.js"

/** Builds etcd, kube-apiserver, kube-controller-manager and the client-go candidate once; cached afterwards. */
export default async function setup() {
  const started = Date.now()
  await ensureBinaries({ log: (line) => process.stderr.write(`[control plane] ${line}\n`) })
  process.stderr.write(`[control plane] binaries ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}
