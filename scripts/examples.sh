#!/usr/bin/env bash
# Runs the demo and every example on the in-memory cluster, for both editions (Effect 3 in examples/, Effect 4 in
# effect4/examples/ on Node 24 through scripts/effect4.sh): each must end by itself with exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
unset KUBECONFIG
for edition in "" ":effect4"; do
  for script in "demo$edition" "demo$edition -- --lock leaderlock" "demo$edition -- --lock lease" \
    "example:seed$edition" "example:reconcile$edition" "example:health$edition" "example:shutdown$edition"; do
    echo "[examples] npm run $script" >&2
    # shellcheck disable=SC2086
    timeout 120 npm run --silent $script > /dev/null
  done
done
echo "[examples] all ran and exited 0" >&2
