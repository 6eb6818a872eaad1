#!/usr/bin/env bash
# Proof that what we publish works: builds the library (both editions), packs it (npm pack), and for each edition
# (Effect 3: `effect-k8s-leader`, Effect 4: `effect-k8s-leader/effect4`) on Node 24 and on Node 20 installs the
# tarball into a new project with exactly the README's install command for that edition (read from README.md, the
# tarball in place of the name; nothing pinned beside it), then type-checks (tsc, against the installed package's
# .d.ts through its "exports" map) and runs (tsx) the README's "Guarding an effect" example on the in-memory cluster,
# and on Node 24 imports every entry point of the edition. Needs only the npm registry. Keeps nothing.
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
mkdir -p "$work/tarball"
tarball=$(npm pack --silent --pack-destination "$work/tarball" | tail -n 1)
tarball="$work/tarball/$tarball"
step "packed $(basename "$tarball"), $(du -k "$tarball" | cut -f1) kB, $(tar -tzf "$tarball" | wc -l) files"
# What must (and must not) be in it.
listing=$(tar -tzf "$tarball")
for required in package/package.json package/README.md package/dist/index.js package/dist/index.d.ts \
  package/dist/HealthCheck.js package/dist/effect4/index.js package/dist/effect4/index.d.ts \
  package/dist/effect4/HealthCheck.js package/src/index.ts package/src/effect4/index.ts package/deploy/rbac/lease-lock.yaml package/LICENSE; do
  grep -qx "$required" <<<"$listing" || { step "FAIL: $required is missing from the tarball"; exit 1; }
done
if grep -Eq '^package/(test|scripts|examples|tools|effect4)/|/node_modules/' <<<"$listing"; then
  step "FAIL: the tarball contains files outside of files: [dist, src, deploy, README.md]"
  exit 1
fi

# The README's install command of an edition: the line of its ```sh block that ends with "# Effect N".
readme_command() {
  local line
  line=$(grep -E "^npm install effect-k8s-leader( [^#]*)? +# Effect $1\$" "$root/README.md" | head -n 1)
  [ -n "$line" ] || { step "FAIL: README.md has no install line ending with \"# Effect $1\""; exit 1; }
  sed -E 's/ +#.*$//' <<<"$line"
}
node24=$(scripts/node24.sh)
node20=$(command -v node)
# The consumer's own tools, installed after the README's command (they do not choose the library's dependencies).
tools=("tsx@$(node -p "require('$root/node_modules/tsx/package.json').version")"
  "typescript@$(node -p "require('$root/node_modules/typescript/package.json').version")" "@types/node@24")

# The README's "Guarding an effect" example on the in-memory cluster: a Pod is created first (leader for life needs
# its own Pod), and the guarded effect logs and completes instead of running forever. $1: the import path, $2: how
# the edition turns a failure into a value (Effect 3: either, Effect 4: result).
example() {
  local entry=$1 edition=$2
  local attempt ok
  if [ "$edition" = 3 ]; then
    attempt='Effect.either'
    ok='health._tag === "Right" ? "ok" : health.left.message'
  else
    attempt='Effect.result'
    ok='health._tag === "Success" ? "ok" : health.failure.message'
  fi
  cat <<TS
import { Effect, Layer, Option } from "effect"
import { ConfigMaps, ContextInfo, HealthCheck, InMemoryCluster, LeaderElection, Pods } from "$entry"

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
  console.log(\`runAsLeader returned \${Option.match(result, { onNone: () => "None", onSome: (a) => \`Some(\${a})\` })}\`)
  const lock = yield* Effect.flatMap(ConfigMaps, (configMaps) => configMaps.get("leader-example-lock", "default"))
    .pipe(Effect.option)
  console.log(Option.isNone(lock) ? "the lock is gone after the release" : "the lock is still there")
  // Not in the README's example: the health check (Effect 3: it loads @effect/platform).
  const health = yield* HealthCheck.check().pipe(Effect.provide(ElectionLive), $attempt)
  console.log(\`health check: \${$ok}\`)
}).pipe(Effect.provide(InMemoryCluster.layer))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
TS
}

# One new project: $1 edition (3 or 4), $2 the node binary.
consumer() {
  local edition=$1 node=$2
  local dir="$work/consumer-effect$edition-node$("$node" -p 'process.versions.node.split(".")[0]')"
  local entry=effect-k8s-leader
  [ "$edition" = 4 ] && entry=effect-k8s-leader/effect4
  local command
  command=$(readme_command "$edition")
  mkdir -p "$dir"
  (
    cd "$dir"
    export PATH="$(dirname "$node"):$PATH"
    local label="[Effect $edition, Node $(node --version)]"
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
    example "$entry" "$edition" >example.ts
    step "$label the README's command: $command"
    # shellcheck disable=SC2086
    ${command/effect-k8s-leader/$tarball} --no-audit --no-fund --loglevel=error
    npm install --save-dev --no-audit --no-fund --loglevel=error "${tools[@]}"
    step "$label resolved: effect $(node -p "require('effect/package.json').version"), @effect/platform $(node -p "try { require('@effect/platform/package.json').version } catch { 'none' }")"

    npx --no-install tsc -p tsconfig.json
    # Our published .d.ts themselves, with skipLibCheck off: only errors in our package, or in the example, count.
    local strict ours
    strict=$(npx --no-install tsc -p tsconfig.json --skipLibCheck false --lib ES2022,DOM 2>&1 || true)
    ours=$(grep -E '^(example\.ts|node_modules/effect-k8s-leader/)' <<<"$strict" || true)
    if [ -n "$ours" ]; then
      printf '%s\n' "$ours"
      step "$label FAIL: the published .d.ts do not type-check"
      exit 1
    fi
    step "$label type-check: tsc clean, also with --skipLibCheck false for our .d.ts"

    local output
    output=$(npx --no-install tsx example.ts 2>&1)
    printf '%s\n' "$output" | sed 's/^/  | /'
    for expected in 'Got leader role' 'runAsLeader returned Some(done)' 'the lock is gone after the release' \
      'health check: ok'; do
      grep -qF "$expected" <<<"$output" || { step "$label FAIL: the output lacks \"$expected\""; exit 1; }
    done
    step "$label the example ran"
    [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] && subpaths "$edition" "$label"
    if [ -n "${lowest[$edition]:-}" ]; then
      # The lowest `effect` of our peer range for this edition, which the README's command does not install.
      npm install --no-audit --no-fund --loglevel=error "effect@${lowest[$edition]}"
      npx --no-install tsc -p tsconfig.json
      npx --no-install tsx example.ts 2>&1 | grep -qF 'runAsLeader returned Some(done)' ||
        { step "$label FAIL: the example does not run on effect ${lowest[$edition]}"; exit 1; }
      step "$label also type-checks and runs on effect $(node -p "require('effect/package.json').version"), the lowest of our peer range"
    fi
    true
  )
}

# Every entry point of an edition type-checks and loads; Effect 3: which need @effect/platform.
subpaths() {
  local edition=$1 label=$2 prefix=effect-k8s-leader/ modules
  [ "$edition" = 4 ] && prefix=effect-k8s-leader/effect4/
  modules=$(node -e "
    const keys = Object.keys(require('effect-k8s-leader/package.json').exports)
    const prefix = $edition === 4 ? './effect4/' : './'
    const ours = keys.filter((k) => k.startsWith(prefix) && k !== './package.json' && !k.startsWith('./effect4'))
    const ours4 = keys.filter((k) => k.startsWith('./effect4/'))
    console.log(($edition === 4 ? ours4 : ours).map((k) => k.slice(prefix.length)).join(' '))")
  {
    for module in $modules; do
      if [ "$module" = HealthCheck ] || [ "$module" = errors ] || [ "$module" = resources ]; then
        echo "import * as m_$module from \"$prefix$module\""
      else
        echo "import { $module as m_$module } from \"$prefix$module\""
      fi
    done
    echo "console.log([$(for module in $modules; do printf 'typeof m_%s, ' "$module"; done)].join(\" \"))"
  } >subpaths.ts
  npx --no-install tsc --noEmit --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --types node \
    --skipLibCheck subpaths.ts
  npx --no-install tsx subpaths.ts >/dev/null
  step "$label subpaths: $modules type-check and load"
  if [ "$edition" = 4 ]; then
    [ ! -e node_modules/@effect/platform ] || { step "$label FAIL: the command installed @effect/platform"; exit 1; }
    return
  fi
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
  step "$label subpaths: all but HealthCheck, ContextInfo and LeaderElection load without @effect/platform"
}

# The lowest version of each line our peer range (`effect` ^3.22.4 || ^4.1.0) admits: tried on Node 24 too.
declare -A lowest=([3]=3.22.4 [4]=4.1.0)

consumer 4 "$node24"
consumer 3 "$node24"
lowest=()
consumer 4 "$node20"
consumer 3 "$node20"

step "OK in $(($(date +%s) - started)) s"
