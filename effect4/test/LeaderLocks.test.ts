import { describe, expect, it } from "@effect/vitest"
import { loadYaml } from "@kubernetes/client-node"
import { readFileSync } from "node:fs"
import { leaderLockDefinition } from "../../src/effect4/LeaderLocks.js"
import { LeaderLockKind } from "../../src/effect4/resources.js"

describe("the LeaderLock custom resource definition", () => {
  it("registered by LeaderLocks.ensureDefinition is the one shipped in deploy/crds/", () => {
    const shipped = loadYaml(
      readFileSync(new URL("../../deploy/crds/leaderlocks.effect-k8s-leader.io.yaml", import.meta.url), "utf8")
    )
    expect(shipped).toEqual(JSON.parse(JSON.stringify(leaderLockDefinition)))
  })

  it("names the group, version, kind and plural the LeaderLocks service uses", () => {
    expect(leaderLockDefinition.spec.group).toBe(LeaderLockKind.group)
    expect(leaderLockDefinition.spec.versions[0].name).toBe(LeaderLockKind.version)
    expect(leaderLockDefinition.spec.names.kind).toBe(LeaderLockKind.kind)
    expect(leaderLockDefinition.spec.names.plural).toBe(LeaderLockKind.plural)
    expect(leaderLockDefinition.spec.scope).toBe("Namespaced")
  })
})
