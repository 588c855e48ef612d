// The firehose through a plain websocket client: com.atproto.sync.subscribeRepos replays a new
// account's events from cursor 0 and then follows new writes live. Every #commit frame is verified
// as a Sync 1.1 consumer (a relay) does, with @atproto/repo and the signing key the PLC directory
// publishes: the commit is signed by the account, each op is proven against the new tree, and
// inverting the ops on the new tree — using only the blocks the frame carries — gives the previous
// tree (`prevData`), which is the tree of the commit before.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { MST, MemoryBlockstore, def, readCarWithRoot, verifyCommitSig, verifyProofs } from '@atproto/repo'
import { subscribe } from '../lib/firehose.mjs'
import { startNode } from '../lib/harness.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'

const POST = 'app.bsky.feed.post'
const PROFILE = 'app.bsky.actor.profile'

function post(text) {
  return { $type: POST, text, createdAt: new Date().toISOString() }
}

/**
 * Verifies one #commit body for `did` signed by `didKey`, following `previous` (the last verified
 * commit's `{ data, rev }`, or null for the account's first commit). Returns this commit's.
 */
async function verifyCommitFrame(body, did, didKey, previous) {
  assert.equal(body.repo, did)
  assert.equal(body.tooBig, false)
  assert.equal(body.rebase, false)
  assert.deepEqual(body.blobs, [])
  assert.ok(!Number.isNaN(Date.parse(body.time)), `time ${body.time}`)
  const { root, blocks } = await readCarWithRoot(body.blocks)
  assert.equal(root.toString(), body.commit.toString(), 'the CAR is rooted at the commit')
  const storage = new MemoryBlockstore(blocks)
  const commit = await storage.readObj(root, def.commit)
  assert.equal(commit.did, did)
  assert.equal(commit.rev, body.rev)
  assert.ok(await verifyCommitSig(commit, didKey), 'signed with the key in the DID document')

  // Each op's claim (a record CID, or none for a delete) is proven against the new tree.
  const claims = body.ops.map((op) => {
    const [collection, rkey] = op.path.split('/')
    return { collection, rkey, cid: op.cid ?? null }
  })
  const proven = await verifyProofs(body.blocks, claims, did, didKey)
  assert.equal(proven.unverified.length, 0, `unproven ops: ${JSON.stringify(proven.unverified)}`)
  assert.equal(proven.verified.length, claims.length)

  // Inductive check: undo the ops on the new tree with only these blocks.
  let mst = MST.load(storage, commit.data)
  for (const op of body.ops) {
    if (op.action === 'create') {
      assert.equal(op.prev, undefined)
      assert.ok(blocks.has(op.cid), 'the created record is in the frame')
      mst = await mst.delete(op.path)
    } else if (op.action === 'update') {
      assert.ok(blocks.has(op.cid), 'the updated record is in the frame')
      mst = await mst.update(op.path, op.prev)
    } else if (op.action === 'delete') {
      assert.equal(op.cid, null)
      mst = await mst.add(op.path, op.prev)
    } else {
      assert.fail(`unknown action ${op.action}`)
    }
  }
  if (previous === null) {
    assert.equal(body.since, null)
    assert.equal(body.prevData, undefined)
    assert.equal(body.ops.length, 0)
  } else {
    assert.equal(body.since, previous.rev, 'since is the previous revision')
    assert.ok(body.rev > previous.rev, 'revisions increase')
    assert.equal(body.prevData.toString(), previous.data.toString(), 'prevData is the previous tree')
    const undone = await mst.getPointer()
    assert.equal(undone.toString(), body.prevData.toString(), 'undoing the ops gives prevData')
  }
  return { data: commit.data, rev: commit.rev, cid: root }
}

describe('firehose through a websocket, verified with @atproto/repo', () => {
  let env
  let agent
  let did
  let didKey
  let relay
  let lastSeq = 0
  let previous = null
  // Every message the relay got: [type, seq, commit CID].
  const seen = []
  const handle = `fire${Date.now().toString(36)}.test`

  /** Reads the next frame, which must be a message of type `t` following the last sequence number. */
  async function nextMessage(t) {
    const frame = await relay.next()
    assert.equal(frame.op, 1, `a message frame, got ${JSON.stringify(frame)}`)
    assert.equal(frame.t, t)
    assert.ok(frame.body.seq > lastSeq, `seq ${frame.body.seq} after ${lastSeq}`)
    lastSeq = frame.body.seq
    seen.push([frame.t, frame.body.seq, frame.body.commit?.toString()])
    return frame.body
  }

  async function nextCommit() {
    const body = await nextMessage('#commit')
    previous = await verifyCommitFrame(body, did, didKey, previous)
    return body
  }

  before(async () => {
    env = await startNode()
    agent = new AtpAgent({ service: env.localUrl })
    const { data } = await agent.createAccount({
      handle,
      password: 'correct horse battery staple',
      email: `${handle}@example.com`,
    })
    did = data.did
    didKey = await signingKeyFromPlc(env.plcUrl, did)
  })

  after(async () => {
    await relay?.close()
    await env?.stop()
  })

  test('cursor 0 replays the new account: #identity, #account, its first #commit, #sync', async () => {
    relay = await subscribe(env.localUrl, 0)
    const identity = await nextMessage('#identity')
    assert.equal(identity.did, did)
    assert.equal(identity.handle, handle)
    const account = await nextMessage('#account')
    assert.equal(account.did, did)
    assert.equal(account.active, true)
    const first = await nextCommit()
    const sync = await nextMessage('#sync')
    assert.equal(sync.did, did)
    assert.equal(sync.rev, first.rev)
    const { root } = await readCarWithRoot(sync.blocks)
    assert.equal(root.toString(), first.commit.toString())
  })

  test('creates, an update, a delete and a multi-op applyWrites arrive live and verify', async () => {
    const a = await agent.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('one') })
    let body = await nextCommit()
    assert.deepEqual(
      body.ops.map((op) => [op.action, op.path, op.cid.toString()]),
      [['create', `${POST}/${a.data.uri.split('/').pop()}`, a.data.cid]],
    )
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: PROFILE,
      rkey: 'self',
      record: { $type: PROFILE, displayName: 'Fire' },
    })
    await nextCommit()
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: PROFILE,
      rkey: 'self',
      record: { $type: PROFILE, displayName: 'Fire, again' },
    })
    body = await nextCommit()
    assert.equal(body.ops[0].action, 'update')
    const rkey = a.data.uri.split('/').pop()
    await agent.com.atproto.repo.deleteRecord({ repo: did, collection: POST, rkey })
    body = await nextCommit()
    assert.equal(body.ops[0].action, 'delete')
    assert.equal(body.ops[0].prev.toString(), a.data.cid)

    const b = await agent.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('two') })
    await nextCommit()
    await agent.com.atproto.repo.applyWrites({
      repo: did,
      writes: [
        { $type: 'com.atproto.repo.applyWrites#create', collection: POST, value: post('three') },
        { $type: 'com.atproto.repo.applyWrites#create', collection: POST, value: post('four') },
        {
          $type: 'com.atproto.repo.applyWrites#update',
          collection: PROFILE,
          rkey: 'self',
          value: { $type: PROFILE, displayName: 'Fire, third' },
        },
        { $type: 'com.atproto.repo.applyWrites#delete', collection: POST, rkey: b.data.uri.split('/').pop() },
      ],
    })
    body = await nextCommit()
    assert.deepEqual(
      body.ops.map((op) => op.action),
      ['create', 'create', 'update', 'delete'],
    )
    // The last commit on the stream is the repository's head.
    const head = await agent.com.atproto.sync.getLatestCommit({ did })
    assert.equal(head.data.cid, previous.cid.toString())
    assert.equal(head.data.rev, previous.rev)
  })

  test('in a deeper tree, single writes still carry what their inversion needs', async () => {
    // A hundred records give the tree several layers, so undoing a write needs nodes beside the
    // changed path that the commit did not rewrite: the frame must carry them.
    const rkeys = []
    for (let batch = 0; batch < 2; batch++) {
      const writes = []
      for (let i = 0; i < 50; i++) {
        writes.push({ $type: 'com.atproto.repo.applyWrites#create', collection: POST, value: post(`bulk ${batch} ${i}`) })
      }
      const { data } = await agent.com.atproto.repo.applyWrites({ repo: did, writes })
      rkeys.push(...data.results.map((r) => r.uri.split('/').pop()))
      const body = await nextCommit()
      assert.equal(body.ops.length, 50)
    }
    for (const rkey of [rkeys[3], rkeys[40], rkeys[77], rkeys[99]]) {
      await agent.com.atproto.repo.deleteRecord({ repo: did, collection: POST, rkey })
      await nextCommit()
    }
    for (let i = 0; i < 8; i++) {
      await agent.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post(`more ${i}`) })
      await nextCommit()
    }
  })

  test('a second subscriber from a cursor replays the same frames', async () => {
    const late = await subscribe(env.localUrl, 4)
    const replayed = []
    for (let i = 0; i < seen.length - 4; i++) {
      const frame = await late.next()
      replayed.push([frame.t, frame.body.seq, frame.body.commit?.toString()])
    }
    assert.deepEqual(replayed, seen.slice(4))
    await late.close()
  })

  test('a cursor beyond the head gets FutureCursor and the stream closes', async () => {
    const future = await subscribe(env.localUrl, lastSeq + 1000)
    const frame = await future.next()
    assert.equal(frame.op, -1)
    assert.equal(frame.t, undefined)
    assert.equal(frame.body.error, 'FutureCursor')
    assert.equal(typeof frame.body.message, 'string')
    assert.deepEqual(await future.next(), { closed: 1008 })
  })

  test('a malformed cursor gets InvalidRequest', async () => {
    const bad = await subscribe(env.localUrl, 'soon')
    const frame = await bad.next()
    assert.equal(frame.op, -1)
    assert.equal(frame.body.error, 'InvalidRequest')
    assert.deepEqual(await bad.next(), { closed: 1008 })
  })
})
