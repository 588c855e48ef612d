// indigo's relay (the network's firehose aggregator) for the end-to-end suite: started with its own
// SQLite database in a temporary folder, on free loopback ports, against the suite's PLC directory.
// The binary comes from RELAY_BIN (default: ../shared/tools/relay beside the repository); without
// it, `relayBinary()` says so with one loud SKIP line, and fails when CI is set.
//
//   const relay = await startRelay({ plcUrl, port })   // { url, log(), stop() }
//   await relay.adminRequestCrawl('localhost:2583')
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stopChild } from './harness.mjs'

const REPO_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const ADMIN_PASSWORD = 'relay-admin-password'

/** The relay binary, or null after the SKIP line (throws instead when CI is set). */
export function relayBinary() {
  const bin = process.env.RELAY_BIN || resolve(REPO_DIR, '..', 'shared', 'tools', 'relay')
  if (existsSync(bin)) return bin
  const message = `SKIP relay tests: no relay binary at ${bin} (set RELAY_BIN to indigo's cmd/relay)`
  if (process.env.CI) throw new Error(message.replace(/^SKIP/, 'FAIL'))
  console.log(`\n*** ${message} ***\n`)
  return null
}

/** A free TCP port on loopback (bound, read and released). */
export async function freePort() {
  const server = createServer()
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address()
  await new Promise((ok) => server.close(ok))
  return port
}

/**
 * Starts the relay on 127.0.0.1:`port` (a free one if not given) with `plcUrl` as its PLC
 * directory, insecure (http) hosts allowed, debug logs (the tests wait for some of its lines).
 */
export async function startRelay({ bin, plcUrl, port }) {
  const dir = await mkdtemp(join(tmpdir(), 'pocketpds-relay-'))
  const apiPort = port ?? (await freePort())
  const metricsPort = await freePort()
  const url = `http://127.0.0.1:${apiPort}`
  const child = spawn(
    bin,
    [
      '--admin-password', ADMIN_PASSWORD,
      '--plc-host', plcUrl,
      '--log-level', 'debug',
      'serve',
      '--db-url', `sqlite://${join(dir, 'relay.sqlite')}`,
      '--persist-dir', join(dir, 'persist'),
      '--bind', `127.0.0.1:${apiPort}`,
      '--metrics-listen', `127.0.0.1:${metricsPort}`,
      '--allow-insecure-hosts',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const killOnExit = () => {
    try {
      process.kill(child.pid, 'SIGTERM')
    } catch {
      // Already gone.
    }
  }
  process.once('exit', killOnExit)
  const output = []
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      output.push(chunk)
      if (process.env.E2E_VERBOSE) process.stderr.write(`[relay] ${chunk}`)
    })
  }
  const relay = { child, log: () => Buffer.concat(output).toString('utf8') }
  const stop = async () => {
    process.removeListener('exit', killOnExit)
    await stopChild(relay.child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      if (relay.child.exitCode !== null) throw new Error(`relay exited:\n${relay.log()}`)
      try {
        if ((await fetch(`${url}/xrpc/_health`)).ok) break
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`relay did not answer within 30 s:\n${relay.log()}`)
      await new Promise((ok) => setTimeout(ok, 100))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    url,
    log: relay.log,
    stop,
    /** The admin `requestCrawl` (the public one refuses `localhost:` hosts). */
    async adminRequestCrawl(hostname) {
      const res = await fetch(`${url}/admin/pds/requestCrawl`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ hostname }),
      })
      if (!res.ok) throw new Error(`admin requestCrawl: ${res.status} ${await res.text()}`)
    },
  }
}
