// Bodies over a node's limit, sent through a real nginx in front of two nodes: every client gets the
// node's own 413 (or 401) as JSON, never nginx's 502. A node that answered before reading the
// whole body used to close the connection while nginx was still writing it ("writev() failed (32:
// Broken pipe) while sending request to upstream"); nginx then answered 502 and took the node out
// of rotation. The node now reads and discards a bounded remainder before answering.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startCluster } from '../lib/cluster.mjs'

const ROUNDS = 12

for (const requestBuffering of [true, false]) describe(`oversized bodies through a load balancer (request buffering ${requestBuffering ? 'on' : 'off'})`, () => {
  let cluster
  let agent
  let did

  before(async () => {
    cluster = await startCluster({ requestBuffering })
    agent = new AtpAgent({ service: cluster.lbUrl })
    const handle = `big${Date.now().toString(36)}.test`
    const { data } = await agent.createAccount({ handle, password: 'oversize e2e', email: `${handle}@example.com` })
    did = data.did
  })

  after(async () => {
    await cluster?.stop()
  })

  const post = (path, body, headers) =>
    fetch(`${cluster.lbUrl}/xrpc/${path}`, { method: 'POST', headers, body })

  test('a ~2 MiB record gets the node\'s 413 on every round, from both nodes', async () => {
    const text = 'x'.repeat(2 * 1024 * 1024)
    const body = JSON.stringify({
      repo: did,
      collection: 'app.bsky.feed.post',
      record: { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() },
    })
    const statuses = []
    const nodes = new Set()
    for (let i = 0; i < ROUNDS; i++) {
      const res = await post('com.atproto.repo.createRecord', body, {
        authorization: `Bearer ${agent.session.accessJwt}`,
        'content-type': 'application/json',
      })
      const json = await res.json().catch(() => null)
      statuses.push(res.status)
      nodes.add(res.headers.get('x-upstream'))
      assert.equal(res.status, 413, `round ${i}: ${res.status} ${JSON.stringify(json)}`)
      assert.equal(json?.error, 'PayloadTooLarge')
    }
    assert.equal(nodes.size, 2, `both nodes answered: ${[...nodes]}`)
    // Refused before the body is read at all (no credentials): the node's 401, not a 502.
    for (let i = 0; i < 4; i++) {
      const res = await post('com.atproto.repo.createRecord', body, { 'content-type': 'application/json' })
      assert.equal(res.status, 401)
      assert.equal((await res.json()).error, 'AuthenticationRequired')
    }
    // A blob over the upload limit (5 MiB).
    for (let i = 0; i < 4; i++) {
      const res = await post('com.atproto.repo.uploadBlob', new Uint8Array(6 * 1024 * 1024), {
        authorization: `Bearer ${agent.session.accessJwt}`,
        'content-type': 'image/png',
      })
      assert.equal(res.status, 413)
      assert.equal((await res.json()).error, 'PayloadTooLarge')
    }
    // Both nodes are still in rotation and write.
    const served = new Set()
    for (let i = 0; i < 4; i++) {
      const res = await post(
        'com.atproto.repo.createRecord',
        JSON.stringify({
          repo: did,
          collection: 'app.bsky.feed.post',
          record: { $type: 'app.bsky.feed.post', text: `small ${i}`, createdAt: new Date().toISOString() },
        }),
        { authorization: `Bearer ${agent.session.accessJwt}`, 'content-type': 'application/json' },
      )
      assert.equal(res.status, 200, await res.text())
      served.add(res.headers.get('x-upstream'))
    }
    assert.equal(served.size, 2)
  })
})
