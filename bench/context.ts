/** What every phase of a run works with. */
import type { ControlPlane } from "../testkit/controlPlane.js"
import type { ApiServer } from "./apiServer.js"
import type { Settings } from "./settings.js"

export interface Bench {
  readonly settings: Settings
  readonly cp: ControlPlane
  readonly server: ApiServer
}
