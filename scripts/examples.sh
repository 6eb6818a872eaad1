#!/usr/bin/env bash
# Runs the demo and every example on the in-memory cluster: each must end by itself with exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
unset KUBECONFIG
for script in demo "demo -- --lock leaderlock" "demo -- --lock lease" example:seed example:reconcile example:health example:shutdown; do
  echo "[examples] npm run $script" >&2
  # shellcheck disable=SC2086
  timeout 120 npm run --silent $script > /dev/null
done
echo "[examples] all ran and exited 0" >&2
