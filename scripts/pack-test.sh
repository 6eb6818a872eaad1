#!/usr/bin/env bash
# Proof that what we publish works: builds the library, packs it (npm pack), installs the tarball into a throwaway
# consumer project together with the peer dependencies from the npm registry, then type-checks (tsc, against the
# installed package's .d.ts through its "exports" map) and runs (tsx) the README's "Guarding an effect" example on
# the in-memory cluster. Needs only the npm registry. Keeps nothing: both temporary directories are removed.
#
#   npm run test:pack            # KEEP=1 keeps the consumer project and prints its path
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
step() { printf '[test:pack] %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/effect-k8s-leader-pack.XXXXXX")
cleanup() { if [ "${KEEP:-}" = 1 ]; then step "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

step "build: npm run build"
npm run --silent build

step "pack: npm pack into $work/tarball"
mkdir -p "$work/tarball" "$work/consumer"
tarball=$(npm pack --silent --pack-destination "$work/tarball" | tail -n 1)
tarball="$work/tarball/$tarball"
step "packed $(basename "$tarball"), $(du -k "$tarball" | cut -f1) kB, $(tar -tzf "$tarball" | wc -l) files"
# What must (and must not) be in it.
listing=$(tar -tzf "$tarball")
for required in package/package.json package/README.md package/dist/index.js package/dist/index.d.ts \
  package/dist/HealthCheck.js package/src/index.ts package/deploy/rbac/lease-lock.yaml package/LICENSE; do
  grep -qx "$required" <<<"$listing" || { step "FAIL: $required is missing from the tarball"; exit 1; }
done
if grep -Eq '^package/(test|scripts|examples|tools|node_modules)/' <<<"$listing"; then
  step "FAIL: the tarball contains files outside of files: [dist, src, deploy, README.md]"
  exit 1
fi

# The versions this repository is developed against (from its node_modules), so the npm cache serves them.
version() { node -p "require('$root/node_modules/$1/package.json').version"; }
deps=(
  "effect@$(version effect)"
  "@effect/platform@$(version @effect/platform)"
  "@kubernetes/client-node@1.4.0"
  "tsx@$(version tsx)"
  "typescript@$(version typescript)"
  "@types/node@$(version @types/node)"
)

cd "$work/consumer"
cat >package.json <<'JSON'
{ "name": "consumer", "version": "0.0.0", "private": true, "type": "module" }
JSON
cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022"],
    "types": ["node"],
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["example.ts"]
}
JSON
# The README's "Guarding an effect" example, on the in-memory cluster: a Pod is created first (leader for life
# needs its own Pod), and the guarded effect logs and completes instead of running forever.
cat >example.ts <<'TS'
import { Effect, Layer, Option } from "effect"
import { ConfigMaps, ContextInfo, HealthCheck, InMemoryCluster, LeaderElection, Pods } from "effect-k8s-leader"

const exampleLeader = Effect.gen(function*() {
  yield* Effect.logInfo("Got leader role")
  return "done"
})

// Effect<Option<string>, LeaderElectionError, LeaderElection>
const example = LeaderElection.runAsLeader(exampleLeader)

const ElectionLive = LeaderElection.configMapLock("leader-example-lock").pipe(
  Layer.provide(ContextInfo.test({ namespace: "default", podName: "example-pod" }))
)

const program = Effect.gen(function*() {
  const pods = yield* Pods
  yield* pods.create({
    metadata: { name: "example-pod", namespace: "default" },
    spec: { containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] }
  })
  const result: Option.Option<string> = yield* example.pipe(Effect.provide(ElectionLive))
  console.log(`runAsLeader returned ${Option.match(result, { onNone: () => "None", onSome: (a) => `Some(${a})` })}`)
  const lock = yield* Effect.flatMap(ConfigMaps, (configMaps) => configMaps.get("leader-example-lock", "default"))
    .pipe(Effect.option)
  console.log(Option.isNone(lock) ? "the lock is gone after the release" : "the lock is still there")
  // Not in the README's example: the health check and its /healthz route (which loads @effect/platform).
  const health = yield* HealthCheck.check().pipe(Effect.provide(ElectionLive), Effect.either)
  console.log(`health check: ${health._tag === "Right" ? "ok" : health.left.message}`)
}).pipe(Effect.provide(InMemoryCluster.layer))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
TS

step "install: the tarball + ${deps[*]}"
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tarball" "${deps[@]}"
installed=$(node -p "require('effect-k8s-leader/package.json').version")
step "installed effect-k8s-leader@$installed; resolved entry: $(node -e "console.log(import.meta.resolve('effect-k8s-leader'))" --input-type=module)"

step "type-check: tsc -p tsconfig.json (strict, exactOptionalPropertyTypes, types from the package's exports map)"
npx --no-install tsc -p tsconfig.json
# Our published .d.ts themselves, with skipLibCheck off. That also checks every other package's .d.ts, some of which
# do not compile on their own (@kubernetes/client-node's isomorphic-ws has no types for ws): only errors in
# our package, or in the example, count.
strict=$(npx --no-install tsc -p tsconfig.json --skipLibCheck false --lib ES2022,DOM 2>&1 || true)
ours=$(grep -E '^(example\.ts|node_modules/effect-k8s-leader/)' <<<"$strict" || true)
if [ -n "$ours" ]; then
  printf '%s\n' "$ours"
  step "FAIL: the published .d.ts do not type-check"
  exit 1
fi
step "type-check: tsc --skipLibCheck false: our .d.ts clean ($(grep -cE '^[^ ].*error TS' <<<"$strict" || true) error lines in other packages' .d.ts ignored)"

step "run: tsx example.ts"
output=$(npx --no-install tsx example.ts 2>&1)
printf '%s\n' "$output" | sed 's/^/  | /'
for expected in 'Got leader role' 'runAsLeader returned Some(done)' 'the lock is gone after the release' 'health check: ok'; do
  grep -qF "$expected" <<<"$output" || { step "FAIL: the output lacks \"$expected\""; exit 1; }
done

step "subpaths: each public module is its own entry point"
modules=$(node -e "console.log(Object.keys(require('effect-k8s-leader/package.json').exports).filter((k) => k !== '.' && k !== './package.json').map((k) => k.slice(2)).join(' '))")
cat >subpaths.ts <<TS
$(for module in $modules; do
  if [ "$module" = HealthCheck ] || [ "$module" = errors ] || [ "$module" = resources ]; then
    echo "import * as m_$module from \"effect-k8s-leader/$module\""
  else
    echo "import { $module as m_$module } from \"effect-k8s-leader/$module\""
  fi
done)
console.log([$(for module in $modules; do printf 'typeof m_%s, ' "$module"; done)].join(" "))
TS
npx --no-install tsc --noEmit --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --types node \
  --skipLibCheck subpaths.ts
npx --no-install tsx subpaths.ts >/dev/null
step "subpaths: $modules type-check and load"
# @effect/platform is needed by HealthCheck (its /healthz route) and ContextInfo (its FileSystem), so by
# LeaderElection and the root too; the resource services, InMemoryCluster, K8sClient and the errors load without it.
mv node_modules/@effect/platform "$work/platform-aside"
for module in $modules; do
  case "$module" in HealthCheck | ContextInfo | LeaderElection) continue ;; esac
  node --input-type=module -e "await import('effect-k8s-leader/$module')" ||
    { mv "$work/platform-aside" node_modules/@effect/platform; step "FAIL: effect-k8s-leader/$module needs @effect/platform"; exit 1; }
done
if node --input-type=module -e "await import('effect-k8s-leader/HealthCheck')" 2>/dev/null; then
  mv "$work/platform-aside" node_modules/@effect/platform
  step "FAIL: effect-k8s-leader/HealthCheck loaded without @effect/platform: the check above proves nothing"
  exit 1
fi
mv "$work/platform-aside" node_modules/@effect/platform
step "subpaths: all but HealthCheck, ContextInfo and LeaderElection load without @effect/platform"

step "OK in $(($(date +%s) - started)) s"
