// The floor of a follower's CPU per watch event: a bare Node client that watches one Lease over a kept-alive
// https.Agent and parses each event, nothing more. Plain JavaScript, run by plain node (bench/phases/events.ts).
//
//   node bench/bareWatcher.mjs SERVER TOKEN NAMESPACE NAME
// Prints one event line ({"event":"new_leader","leader":...}) with the holder of the first event it receives.
import * as https from "node:https"

const [server, token, namespace, name] = process.argv.slice(2)
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false })
const url = `${server}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases?watch=true` +
  `&fieldSelector=metadata.name%3D${name}`
let events = 0
https.request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
  response.setEncoding("utf8")
  let buffered = ""
  response.on("data", (chunk) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline >= 0) {
      const event = JSON.parse(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
      if (events++ === 0) {
        const leader = event.object.spec?.holderIdentity ?? ""
        process.stdout.write(`${JSON.stringify({ event: "new_leader", identity: "bare", leader, mono_ns: 0 })}\n`)
      }
      newline = buffered.indexOf("\n")
    }
  })
}).end()
process.on("SIGTERM", () => process.exit(0))
