// A real relay in front of a cluster: indigo's `relay` (RELAY_BIN) crawls the load balancer (nginx)
// of two `pocketpds serve` nodes, each an embedded replica of one real libSQL server (sqld,
// SQLD_BIN) as nodes on different machines are, as it would crawl a PDS behind a load balancer on
// the network. Its firehose websocket goes through nginx to one of the nodes. Posts are written
// through the load balancer; mid-run the node holding the relay's websocket is killed (SIGKILL)
// and the writes go on through the other. The relay redials the load balancer, lands on the node
// that is left and resumes from its cursor: both nodes number the events alike (one sequence from
// the primary), so it neither misses nor repeats one. Every acknowledged write is read back
// from the relay's own firehose, the relay's commits of the account form one unbroken chain
// (each `since` is the previous `rev`), and the relay's getLatestCommit matches the cluster's.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { sqldPath, startCluster } from '../lib/cluster.mjs'
import { subscribe } from '../lib/firehose.mjs'
import { relayBinary, startRelay } from '../lib/relay.mjs'

const WAIT_MS = 60_000
const BEFORE_KILL = 15
const AFTER_KILL = 30
const bin = relayBinary()
const sqld = sqldPath('relay-cluster.test.mjs')

async function waitFor(what, check, ms = WAIT_MS) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((ok) => setTimeout(ok, 100))
  }
}

/** How many established TCP connections have `port` as their local port (Linux). */
async function establishedOn(port) {
  const table = await readFile('/proc/net/tcp', 'utf8')
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length > 3 && cols[3] === '01')
    .filter((cols) => parseInt(cols[1].split(':')[1], 16) === port).length
}

describe('indigo relay crawling a two-node cluster through its load balancer', { skip: !bin ? 'RELAY_BIN missing' : !sqld ? 'no sqld (SQLD_BIN)' : false }, () => {
  let cluster
  let relay
  let firehose
  let agent
  let did
  const commits = [] // the relay's #commit frames about `did`, in its order

  /** Reads the relay's firehose until a #commit of `did` satisfies `match`. */
  async function relayed(what, match) {
    const found = commits.find(match)
    if (found) return found
    const deadline = Date.now() + WAIT_MS
    while (Date.now() < deadline) {
      const frame = await firehose.next()
      if (frame.closed !== undefined) throw new Error(`relay firehose closed (${frame.closed})`)
      if (frame.op !== 1 || frame.t !== '#commit' || frame.body.repo !== did) continue
      commits.push(frame)
      if (match(frame)) return frame
    }
    throw new Error(`the relay did not pass on ${what}; relay log:\n${relay.log().slice(-4000)}`)
  }

  before(async () => {
    cluster = await startCluster({ nodes: 2, replica: true, websockets: true, lbHost: 'localhost' })
    relay = await startRelay({ bin, plcUrl: cluster.plcUrl })
    await relay.adminRequestCrawl(new URL(cluster.lbUrl).host)
    await waitFor('the relay to connect to the load balancer', () =>
      relay.log().includes('event subscription response'),
    )
    firehose = await subscribe(relay.url, 0)
    agent = new AtpAgent({ service: cluster.lbUrl })
    const stamp = Date.now().toString(36)
    const { data } = await agent.createAccount({
      handle: `lb${stamp}.test`,
      password: 'relay-cluster-password',
      email: `lb${stamp}@example.com`,
    })
    did = data.did
  })

  after(async () => {
    firehose?.close()
    await relay?.stop()
    await cluster?.stop()
  })

  test('every acknowledged write reaches the relay though the node serving its websocket is killed mid-run', async () => {
    const acked = []
    const failed = []
    let killed = false
    const write = async (i) => {
      const afterKill = killed
      try {
        const { data } = await agent.com.atproto.repo.createRecord({
          repo: did,
          collection: 'app.bsky.feed.post',
          record: { $type: 'app.bsky.feed.post', text: `write ${i}`, createdAt: new Date().toISOString() },
        })
        acked.push({ i, afterKill, uri: data.uri, cid: data.cid, rev: data.commit.rev })
      } catch (err) {
        failed.push({ i, err: err.message })
      }
    }
    for (let i = 0; i < BEFORE_KILL; i++) await write(i)
    assert.equal(acked.length, BEFORE_KILL, JSON.stringify(failed))
    const last = acked.at(-1)
    await relayed('the writes before the kill', (f) => f.body.rev === last.rev)

    // Both nodes serve the same firehose: the same events under the same sequence numbers.
    const streams = await Promise.all(cluster.nodes.map(async (node) => {
      const stream = await subscribe(node.url, 0)
      const frames = []
      for (;;) {
        const frame = await stream.next()
        if (frame.closed !== undefined) throw new Error(`${node.url} closed its firehose`)
        frames.push([frame.body.seq, frame.t, frame.body.rev ?? null])
        if (frame.body.rev === last.rev) break
      }
      stream.close()
      return frames
    }))
    assert.deepEqual(streams[0], streams[1])

    // The node the relay's websocket reached through nginx is the one with a connection still open
    // (nginx closes the others after each request, and no request is under way now).
    const ports = cluster.nodes.map((n) => Number(new URL(n.url).port))
    await waitFor('the direct firehose connections to close', async () => {
      const open = await Promise.all(ports.map(establishedOn))
      return open.reduce((a, b) => a + b, 0) === 1
    })
    const open = await Promise.all(ports.map(establishedOn))
    const holder = open.findIndex((n) => n > 0)
    assert.ok(holder >= 0, `open connections per node: ${open}`)
    const resumed = () => relay.log().match(/event subscription response[^\n]*subscribeRepos\?cursor=\d+/g)?.length ?? 0
    const resumedBefore = resumed()

    // Writes go on while the node dies, and after.
    let i = BEFORE_KILL
    let afterKill = 0
    const writer = (async () => {
      while (afterKill < AFTER_KILL) {
        const after = killed
        await write(i++)
        if (after) afterKill++
      }
    })()
    await waitFor('writes in flight', () => acked.length >= BEFORE_KILL + 3)
    await cluster.kill(holder)
    killed = true
    await writer
    const acknowledgedAfter = acked.filter((a) => a.afterKill)
    assert.ok(acknowledgedAfter.length >= AFTER_KILL - 2, `writes after the kill failed: ${JSON.stringify(failed)}`)

    // Every acknowledged write arrives, through the relay's new connection to the other node.
    for (const a of acked) {
      const rkey = a.uri.split('/').pop()
      const frame = await relayed(`write ${a.i}`, (f) => f.body.ops.some((op) => op.path === `app.bsky.feed.post/${rkey}`))
      const op = frame.body.ops.find((o) => o.path === `app.bsky.feed.post/${rkey}`)
      assert.equal(op.action, 'create')
      assert.equal(op.cid.toString(), a.cid)
      assert.equal(frame.body.rev, a.rev)
    }
    assert.ok(resumed() > resumedBefore, 'the relay subscribed again, from its cursor, after the kill')

    // One chain, nothing missed or repeated: each commit follows the one before it.
    const finalRev = acked.at(-1).rev
    await relayed('the last write', (f) => f.body.rev === finalRev)
    const revs = commits.map((f) => f.body.rev)
    assert.equal(new Set(revs).size, revs.length, `a commit came twice: ${revs}`)
    for (let k = 1; k < commits.length; k++) {
      assert.equal(commits[k].body.since, commits[k - 1].body.rev, `commit ${k} follows commit ${k - 1}`)
    }

    const ours = await (
      await fetch(`${cluster.lbUrl}/xrpc/com.atproto.sync.getLatestCommit?did=${encodeURIComponent(did)}`)
    ).json()
    const theirs = await waitFor('the relay to know the last commit', async () => {
      const res = await fetch(`${relay.url}/xrpc/com.atproto.sync.getLatestCommit?did=${encodeURIComponent(did)}`)
      const body = await res.json()
      return res.ok && body.rev === ours.rev ? body : null
    })
    assert.deepEqual(theirs, ours)
    assert.equal(ours.rev, finalRev, 'no write the client saw fail was stored after the last acknowledged one')
  })
})
