/**
 * A loopback TCP proxy for fault injection: it listens on 127.0.0.1 (a free port) and forwards every connection to
 * a target port, byte for byte (TLS passes through untouched, so the apiserver's certificate for 127.0.0.1 still
 * matches). `blackhole()` stops forwarding in both directions without closing anything, as a network partition
 * does: bytes already sent wait (and, once the buffers fill, TCP back-pressure stalls the sender); `heal()` delivers
 * them and forwards again; `reset()` destroys every connection at once, as a lost route or a restarted middlebox.
 */
import * as net from "node:net"

export interface Proxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  /** Connections forwarded so far, and those open now. */
  readonly stats: () => { readonly accepted: number; readonly open: number; readonly blackholed: boolean }
  /** Stops forwarding bytes in both directions; connections stay open, new ones are accepted but held. */
  readonly blackhole: () => void
  /** Forwards again, the held bytes first. */
  readonly heal: () => void
  /** Destroys every open connection (both sides). */
  readonly reset: () => void
  /** Destroys every connection and stops listening. */
  readonly close: () => Promise<void>
}

/** One direction of one connection: holds chunks while blackholed, in order. */
interface Pipe {
  readonly from: net.Socket
  readonly to: net.Socket
  readonly held: Array<Buffer>
}

export const startProxy = async (target: { readonly host?: string; readonly port: number }): Promise<Proxy> => {
  const host = target.host ?? "127.0.0.1"
  let blackholed = false
  let accepted = 0
  const sockets = new Set<net.Socket>()
  const pipes = new Set<Pipe>()

  const flush = (pipe: Pipe) => {
    while (pipe.held.length > 0 && !pipe.to.destroyed) pipe.to.write(pipe.held.shift()!)
    pipe.from.resume()
  }

  const connect = (from: net.Socket, to: net.Socket, connected: () => boolean) => {
    const pipe: Pipe = { from, to, held: [] }
    pipes.add(pipe)
    from.on("data", (chunk: Buffer) => {
      if (blackholed || !connected()) {
        // Held, not dropped: a partition delays bytes, TCP retransmits them after it heals. Stop reading so that
        // the kernel buffers fill and the sender stalls, as it would on a real link.
        pipe.held.push(chunk)
        from.pause()
      } else if (!to.write(chunk)) {
        from.pause()
        to.once("drain", () => {
          if (!blackholed) from.resume()
        })
      }
    })
    // A half-close or a close travels as bytes do: not while blackholed.
    const end = () => {
      const pass = () => {
        if (blackholed) return void setTimeout(pass, 50)
        flush(pipe)
        to.end()
      }
      pass()
    }
    from.on("end", end)
    from.on("close", () => {
      pipes.delete(pipe)
      const pass = () => {
        if (blackholed) return void setTimeout(pass, 50)
        if (!to.destroyed) to.destroy()
      }
      pass()
    })
    from.on("error", () => undefined)
    return pipe
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    accepted++
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    let upstreamReady = false
    const upstream = net.connect({ host, port: target.port, allowHalfOpen: true })
    sockets.add(upstream)
    upstream.on("close", () => sockets.delete(upstream))
    upstream.setNoDelay(true)
    client.setNoDelay(true)
    const toServer = connect(client, upstream, () => upstreamReady)
    connect(upstream, client, () => true)
    upstream.on("connect", () => {
      upstreamReady = true
      if (!blackholed) flush(toServer)
    })
    if (blackholed) client.pause()
  })
  server.on("error", () => undefined)
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("proxy: no port")

  const reset = () => {
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    pipes.clear()
  }

  return {
    port: address.port,
    stats: () => ({ accepted, open: sockets.size, blackholed }),
    blackhole: () => {
      blackholed = true
      for (const pipe of pipes) pipe.from.pause()
    },
    heal: () => {
      blackholed = false
      for (const pipe of pipes) flush(pipe)
    },
    reset,
    close: async () => {
      reset()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
