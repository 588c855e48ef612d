// A node whose link to the primary is slow, then cut: two nodes, each an embedded replica of one
// sqld, the second reaching the primary through Toxiproxy. With 50 ms of added round trip its
// writes work and its reads stay local; with the link cut (the primary still up and serving the
// first node) it keeps serving reads, refuses writes within 2 s with a clear 503, says so in its
// status, and once the link returns it catches up with what the other node wrote and writes again
// without a restart.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { AtpAgent } from '@atproto/api'
import { startCluster, sqldPath } from '../lib/cluster.mjs'
import { startToxiproxy, toxiproxyPath } from '../lib/toxiproxy.mjs'

const POST = 'app.bsky.feed.post'
const PASSWORD = 'correct horse battery staple'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function freePort() {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

const post = (text) => ({ $type: POST, text, createdAt: new Date().toISOString() })

const sqld = sqldPath('replica-link.test.mjs')
const toxiproxyBin = sqld ? toxiproxyPath('replica-link.test.mjs') : null

describe('a replica behind a slow and then cut link', { skip: sqld && toxiproxyBin ? false : 'no sqld or Toxiproxy' }, () => {
  let toxiproxy
  let link
  let cluster
  let near // the node beside the primary
  let far // the node behind the link
  let did
  let uri

  before(async () => {
    toxiproxy = await startToxiproxy(toxiproxyBin, await freePort())
    cluster = await startCluster({
      nodes: 2,
      replica: true,
      syncIntervalMs: 500,
      nodeEnv: async (i, { primaryUrl }) => {
        if (i !== 1) return {}
        link = await toxiproxy.proxy('primary', await freePort(), new URL(primaryUrl).host)
        return { PDS_DATABASE_URL: link.url }
      },
    })
    near = new AtpAgent({ service: cluster.nodes[0].url })
    const handle = `link${Date.now().toString(36)}.test`
    const { data } = await near.createAccount({ handle, password: PASSWORD, email: `${handle}@example.com` })
    did = data.did
    far = new AtpAgent({ service: cluster.nodes[1].url })
    await far.login({ identifier: did, password: PASSWORD })
    const { data: created } = await far.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('before') })
    uri = created.uri
  })

  after(async () => {
    await cluster?.stop()
    await toxiproxy?.stop()
  })

  test('with 50 ms more round trip, writes work and reads stay local', async () => {
    await link.latency(25)
    const writes = []
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      await far.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post(`slow ${i}`) })
      writes.push(performance.now() - started)
    }
    const reads = []
    for (let i = 0; i < 20; i++) {
      const started = performance.now()
      await far.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey: uri.split('/').pop() })
      reads.push(performance.now() - started)
    }
    writes.sort((a, b) => a - b)
    reads.sort((a, b) => a - b)
    console.log(`50 ms link: write p50 ${writes[2].toFixed(1)} ms, read p50 ${reads[10].toFixed(1)} ms`)
    assert.ok(writes[2] >= 50, `a write crosses the link at least once (p50 ${writes[2]} ms)`)
    assert.ok(reads[10] < 50, `reads do not cross the link (p50 ${reads[10]} ms)`)
    await link.heal()
  })

  test('with the link cut: reads go on, writes fail within 2 s naming the primary, and the node catches up when it returns', async () => {
    await link.cut()
    // Reads from the replica.
    const { data: record } = await far.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey: uri.split('/').pop() })
    assert.equal(record.value.text, 'before')
    // Writes: a clear 503 in time.
    const started = performance.now()
    await assert.rejects(
      far.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('cut off') }),
      (err) => {
        assert.equal(err.status, 503)
        assert.equal(err.error, 'PrimaryUnavailable')
        assert.match(err.message, /primary database/)
        return true
      },
    )
    const took = performance.now() - started
    assert.ok(took < 2600, `the write was refused after ${took} ms`)
    // The other node writes on; the cut-off node says where it stands.
    const { data: meanwhile } = await near.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('meanwhile') })
    const status = await (await fetch(`${cluster.nodes[1].url}/xrpc/dev.pocketpds.node.getStatus`)).json()
    assert.equal(status.primaryReachable, false)
    assert.match(status.lastError, /primary database/)

    await link.heal()
    const deadline = Date.now() + 10_000
    for (;;) {
      const res = await fetch(`${cluster.nodes[1].url}/xrpc/com.atproto.repo.getRecord?repo=${did}&collection=${POST}&rkey=${meanwhile.uri.split('/').pop()}`)
      if (res.status === 200) break
      if (Date.now() > deadline) assert.fail('the node did not catch up after the link returned')
      await sleep(100)
    }
    await far.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('after') })
    const back = await (await fetch(`${cluster.nodes[1].url}/xrpc/dev.pocketpds.node.getStatus`)).json()
    assert.equal(back.primaryReachable, true)
  })
})
