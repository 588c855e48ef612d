// Service proxying with the official client: @atproto/api's app.bsky.* and chat.bsky.* calls go to
// a PocketPDS node, which forwards them to a local upstream service on loopback standing in for the
// app view and the chat service (the reference AppView, @atproto/bsky, needs Node >= 22 and
// PostgreSQL in the versions that the registry serves for this client). The upstream serves its
// own did:web document and VERIFIES every service token it receives: signature against the signing
// key in the account's DID document (from the PLC directory, with @atproto/crypto), `aud`, `lxm`
// and `exp`; a call whose token fails any check is answered 401 and counted, and the test fails.
// Bodies must stream both ways: the upstream's first bytes reach the client while the upstream
// still holds its response open, and the upstream sees the client's first bytes while the client
// still holds its request open. Preferences are kept by the node.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifySignature } from '@atproto/crypto'
import { startNode } from '../lib/harness.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'

const b64url = (text) => Buffer.from(text, 'base64url')
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ])

/** A local upstream service that checks service tokens. */
async function startUpstream() {
  const state = {
    plcUrl: null,
    did: null,
    // The requester's revision it says it has indexed (not a TID: nothing is patched) and the
    // feed items it has indexed.
    rev: '3lupstream',
    indexed: [],
    seen: [],
    refused: [],
    // Streaming probes.
    release: null,
    firstRequestChunk: null,
  }
  const verify = async (req, lxm) => {
    const auth = req.headers.authorization ?? ''
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : null
    if (!token) throw new Error('no bearer token')
    const [header, payload, signature] = token.split('.')
    const head = JSON.parse(b64url(header).toString('utf8'))
    const claims = JSON.parse(b64url(payload).toString('utf8'))
    if (!['ES256K', 'ES256'].includes(head.alg)) throw new Error(`alg ${head.alg}`)
    const didKey = await signingKeyFromPlc(state.plcUrl, claims.iss)
    const signed = new TextEncoder().encode(`${header}.${payload}`)
    if (!(await verifySignature(didKey, signed, b64url(signature)))) throw new Error('bad signature')
    const audOk = claims.aud === state.did || claims.aud.startsWith(`${state.did}#`)
    if (!audOk) throw new Error(`aud ${claims.aud}`)
    if (claims.lxm !== lxm) throw new Error(`lxm ${claims.lxm} for ${lxm}`)
    const now = Math.floor(Date.now() / 1000)
    if (!(claims.exp > now && claims.exp <= now + 61)) throw new Error(`exp ${claims.exp}`)
    return claims
  }
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://upstream')
    if (url.pathname === '/.well-known/did.json') {
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          id: state.did,
          service: [
            { id: '#bsky_appview', type: 'BskyAppView', serviceEndpoint: state.origin },
            { id: '#bsky_chat', type: 'BskyChatService', serviceEndpoint: state.origin },
            { id: '#private', type: 'BskyAppView', serviceEndpoint: 'http://192.168.1.1:3000' },
          ],
        }),
      )
      return
    }
    const lxm = url.pathname.replace(/^\/xrpc\//, '')
    let claims
    try {
      claims = await verify(req, lxm)
    } catch (err) {
      state.refused.push({ lxm, why: err.message })
      res.statusCode = 401
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ error: 'AuthenticationRequired', message: err.message }))
      return
    }
    const call = { lxm, claims, method: req.method, headers: req.headers, bytes: 0 }
    state.seen.push(call)
    const json = (body, status = 200) => {
      res.statusCode = status
      res.setHeader('content-type', 'application/json')
      res.setHeader('atproto-repo-rev', state.rev)
      res.end(JSON.stringify(body))
    }
    switch (lxm) {
      case 'app.bsky.feed.getTimeline':
        return json({ feed: state.indexed, cursor: 'upstream-cursor' })
      case 'app.bsky.feed.getAuthorFeed':
        return json({ feed: state.indexed })
      case 'app.bsky.feed.getPostThread': {
        const uri = url.searchParams.get('uri')
        const item = state.indexed.find((i) => i.post.uri === uri)
        if (!item) return json({ error: 'NotFound', message: `Post not found: ${uri}` }, 400)
        return json({ thread: { $type: 'app.bsky.feed.defs#threadViewPost', post: item.post, replies: [] } })
      }
      case 'app.bsky.actor.getProfile':
        return json({ did: claims.iss, handle: 'from.upstream.test', displayName: 'Upstream' })
      case 'chat.bsky.convo.listConvos':
        return json({ convos: [] })
      case 'com.atproto.moderation.createReport': {
        const chunks = []
        for await (const c of req) chunks.push(c)
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        return json({
          id: 1,
          reasonType: input.reasonType,
          subject: input.subject,
          reportedBy: claims.iss,
          createdAt: new Date().toISOString(),
        })
      }
      case 'app.bsky.unspecced.streamDown': {
        // The first 64 KiB, then nothing until the test releases the rest.
        res.setHeader('content-type', 'application/octet-stream')
        res.write(Buffer.alloc(65536, 0x61))
        await new Promise((resolve) => (state.release = resolve))
        res.end(Buffer.alloc(1 << 20, 0x62))
        return
      }
      case 'app.bsky.unspecced.streamUp': {
        for await (const chunk of req) {
          call.bytes += chunk.length
          state.firstRequestChunk?.()
        }
        return json({ bytes: call.bytes })
      }
      default:
        res.statusCode = 400
        return json({ error: 'MethodNotImplemented', message: lxm })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  state.origin = `http://localhost:${port}`
  state.did = `did:web:localhost%3A${port}`
  state.close = () => new Promise((resolve) => server.close(resolve))
  return state
}

describe('service proxying through @atproto/api', () => {
  let env
  let upstream
  let agent
  let did
  const password = 'proxy e2e password'

  before(async () => {
    upstream = await startUpstream()
    env = await startNode({
      env: {
        PDS_BSKY_APP_VIEW_URL: upstream.origin,
        PDS_BSKY_APP_VIEW_DID: upstream.did,
      },
    })
    upstream.plcUrl = env.plcUrl
    agent = new AtpAgent({ service: env.localUrl })
    const handle = `proxy${Date.now().toString(36)}.test`
    const { data } = await agent.createAccount({ handle, password, email: `${handle}@example.com` })
    did = data.did
  })

  after(async () => {
    await env?.stop()
    await upstream?.close()
  })

  test('app.bsky calls reach the app view with a verified service token of the account', async () => {
    const timeline = await agent.app.bsky.feed.getTimeline({ limit: 5 })
    assert.equal(timeline.data.cursor, 'upstream-cursor')
    assert.equal(timeline.headers['atproto-repo-rev'], '3lupstream')
    assert.equal(timeline.headers['atproto-upstream-lag'], undefined)
    const profile = await agent.getProfile({ actor: did })
    assert.equal(profile.data.displayName, 'Upstream')
    assert.deepEqual(upstream.refused, [])
    const [first, second] = upstream.seen.slice(-2)
    assert.equal(first.lxm, 'app.bsky.feed.getTimeline')
    assert.equal(first.claims.iss, did)
    assert.equal(first.claims.aud, upstream.did)
    assert.equal(second.lxm, 'app.bsky.actor.getProfile')
    assert.equal(first.headers.cookie, undefined)
  })

  test('a proxy header names the chat service; without one chat calls are refused', async () => {
    const chat = agent.withProxy('bsky_chat', upstream.did)
    const { data } = await chat.chat.bsky.convo.listConvos()
    assert.deepEqual(data.convos, [])
    const last = upstream.seen.at(-1)
    assert.equal(last.claims.aud, `${upstream.did}#bsky_chat`)
    assert.equal(last.claims.lxm, 'chat.bsky.convo.listConvos')
    const before = upstream.seen.length
    await assert.rejects(agent.chat.bsky.convo.listConvos(), (err) => err.error === 'InvalidRequest')
    await assert.rejects(
      agent.withProxy('bsky_appview', upstream.did.replace(/\d+$/, '1')).app.bsky.feed.getTimeline(),
      (err) => err.error === 'InvalidRequest' && /could not resolve/.test(err.message),
    )
    await assert.rejects(
      agent.withProxy('private', upstream.did).app.bsky.feed.getTimeline(),
      (err) => err.error === 'InvalidRequest' && /public address/.test(err.message),
    )
    await assert.rejects(
      agent.withProxy('nope', upstream.did).app.bsky.feed.getTimeline(),
      (err) => err.error === 'InvalidRequest',
    )
    assert.equal(upstream.seen.length, before, 'nothing was forwarded')
    assert.deepEqual(upstream.refused, [])
  })

  test('reports go to the report service (the app view when none is configured)', async () => {
    const { data } = await agent.com.atproto.moderation.createReport({
      reasonType: 'com.atproto.moderation.defs#reasonSpam',
      subject: { $type: 'com.atproto.admin.defs#repoRef', did },
    })
    assert.equal(data.reportedBy, did)
    assert.equal(upstream.seen.at(-1).claims.lxm, 'com.atproto.moderation.createReport')
  })

  test('response bodies stream: the first bytes arrive while the upstream is still answering', async () => {
    const res = await fetch(`${env.localUrl}/xrpc/app.bsky.unspecced.streamDown`, {
      headers: { authorization: `Bearer ${agent.session.accessJwt}` },
    })
    assert.equal(res.status, 200)
    const reader = res.body.getReader()
    let received = 0
    while (received < 65536) {
      const { value, done } = await withTimeout(reader.read(), 10_000, 'first chunk through the proxy')
      assert.ok(!done)
      received += value.length
    }
    assert.ok(upstream.release, 'the upstream still holds its response open')
    upstream.release()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      received += value.length
    }
    assert.equal(received, 65536 + (1 << 20))
  })

  test('request bodies stream: the upstream sees the first bytes before the request ends', async () => {
    const firstSeen = new Promise((resolve) => (upstream.firstRequestChunk = resolve))
    const url = new URL(`${env.localUrl}/xrpc/app.bsky.unspecced.streamUp`)
    const req = http.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${agent.session.accessJwt}`,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
      },
    })
    const response = once(req, 'response')
    req.write(Buffer.alloc(65536, 1))
    await withTimeout(firstSeen, 10_000, 'first request chunk at the upstream')
    upstream.firstRequestChunk = null
    req.end(Buffer.alloc(300_000, 2))
    const [res] = await response
    const chunks = []
    for await (const c of res) chunks.push(c)
    assert.equal(res.statusCode, 200, Buffer.concat(chunks).toString())
    assert.equal(JSON.parse(Buffer.concat(chunks).toString()).bytes, 65536 + 300_000)
  })

  test('preferences are kept by the node, not the app view', async () => {
    const before = upstream.seen.length
    await agent.setAdultContentEnabled(true)
    await agent.addSavedFeeds([{ type: 'feed', value: 'at://did:plc:x/app.bsky.feed.generator/y', pinned: true }])
    const prefs = await agent.getPreferences()
    assert.equal(prefs.moderationPrefs.adultContentEnabled, true)
    assert.ok(prefs.savedFeeds.some((f) => f.value === 'at://did:plc:x/app.bsky.feed.generator/y'))
    const raw = await agent.app.bsky.actor.getPreferences()
    assert.ok(raw.data.preferences.every((p) => p.$type.startsWith('app.bsky.')))
    await assert.rejects(
      agent.app.bsky.actor.putPreferences({ preferences: [{ $type: 'com.example.pref' }] }),
      (err) => err.error === 'InvalidRequest',
    )
    assert.equal(upstream.seen.length, before, 'no preference call reached the app view')
  })

  test("the account's own reads show a new post and profile at once, until the app view has indexed them", async () => {
    const latestRev = async () => (await agent.com.atproto.sync.getLatestCommit({ did })).data.rev
    // The app view has indexed the repository as it is now.
    upstream.rev = await latestRev()
    const before = await agent.getTimeline()
    assert.deepEqual(before.data.feed, [])
    assert.equal(before.headers['atproto-upstream-lag'], undefined)

    await agent.upsertProfile((old) => ({ ...old, displayName: 'Written here', description: 'just now' }))
    const first = await agent.post({ text: 'right after the write' })
    const reply = await agent.post({
      text: 'and a reply to it',
      reply: { root: first, parent: first },
    })

    const profile = await agent.getProfile({ actor: did })
    assert.equal(profile.data.displayName, 'Written here')
    assert.equal(profile.data.description, 'just now')
    assert.match(profile.headers['atproto-upstream-lag'], /^\d+$/)

    const timeline = await agent.getTimeline()
    assert.deepEqual(
      timeline.data.feed.map((i) => i.post.uri),
      [reply.uri, first.uri],
    )
    const [newest] = timeline.data.feed
    assert.equal(newest.post.record.text, 'and a reply to it')
    assert.equal(newest.post.author.did, did)
    assert.equal(newest.post.author.displayName, 'Written here')
    assert.equal(newest.post.cid, reply.cid)

    const authorFeed = await agent.getAuthorFeed({ actor: agent.session.handle })
    assert.deepEqual(
      authorFeed.data.feed.map((i) => i.post.uri),
      [reply.uri, first.uri],
    )

    const thread = await agent.getPostThread({ uri: first.uri })
    assert.equal(thread.data.thread.post.uri, first.uri)
    assert.equal(thread.data.thread.post.record.text, 'right after the write')
    assert.deepEqual(
      thread.data.thread.replies.map((r) => r.post.uri),
      [reply.uri],
    )

    // The app view catches up: it indexes the posts and reports the newest revision; each post
    // then shows once, as the app view has it.
    upstream.indexed = timeline.data.feed.map((item) => ({
      post: { ...item.post, indexedAt: new Date().toISOString(), likeCount: 3 },
    }))
    upstream.rev = await latestRev()
    const caughtUp = await agent.getTimeline()
    assert.deepEqual(
      caughtUp.data.feed.map((i) => [i.post.uri, i.post.likeCount]),
      [
        [reply.uri, 3],
        [first.uri, 3],
      ],
    )
    assert.equal(caughtUp.headers['atproto-upstream-lag'], undefined)
    const caughtUpProfile = await agent.getProfile({ actor: did })
    assert.equal(caughtUpProfile.data.displayName, 'Upstream')
    const caughtUpThread = await agent.getPostThread({ uri: first.uri })
    assert.deepEqual(caughtUpThread.data.thread.replies, [])
    assert.deepEqual(upstream.refused, [])
  })
})
