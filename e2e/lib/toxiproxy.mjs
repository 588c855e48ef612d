// Toxiproxy (github.com/Shopify/toxiproxy) for the end-to-end suite: a TCP proxy whose link can be
// slowed or cut, standing in for a phone's network (this kernel has no netem). The server binary is
// TOXIPROXY_BIN, else `server` in Go's bin folder (`go install .../toxiproxy/v2/cmd/server`).
// Returns null after one loud SKIP line where it is missing; with CI set a missing binary throws.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { stopChild } from './harness.mjs'

export function toxiproxyPath(suite) {
  let bin = process.env.TOXIPROXY_BIN
  if (!bin) {
    let gobin = process.env.GOBIN
    if (!gobin) {
      try {
        gobin = join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin')
      } catch {
        gobin = join(process.env.HOME ?? '/root', 'go', 'bin')
      }
    }
    bin = join(gobin, 'server')
  }
  if (existsSync(bin)) return bin
  const msg = `SKIP ${suite}: no Toxiproxy server at ${bin}; set TOXIPROXY_BIN (go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0)`
  if (process.env.CI) throw new Error(`${msg} (CI must run it)`)
  console.error(`!!!!! ${msg}`)
  return null
}

/** Starts the Toxiproxy server on `apiPort`; resolves with a small client of its HTTP API. */
export async function startToxiproxy(bin, apiPort) {
  const child = spawn(bin, ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: ['ignore', 'ignore', 'ignore'] })
  const api = `http://127.0.0.1:${apiPort}`
  const call = async (method, path, body) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`)
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await call('GET', '/version')
      break
    } catch {
      if (child.exitCode !== null) throw new Error(`toxiproxy exited with ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error('toxiproxy did not start')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    /** A proxy `name` listening on `listenPort`, forwarding to `upstream` (host:port). */
    async proxy(name, listenPort, upstream) {
      await call('POST', '/proxies', { name, listen: `127.0.0.1:${listenPort}`, upstream, enabled: true })
      return {
        url: `http://127.0.0.1:${listenPort}`,
        /** Adds `ms` of latency to each direction's data (the round trip grows by twice that). */
        async latency(ms) {
          for (const stream of ['upstream', 'downstream']) {
            await call('POST', `/proxies/${name}/toxics`, { name: `latency_${stream}`, type: 'latency', stream, attributes: { latency: ms, jitter: 0 } })
          }
        },
        /** Cuts the link: every byte is held (the connection stays open, nothing gets through). */
        async cut() {
          for (const stream of ['upstream', 'downstream']) {
            await call('POST', `/proxies/${name}/toxics`, { name: `cut_${stream}`, type: 'timeout', stream, attributes: { timeout: 0 } })
          }
        },
        /** Removes every toxic. */
        async heal() {
          const toxics = await call('GET', `/proxies/${name}/toxics`)
          for (const toxic of toxics) await call('DELETE', `/proxies/${name}/toxics/${toxic.name}`)
        },
      }
    },
    stop: () => stopChild(child),
  }
}
