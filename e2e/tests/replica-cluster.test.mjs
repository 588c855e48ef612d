// Three nodes on "different machines": each `pocketpds serve` has its own data directory holding an
// embedded replica of one real libSQL server (sqld), and a real nginx does round-robin in front of
// them. Through the load balancer: accounts, writes and the OAuth flow (browser login). Every node
// then lists the same records and head, and every node's firehose carries the same commits in the
// same order with the same sequence numbers. Then 30 s of concurrent writers on all three nodes,
// into one repository and into one per node, while the primary is SIGKILLed and restarted and a
// node is SIGKILLed and restarted: every acknowledged write is in the final repositories (which
// verify with @atproto/repo), each commit chain is linear, and the killed node catches up.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Agent, AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { startCluster, sqldPath } from '../lib/cluster.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'
import { callbackServer, launchChromium, oauthClient, signInWithBrowser } from '../lib/oauth.mjs'
import { assertLinear, commitsUntil, converged, listKeys, POST, xrpc } from '../lib/replica.mjs'

const PASSWORD = 'correct horse battery staple'
const RUN_MS = Number(process.env.REPLICA_RUN_MS ?? 30_000)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function account(service, label) {
  const agent = new AtpAgent({ service })
  const handle = `${label}${Date.now().toString(36)}.test`
  const { data } = await agent.createAccount({ handle, password: PASSWORD, email: `${handle}@example.com` })
  return { agent, did: data.did, handle }
}

const sqld = sqldPath('replica-cluster.test.mjs')

describe('three nodes, each an embedded replica of one sqld, behind nginx', { skip: sqld ? false : 'no sqld (SQLD_BIN)' }, () => {
  let cluster
  let alice

  before(async () => {
    cluster = await startCluster({ nodes: 3, replica: true })
    alice = await account(cluster.lbUrl, 'rep')
  })

  after(async () => {
    await cluster?.stop()
  })

  test('writes through the load balancer: every node lists the same records and head, and its firehose the same commits', async () => {
    const written = []
    for (let i = 0; i < 30; i++) {
      const { data } = await alice.agent.com.atproto.repo.createRecord({
        repo: alice.did,
        collection: POST,
        record: { $type: POST, text: `through the balancer ${i}`, createdAt: new Date().toISOString() },
      })
      written.push(data.uri.split('/').pop())
    }
    const head = await converged(cluster.nodes, alice.did)
    for (const node of cluster.nodes) assert.deepEqual(await listKeys(node.url, alice.did), written.sort())
    const streams = await Promise.all(cluster.nodes.map((n) => commitsUntil(n.url, [[alice.did, head.rev]])))
    assert.ok(streams[0].length >= 31, 'the first commit and the 30 writes')
    assert.deepEqual(streams[1], streams[0], 'node 2 sends the firehose of node 1')
    assert.deepEqual(streams[2], streams[0], 'node 3 sends the firehose of node 1')
    assertLinear(streams[0])

    const { body: status } = await xrpc(cluster.nodes[0].url, 'dev.pocketpds.node.getStatus')
    assert.equal(status.storageMode, 'replica')
    assert.equal(status.primaryReachable, true)
    assert.deepEqual(status.nodes.map((n) => n.id).sort(), ['node1', 'node2', 'node3'], 'the registry lists the cluster')
  })

  test('the OAuth flow (browser sign-in) through the load balancer, then writes on every node', async () => {
    const browser = await launchChromium()
    const callback = await callbackServer()
    try {
      const client = oauthClient({ plcUrl: cluster.plcUrl, handleResolver: cluster.lbUrl, redirectUri: callback.uri })
      const { session } = await signInWithBrowser(browser, client, callback, alice.handle, PASSWORD)
      const oauthAgent = new Agent(session)
      for (let i = 0; i < 9; i++) {
        await oauthAgent.com.atproto.repo.createRecord({
          repo: alice.did,
          collection: POST,
          record: { $type: POST, text: `oauth ${i}`, createdAt: new Date().toISOString() },
        })
      }
      const head = await converged(cluster.nodes, alice.did)
      assert.ok(head.rev)
    } finally {
      await callback.close()
      await browser.close()
    }
  })

  test(`${RUN_MS / 1000} s of writers on all nodes, the primary and a node killed and restarted: nothing acknowledged is lost`, async () => {
    const others = await Promise.all(cluster.nodes.map((_, i) => account(cluster.lbUrl, `own${i}`)))
    const acknowledged = new Map([[alice.did, new Set()], ...others.map((o) => [o.did, new Set()])])
    const refused = { count: 0, byError: {} }
    let stop = false
    // Each writer talks to one node directly: two into the shared repository, one into the node's own.
    const writer = (nodeIndex, who) => async () => {
      let i = 0
      while (!stop) {
        const base = cluster.nodes[nodeIndex].url
        const agent = new AtpAgent({ service: base })
        try {
          await agent.login({ identifier: who.did, password: PASSWORD })
        } catch {
          await sleep(200)
          continue
        }
        while (!stop) {
          try {
            const { data } = await agent.com.atproto.repo.createRecord({
              repo: who.did,
              collection: POST,
              record: { $type: POST, text: `node ${nodeIndex} write ${i++}`, createdAt: new Date().toISOString() },
            })
            acknowledged.get(who.did).add(data.uri.split('/').pop())
          } catch (err) {
            refused.count++
            const name = err.error ?? err.code ?? err.message
            refused.byError[name] = (refused.byError[name] ?? 0) + 1
            // A node that went away: log in again once it is back.
            if (!err.status || err.status >= 500 && err.error !== 'PrimaryUnavailable' && err.error !== 'RepoBusy') break
            await sleep(100)
          }
        }
      }
    }
    const writers = cluster.nodes.flatMap((_, n) => [writer(n, alice)(), writer(n, alice)(), writer(n, others[n])()])
    const faults = (async () => {
      await sleep(RUN_MS / 3)
      await cluster.primary.kill()
      await sleep(1500)
      await cluster.primary.restart()
      await sleep(RUN_MS / 3 - 1500)
      await cluster.kill(1)
      await sleep(1000)
      await cluster.restart(1)
    })()
    await sleep(RUN_MS)
    await faults
    stop = true
    await Promise.all(writers)

    const total = [...acknowledged.values()].reduce((n, s) => n + s.size, 0)
    console.log(`acknowledged writes: ${total}; refused: ${refused.count} ${JSON.stringify(refused.byError)}`)
    assert.ok(acknowledged.get(alice.did).size > 50, 'the shared repository took writes')

    const heads = []
    for (const [did, keys] of acknowledged) {
      const head = await converged(cluster.nodes, did)
      heads.push([did, head.rev])
      // The restarted node lists every acknowledged write too.
      const listed = new Set(await listKeys(cluster.nodes[1].url, did))
      for (const key of keys) assert.ok(listed.has(key), `acknowledged record ${key} of ${did} is missing`)
      // The repository verifies against the key in the DID document.
      const car = await xrpc(cluster.lbUrl, 'com.atproto.sync.getRepo', { did })
      assert.equal(car.status, 200)
      const signingKey = await signingKeyFromPlc(cluster.plcUrl, did)
      const verified = await verifyRepoCar(car.body, did, signingKey)
      assert.ok(verified.creates.length >= keys.size)
    }
    // One firehose across the cluster, each chain linear.
    const streams = await Promise.all(cluster.nodes.map((n) => commitsUntil(n.url, heads)))
    assert.deepEqual(streams[1], streams[0])
    assert.deepEqual(streams[2], streams[0])
    assertLinear(streams[0])
    const seqs = streams[0].map((f) => f[0])
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'sequence numbers increase')
  })
})
