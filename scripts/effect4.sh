#!/usr/bin/env bash
# The Effect 4 edition's development environment. Its sources (src/effect4) import `effect`, which must resolve to
# Effect 4 while the rest of the repository runs on Effect 3: effect4/package.json holds its dev dependencies
# (effect 4, @effect/vitest 4, vitest 5, @effect/platform-node 4), installed into effect4/node_modules and linked as
# src/effect4/node_modules, so that every tool (tsc, vitest, tsx, node, esbuild) resolves it as a user's project would.
# Its tests run on Node 24 (vitest 5 needs Node >= 22.12).
#
#   scripts/effect4.sh setup           # npm ci in effect4/ (skipped when the lock is unchanged) and the link
#   scripts/effect4.sh <command...>    # setup, then the command with Node 24 first on PATH
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

setup() {
  local stamp=effect4/node_modules/.lock.sha256 wanted
  wanted=$(sha256sum effect4/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "[effect4] npm ci in effect4/" >&2
    npm ci --prefix effect4 --no-audit --no-fund --loglevel=error >&2
    echo "$wanted" >"$stamp"
  fi
  ln -sfn ../../effect4/node_modules src/effect4/node_modules
}

setup
[ "$#" -eq 0 ] || [ "$1" = setup ] && exit 0
node24=$(scripts/node24.sh)
export PATH="$(dirname "$node24"):$root/effect4/node_modules/.bin:$PATH"
exec "$@"
