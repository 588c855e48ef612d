// Handles hosted elsewhere, resolved by DNS: a real DNS server (dnsmasq on a loopback port) holds
// `_atproto.<handle>` TXT records, the node is pointed at it with PDS_DNS_RESOLVER, and the official
// client asks the node through com.atproto.identity.resolveHandle. The node's handle domain is
// `.pds.test`, so the `.remote.test` handles here are someone else's.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'
import { dnsmasqPath, startDnsmasq } from '../lib/dnsmasq.mjs'

const ALICE = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
const BOB = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'
const CAROL = 'did:web:carol.example.com'

const RECORDS = [
  ['_atproto.alice.example.com', `did=${ALICE}`],
  // Records that do not start with `did=` are ignored.
  ['_atproto.alice.example.com', 'v=spf1'],
  ['_atproto.alice.example.com', 'DID=did:plc:cccccccccccccccccccccccc'],
  // One record split into several character strings is read as their concatenation.
  ['_atproto.split.example.com', 'did=did:web:', 'carol.example.com'],
  // Two records naming different DIDs: the handle is ambiguous and must not resolve.
  ['_atproto.twins.example.com', `did=${ALICE}`],
  ['_atproto.twins.example.com', `did=${BOB}`],
  // Nothing usable: the node falls back to HTTPS, which finds nothing for a `.test` name.
  ['_atproto.junk.remote.test', 'hello'],
]

const missing = dnsmasqPath() === null
const missingMessage =
  'DNSMASQ MISSING: the DNS resolution test needs dnsmasq (apt-get install dnsmasq-base, as test.sh does)'
if (missing) {
  if (process.env.CI) throw new Error(missingMessage)
  console.error(`!!!!! ${missingMessage}; skipping`)
}

describe('handles resolved by DNS TXT through a real DNS server', () => {
  let dns
  let env
  let agent

  before(async () => {
    if (missing) return
    dns = await startDnsmasq(RECORDS)
    env = await startNode({
      env: { PDS_DNS_RESOLVER: dns.address, PDS_SERVICE_HANDLE_DOMAINS: '.pds.test' },
    })
    agent = new AtpAgent({ service: env.localUrl })
  })

  after(async () => {
    await env?.stop()
    await dns?.stop()
  })

  const resolve = (handle) => agent.com.atproto.identity.resolveHandle({ handle })
  const unresolved = (err) =>
    err.status === 400 && err.error === 'InvalidRequest' && err.message === 'Unable to resolve handle'

  test('the DNS server holds the hostile records as written', async (t) => {
    if (missing) return t.skip(missingMessage)
    const twins = await dns.resolver.resolveTxt('_atproto.twins.example.com')
    assert.deepEqual(twins.map((r) => r.join('')).sort(), [`did=${ALICE}`, `did=${BOB}`])
    const split = await dns.resolver.resolveTxt('_atproto.split.example.com')
    assert.deepEqual(split, [['did=did:web:', 'carol.example.com']])
  })

  test('a TXT record names the DID; other records are ignored', async (t) => {
    if (missing) return t.skip(missingMessage)
    const { data } = await resolve('alice.example.com')
    assert.deepEqual(data, { did: ALICE })
    const upper = await resolve('Alice.Example.COM')
    assert.equal(upper.data.did, ALICE)
    const split = await resolve('split.example.com')
    assert.equal(split.data.did, CAROL)
  })

  test('records naming two DIDs, or none, do not resolve', async (t) => {
    if (missing) return t.skip(missingMessage)
    await assert.rejects(resolve('twins.example.com'), unresolved)
    await assert.rejects(resolve('junk.remote.test'), unresolved)
    await assert.rejects(resolve('nobody.remote.test'), unresolved)
    await assert.rejects(resolve('nobody.pds.test'), unresolved)
  })

  test('answers are cached: with the DNS server gone, a resolved handle still resolves', async (t) => {
    if (missing) return t.skip(missingMessage)
    await dns.stop()
    const { data } = await resolve('alice.example.com')
    assert.equal(data.did, ALICE)
    await assert.rejects(resolve('fresh.remote.test'), unresolved)
  })
})
