#!/usr/bin/env bash
# The compatibility leg: the integration suite on Node 24 with @kubernetes/client-node 2.x (the main leg is the
# machine's Node with 1.4.0), and with the Effect 4 edition's candidate processes (CANDIDATE_EDITION=4): the suites
# that start candidates (lease, safety, shutdown) run them against the Effect 4 edition here, the Effect 3 one in the
# main leg; interop mixes both editions and client-go in either. Node 24 comes from the npm registry (scripts/node24.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
node24=$(scripts/node24.sh)
echo "[compat] $("$node24" --version), @kubernetes/client-node $(node -p 'require("kubernetes-client-node-2/package.json").version'), candidates of the Effect 4 edition" >&2
export K8S_CLIENT_NODE=2
export CANDIDATE_EDITION=4
export NODE_OPTIONS="--import $PWD/test/compat/client-node-2.mjs ${NODE_OPTIONS:-}"
export PATH="$(dirname "$node24"):$PATH"
exec "$node24" node_modules/vitest/vitest.mjs run --project integration "$@"
