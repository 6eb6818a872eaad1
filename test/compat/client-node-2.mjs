// The compatibility leg (Node 24 + @kubernetes/client-node 2.x): every import of "@kubernetes/client-node" in this
// process and its children resolves to the 2.x release installed under the alias "kubernetes-client-node-2".
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, nextResolve) {
    return nextResolve(specifier === "@kubernetes/client-node" ? "kubernetes-client-node-2" : specifier, context)
  }
})
