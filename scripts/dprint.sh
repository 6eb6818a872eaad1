#!/usr/bin/env sh
# dprint, offline: the binary of the npm package @dprint/linux-x64-glibc (the registry here serves no other
# platform's build, so the `dprint` wrapper package, which lists them all, cannot pass `npm ci`). Elsewhere, a
# dprint on PATH is used.
dir=$(dirname "$0")/..
binary="$dir/node_modules/@dprint/linux-x64-glibc/dprint"
if [ -x "$binary" ]; then exec "$binary" "$@"; fi
exec dprint "$@"
