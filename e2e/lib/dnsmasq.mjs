// A real DNS server for the end-to-end tests: dnsmasq (Debian package `dnsmasq-base`) as a child
// process on a free loopback port, answering only the TXT records it is given — no upstream servers,
// no /etc/hosts, no configuration file — with its pid file in a temporary folder. Stopped by its PID.
//
//   const dns = await startDnsmasq([['_atproto.alice.example.com', 'did=did:plc:…'], …])
//   // { address: '127.0.0.1:PORT', resolver, stop() }
//
// Each entry is one TXT record: a name and its character strings (joined by the reader). Several
// entries with one name make several records. A test whose records depend on the node (a DID the
// node creates) reserves the port first and starts dnsmasq on it later:
//
//   const port = await freePort(); startNode({ env: { PDS_DNS_RESOLVER: `127.0.0.1:${port}` } })
//   ...; const dns = await startDnsmasq(records, { port })
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Resolver } from 'node:dns/promises'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { spawnUntil, stopChild } from './harness.mjs'

const READY_TIMEOUT_MS = 10_000

/** The dnsmasq binary: DNSMASQ_PATH, else the usual places; `null` when there is none. */
export function dnsmasqPath() {
  const candidates = [process.env.DNSMASQ_PATH, '/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/usr/local/sbin/dnsmasq']
  return candidates.find((p) => p && existsSync(p)) ?? null
}

/** A loopback port free at the time of asking. */
export async function freePort() {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts dnsmasq serving `records` (on `port`, else a free one); resolves once it answers the first. */
export async function startDnsmasq(records, { port: wanted } = {}) {
  const bin = dnsmasqPath()
  if (!bin) throw new Error('dnsmasq not found: install it (apt-get install dnsmasq-base) or set DNSMASQ_PATH')
  if (records.length === 0) throw new Error('startDnsmasq needs at least one record')
  const dir = await mkdtemp(join(tmpdir(), 'pocketpds-dns-'))
  const port = wanted ?? (await freePort())
  const args = [
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    `--user=${userInfo().username}`,
    '--log-facility=-',
    ...records.map(([name, ...strings]) => `--txt-record=${[name, ...strings].join(',')}`),
  ]
  // dnsmasq prints nothing on stdout: readiness is its first answer, below.
  const dns = spawnUntil('dnsmasq', bin, args, {}, /^\0never$/)
  dns.ready.catch(() => {})
  const stop = async () => {
    await stopChild(dns.child)
    await rm(dir, { recursive: true, force: true })
  }
  const resolver = new Resolver({ timeout: 500, tries: 1 })
  resolver.setServers([`127.0.0.1:${port}`])
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (dns.child.exitCode !== null || dns.child.signalCode !== null) {
      await stop()
      throw new Error(`dnsmasq exited before it answered: ${dns.log()}`)
    }
    try {
      await resolver.resolveTxt(records[0][0])
      break
    } catch (err) {
      if (Date.now() > deadline) {
        await stop()
        throw new Error(`dnsmasq did not answer within ${READY_TIMEOUT_MS} ms (${err.message}): ${dns.log()}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return { address: `127.0.0.1:${port}`, resolver, stop, log: dns.log }
}
