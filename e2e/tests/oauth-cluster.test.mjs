// The seed scenario: two `pocketpds serve` processes sharing one data directory behind a real
// nginx doing round-robin, PDS_PUBLIC_URL = the load balancer's URL, no PDS_DPOP_SECRET. The
// official OAuth client logs in (consent page in Chromium) and makes 50 authenticated writes whose
// requests alternate between the nodes, with no DPoP nonce failure after the first challenge and
// no re-login. Then one node is killed, and the client carries on through the other.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Agent, AtpAgent } from '@atproto/api'
import { startCluster } from '../lib/cluster.mjs'
import { callbackServer, launchChromium, oauthClient, signInWithBrowser } from '../lib/oauth.mjs'

const POST = 'app.bsky.feed.post'

describe('OAuth across two nodes behind a round-robin load balancer', () => {
  let cluster
  let browser
  let callback
  let client
  let session
  let did
  // Every response the client got from the load balancer: which node served it and whether it
  // was a DPoP nonce challenge.
  const seen = []
  const handle = `seed${Date.now().toString(36)}.test`
  const password = 'correct horse battery staple'

  function record(path) {
    return (input, init) =>
      fetch(input, init).then(async (res) => {
        const url = new URL(input instanceof Request ? input.url : String(input))
        if (url.origin === cluster.lbUrl) {
          let nonceChallenge = (res.headers.get('www-authenticate') ?? '').includes('use_dpop_nonce')
          if (res.status === 400) {
            const body = await res.clone().json().catch(() => ({}))
            nonceChallenge ||= body.error === 'use_dpop_nonce'
          }
          path.push({ path: url.pathname, status: res.status, node: res.headers.get('x-upstream'), nonceChallenge })
        }
        return res
      })
  }

  before(async () => {
    cluster = await startCluster()
    browser = await launchChromium()
    callback = await callbackServer()
    const legacy = new AtpAgent({ service: cluster.lbUrl })
    const { data } = await legacy.createAccount({ handle, password, email: `${handle}@example.com` })
    did = data.did
    client = oauthClient({
      plcUrl: cluster.plcUrl,
      handleResolver: cluster.lbUrl,
      redirectUri: callback.uri,
      fetch: record(seen),
    })
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await cluster?.stop()
  })

  test('the nodes agree on the DPoP nonce without a configured secret', async () => {
    const nonces = await Promise.all(
      cluster.nodes.map(async (n) => (await fetch(`${n.url}/xrpc/_health`)).headers.get('dpop-nonce')),
    )
    assert.ok(nonces[0])
    assert.equal(nonces[0], nonces[1])
  })

  test('login through the load balancer, then 50 writes alternating between the nodes', async () => {
    ;({ session } = await signInWithBrowser(browser, client, callback, handle, password))
    assert.equal(session.did, did)
    const agent = new Agent(session)
    const start = seen.length
    for (let i = 0; i < 50; i++) {
      await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: POST,
        record: { $type: POST, text: `write ${i}`, createdAt: new Date().toISOString() },
      })
    }
    const writes = seen.slice(start).filter((r) => r.path.endsWith('com.atproto.repo.createRecord'))
    assert.equal(writes.filter((r) => r.status === 200).length, 50, JSON.stringify(writes.slice(0, 5)))
    const byNode = new Map()
    for (const w of writes) byNode.set(w.node, (byNode.get(w.node) ?? 0) + 1)
    assert.equal(byNode.size, 2, `writes were served by ${JSON.stringify([...byNode])}`)
    for (const [, n] of byNode) assert.ok(n >= 20, `uneven split ${JSON.stringify([...byNode])}`)
    const challenges = seen.filter((r) => r.nonceChallenge)
    assert.equal(challenges.length, 1, `nonce challenges: ${JSON.stringify(challenges)}`)
    assert.equal(seen.filter((r) => r.path === '/oauth/authorize').length, 0)
  })

  test('one node is killed and the client carries on through the other', async () => {
    await cluster.kill(0)
    const agent = new Agent(session)
    const start = seen.length
    for (let i = 0; i < 10; i++) {
      const res = await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: POST,
        record: { $type: POST, text: `after the crash ${i}`, createdAt: new Date().toISOString() },
      })
      assert.ok(res.data.uri)
    }
    const after = seen.slice(start)
    assert.ok(after.every((r) => !r.nonceChallenge), JSON.stringify(after))
    // A refresh (the token endpoint on the surviving node) works too.
    await session.getTokenInfo(true)
    const list = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST, limit: 100 })
    assert.equal(list.data.records.length, 60)
  })
})
