// A real relay: indigo's `relay` (RELAY_BIN) crawls a `pocketpds serve` node and accepts its
// events. The node is configured with the relay in PDS_CRAWLERS, so it asks the relay itself (the
// relay's public requestCrawl refuses `localhost:` hosts, which the test checks the node heard);
// the relay is then pointed at the node through its admin requestCrawl. The writes are read back
// from the relay's own firehose and its getLatestCommit: an account's creation (#identity,
// #account, #commit, #sync), a post (#commit), a deactivation and a reactivation (#account), a new
// handle (#identity).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { subscribe } from '../lib/firehose.mjs'
import { startNode } from '../lib/harness.mjs'
import { freePort, relayBinary, startRelay } from '../lib/relay.mjs'

const WAIT_MS = 30_000
const bin = relayBinary()

/** Waits until `check()` is truthy (polled every 100 ms), or fails with `what`. */
async function waitFor(what, check) {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((ok) => setTimeout(ok, 100))
  }
}

describe('indigo relay crawling a node', { skip: bin ? false : 'RELAY_BIN missing' }, () => {
  let env
  let relay
  let firehose
  let agent
  let did
  const seen = [] // relay firehose frames about `did`, in order

  /** Reads the relay's firehose until `match(frame)` holds for one of `did`'s frames. */
  async function relayed(what, match) {
    const found = seen.find(match)
    if (found) return found
    const deadline = Date.now() + WAIT_MS
    while (Date.now() < deadline) {
      const frame = await firehose.next()
      if (frame.closed !== undefined) throw new Error(`relay firehose closed (${frame.closed})`)
      const about = frame.body?.repo ?? frame.body?.did
      if (frame.op !== 1 || about !== did) continue
      seen.push(frame)
      if (match(frame)) return frame
    }
    throw new Error(`the relay did not pass on ${what}; its frames: ${seen.map((f) => f.t)}`)
  }

  before(async () => {
    const relayPort = await freePort()
    env = await startNode({ env: { PDS_CRAWLERS: `http://127.0.0.1:${relayPort}` } })
    relay = await startRelay({ bin, plcUrl: env.plcUrl, port: relayPort })
    const host = new URL(env.publicUrl).host
    await relay.adminRequestCrawl(host)
    // The relay subscribes to a new host without a cursor: wait until its websocket is up.
    await waitFor('the relay to connect to the node', () =>
      relay.log().includes('event subscription response'),
    )
    firehose = await subscribe(relay.url, 0)
    agent = new AtpAgent({ service: env.localUrl })
    const stamp = Date.now().toString(36)
    const { data } = await agent.createAccount({
      handle: `relay${stamp}.test`,
      password: 'relay-test-password',
      email: `relay${stamp}@example.com`,
    })
    did = data.did
  })

  after(async () => {
    firehose?.close()
    await relay?.stop()
    await env?.stop()
  })

  test('the node asks the relay in PDS_CRAWLERS to crawl it after its first write', async () => {
    // The relay was not up when the node started, so the start's request was not delivered; the
    // account's creation asked again, and the real relay answered its refusal of localhost hosts.
    await waitFor('the relay to answer the node', () =>
      env.log().includes('can not configure localhost via public endpoint'),
    ).catch((err) => {
      throw new Error(`${err.message}; the node's log:\n${env.log()}`)
    })
    assert.match(env.log(), /relay http:\/\/127\.0\.0\.1:\d+ refused the crawl request \(400\)/)
    assert.match(env.log(), /crawl request not delivered/)
  })

  test("an account's creation reaches the relay as #identity, #account, #commit and #sync", async () => {
    const identity = await relayed('#identity', (f) => f.t === '#identity')
    assert.equal(identity.body.did, did)
    const account = await relayed('#account', (f) => f.t === '#account')
    assert.equal(account.body.active, true)
    const commit = await relayed('#commit', (f) => f.t === '#commit')
    assert.equal(commit.body.repo, did)
    const sync = await relayed('#sync', (f) => f.t === '#sync')
    assert.equal(sync.body.did, did)
    assert.ok(sync.body.blocks.length > 0, 'the #sync carries the commit block')
  })

  test('a post reaches the relay as a #commit, and getLatestCommit on the relay agrees', async () => {
    const created = await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: 'app.bsky.feed.post',
      record: { $type: 'app.bsky.feed.post', text: 'through the relay', createdAt: new Date().toISOString() },
    })
    const rkey = created.data.uri.split('/').pop()
    const frame = await relayed('the post', (f) =>
      f.t === '#commit' && f.body.ops.some((op) => op.path === `app.bsky.feed.post/${rkey}`),
    )
    const op = frame.body.ops.find((o) => o.path === `app.bsky.feed.post/${rkey}`)
    assert.equal(op.action, 'create')
    assert.equal(op.cid.toString(), created.data.cid)
    assert.equal(frame.body.commit.toString(), created.data.commit.cid)

    const ours = await (
      await fetch(`${env.localUrl}/xrpc/com.atproto.sync.getLatestCommit?did=${encodeURIComponent(did)}`)
    ).json()
    const theirs = await waitFor('the relay to know the commit', async () => {
      const res = await fetch(`${relay.url}/xrpc/com.atproto.sync.getLatestCommit?did=${encodeURIComponent(did)}`)
      const body = await res.json()
      return res.ok && body.rev === ours.rev ? body : null
    })
    assert.deepEqual(theirs, ours)
  })

  test('deactivation and reactivation reach the relay as #account events', async () => {
    await agent.com.atproto.server.deactivateAccount({})
    const off = await relayed('#account (deactivated)', (f) => f.t === '#account' && f.body.active === false)
    assert.equal(off.body.status, 'deactivated')
    await agent.com.atproto.server.activateAccount()
    const on = await relayed('#account (active again)', (f) => f.t === '#account' && f.body.active === true && f.body.seq > off.body.seq)
    assert.equal(on.body.status, undefined)
  })

  test("a new handle reaches the relay as #identity", async () => {
    const handle = `renamed${Date.now().toString(36).slice(-6)}.test`
    const before = Math.max(...seen.map((f) => f.body.seq))
    await agent.com.atproto.identity.updateHandle({ handle })
    const frame = await relayed('#identity (new handle)', (f) => f.t === '#identity' && f.body.seq > before)
    assert.equal(frame.body.did, did)
    // The relay passes a handle on only when it resolves back to the DID; `.test` handles resolve
    // nowhere for it, so it sends the event without one.
    assert.ok(frame.body.handle === undefined || frame.body.handle === handle, frame.body.handle)
  })
})
