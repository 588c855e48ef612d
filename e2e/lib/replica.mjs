// What the replica tests read from each node of a cluster: XRPC queries, the record keys a node
// lists, the head every node agrees on, and the #commit frames of a node's firehose.
import assert from 'node:assert/strict'
import { subscribe } from './firehose.mjs'

export const POST = 'app.bsky.feed.post'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A GET of the XRPC query `method` at `base`: { status, body } (JSON, else the bytes). */
export async function xrpc(base, method, params) {
  const url = new URL(`/xrpc/${method}`, base)
  for (const [k, v] of Object.entries(params ?? {})) url.searchParams.set(k, String(v))
  const res = await fetch(url)
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer())
  return { status: res.status, body }
}

/** Every record key of `did`'s posts as the node at `base` lists them. */
export async function listKeys(base, did) {
  const keys = []
  let cursor
  for (;;) {
    const { status, body } = await xrpc(base, 'com.atproto.repo.listRecords', { repo: did, collection: POST, limit: 100, ...(cursor ? { cursor } : {}) })
    assert.equal(status, 200, JSON.stringify(body))
    keys.push(...body.records.map((r) => r.uri.split('/').pop()))
    if (!body.cursor || body.records.length === 0) return keys.sort()
    cursor = body.cursor
  }
}

/** Polls until every node reports the same head for `did`; returns it ({ cid, rev }). */
export async function converged(nodes, did, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const heads = await Promise.all(nodes.map((n) => xrpc(n.url, 'com.atproto.sync.getLatestCommit', { did }).catch((e) => ({ status: 0, body: String(e) }))))
    const cids = heads.map((h) => h.body.cid)
    if (heads.every((h) => h.status === 200) && cids.every((c) => c === cids[0])) return heads[0].body
    if (Date.now() > deadline) assert.fail(`the nodes did not converge on one head: ${JSON.stringify(heads.map((h) => h.body))}`)
    await sleep(100)
  }
}

/**
 * The #commit frames of the firehose at `base`, from the start until every repository of `heads`
 * (did → rev) reached that rev: [seq, repo, commit, rev, since], in the order they came.
 */
export async function commitsUntil(base, heads) {
  const waiting = new Map(heads)
  const stream = await subscribe(base, 0)
  const out = []
  try {
    while (waiting.size > 0) {
      const frame = await stream.next()
      if (frame.closed !== undefined) assert.fail(`the firehose of ${base} closed after seq ${out.at(-1)?.[0]}`)
      if (frame.op !== 1 || frame.t !== '#commit') continue
      const { seq, repo, commit, rev, since } = frame.body
      out.push([seq, repo, commit.toString(), rev, since ?? null])
      if (waiting.get(repo) === rev) waiting.delete(repo)
    }
    return out
  } finally {
    await stream.close()
  }
}

/** Asserts that each repository's commits, in sequence order, build one on the other. */
export function assertLinear(frames) {
  const last = new Map()
  for (const [seq, repo, , rev, since] of frames) {
    if (last.has(repo)) assert.equal(since, last.get(repo), `commit ${seq} of ${repo} does not build on the one before it`)
    last.set(repo, rev)
  }
}
