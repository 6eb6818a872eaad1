#!/usr/bin/env bash
# Runs each argument as a shell command at the same time, with its output prefixed by its number; fails when any
# fails (after all have ended). For independent CPU-bound suites on a machine with more than one core.
set -uo pipefail
pids=()
n=0
for command in "$@"; do
  n=$((n + 1))
  (bash -c "$command" 2>&1 | sed -u "s/^/[$n] /"; exit "${PIPESTATUS[0]}") &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
