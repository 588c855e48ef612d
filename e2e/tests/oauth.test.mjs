// The whole OAuth flow with the official client, `@atproto/oauth-client-node`, against a
// `pocketpds serve` node: handle resolution through the node and the local PLC directory, PAR, the
// login + consent page in a real Chromium, the code exchange with DPoP, authenticated writes, a
// refresh, the session listed to its owner, and revocation.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Agent, AtpAgent } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'
import { SCOPE, callbackServer, launchChromium, oauthClient, signInWithBrowser } from '../lib/oauth.mjs'

const POST = 'app.bsky.feed.post'

describe('OAuth with the official client and a real browser', () => {
  let env
  let browser
  let legacy
  let client
  let callback
  let session
  const handle = `oauth${Date.now().toString(36)}.test`
  const password = 'correct horse battery staple'

  before(async () => {
    env = await startNode()
    browser = await launchChromium()
    legacy = new AtpAgent({ service: env.localUrl })
    await legacy.createAccount({ handle, password, email: `${handle}@example.com` })
    callback = await callbackServer()
    client = oauthClient({ plcUrl: env.plcUrl, handleResolver: env.localUrl, redirectUri: callback.uri })
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await env?.stop()
  })

  test('the metadata documents name this node as its own authorization server', async () => {
    const resource = await (await fetch(`${env.localUrl}/.well-known/oauth-protected-resource`)).json()
    assert.equal(resource.resource, env.publicUrl)
    assert.deepEqual(resource.authorization_servers, [env.publicUrl])
    const res = await fetch(`${env.localUrl}/.well-known/oauth-authorization-server`)
    assert.ok(res.headers.get('dpop-nonce'), 'every response carries a DPoP nonce')
    const as = await res.json()
    assert.equal(as.issuer, env.publicUrl)
    assert.equal(as.require_pushed_authorization_requests, true)
    assert.deepEqual(as.dpop_signing_alg_values_supported, ['ES256'])
    assert.deepEqual(as.code_challenge_methods_supported, ['S256'])
  })

  test('login and consent in Chromium give a DPoP session for the account', async () => {
    const result = await signInWithBrowser(browser, client, callback, handle, password)
    session = result.session
    assert.equal(session.did, legacy.session.did)
    assert.equal(result.shown.identifier, handle)
    assert.deepEqual(result.shown.scopes, SCOPE.split(' '))
    assert.match(result.shown.clientId, /^http:\/\/localhost\?/)
    assert.equal(result.callback.get('iss'), env.publicUrl)
    const info = await session.getTokenInfo()
    assert.equal(info.scope, SCOPE)
  })

  test('authenticated writes and reads go through with DPoP', async () => {
    const agent = new Agent(session)
    const { data } = await agent.com.atproto.server.getSession()
    assert.equal(data.did, session.did)
    for (let i = 0; i < 3; i++) {
      const res = await agent.com.atproto.repo.createRecord({
        repo: session.did,
        collection: POST,
        record: { $type: POST, text: `oauth post ${i}`, createdAt: new Date().toISOString() },
      })
      assert.match(res.data.uri, new RegExp(`^at://${session.did}/${POST}/`))
    }
    const list = await agent.com.atproto.repo.listRecords({ repo: session.did, collection: POST })
    assert.equal(list.data.records.length, 3)
  })

  test('a refresh rotates the tokens and the session keeps working', async () => {
    const before = await session.getTokenInfo()
    const after = await session.getTokenInfo(true)
    assert.notEqual(after.expiresAt?.getTime(), undefined)
    const agent = new Agent(session)
    const res = await agent.com.atproto.repo.createRecord({
      repo: session.did,
      collection: POST,
      record: { $type: POST, text: 'after refresh', createdAt: new Date().toISOString() },
    })
    assert.ok(res.data.cid)
    assert.equal(after.sub, before.sub)
  })

  /** `dev.pocketpds.oauth.listSessions` with the account password's session. */
  async function listSessions() {
    const res = await fetch(`${env.localUrl}/xrpc/dev.pocketpds.oauth.listSessions`, {
      headers: { authorization: `Bearer ${legacy.session.accessJwt}` },
    })
    assert.equal(res.status, 200)
    return { data: await res.json() }
  }

  test('the owner sees the session, and signing out revokes it', async () => {
    const listed = await listSessions()
    assert.equal(listed.data.sessions.length, 1)
    assert.match(listed.data.sessions[0].clientId, /^http:\/\/localhost\?/)
    await session.signOut()
    const after = await listSessions()
    assert.equal(after.data.sessions.length, 0)
  })
})
