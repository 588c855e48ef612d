// Account lifecycle with the official client: a service token from com.atproto.server.getServiceAuth
// verifies with the signing key the PLC directory publishes, and the owner deletes the account with
// the one-time code the node "mails" (writes to its log, having no mail transport) and the password.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifySignature } from '@atproto/crypto'
import { startNode } from '../lib/harness.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'

const b64url = (text) => Buffer.from(text, 'base64url')

describe('account lifecycle through @atproto/api', () => {
  let env
  let agent
  let did
  const password = 'lifecycle e2e password'

  before(async () => {
    env = await startNode()
    agent = new AtpAgent({ service: env.localUrl })
    const handle = `life${Date.now().toString(36)}.test`
    const { data } = await agent.createAccount({ handle, password, email: `${handle}@example.com` })
    did = data.did
  })

  after(async () => {
    await env?.stop()
  })

  test('getServiceAuth gives a token signed with the key in the DID document', async () => {
    const { data } = await agent.com.atproto.server.getServiceAuth({
      aud: 'did:web:api.example.com',
      lxm: 'app.bsky.feed.getTimeline',
    })
    const [header, payload, signature] = data.token.split('.')
    const claims = JSON.parse(b64url(payload).toString('utf8'))
    assert.equal(claims.iss, did)
    assert.equal(claims.aud, 'did:web:api.example.com')
    assert.equal(claims.lxm, 'app.bsky.feed.getTimeline')
    assert.ok(claims.exp > Date.now() / 1000)
    const didKey = await signingKeyFromPlc(env.plcUrl, did)
    const signed = new TextEncoder().encode(`${header}.${payload}`)
    assert.ok(await verifySignature(didKey, signed, b64url(signature)), 'signature verifies')
    await assert.rejects(
      agent.com.atproto.server.getServiceAuth({ aud: 'did:web:api.example.com', exp: Math.floor(Date.now() / 1000) + 7200 }),
      (err) => err.error === 'BadExpiration',
    )
  })

  test('the owner deletes the account with the mailed code and the password', async () => {
    await agent.com.atproto.server.requestAccountDelete()
    let code
    for (let i = 0; i < 50 && !code; i++) {
      code = /Delete your account[\s\S]*?([A-Z2-7]{5}-[A-Z2-7]{5})/.exec(env.log())?.[1]
      if (!code) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(code, 'the node wrote the deletion code to its log')
    await assert.rejects(
      agent.com.atproto.server.deleteAccount({ did, password: 'wrong password', token: code }),
      (err) => err.status === 401,
    )
    await assert.rejects(
      agent.com.atproto.server.deleteAccount({ did, password, token: 'AAAAA-AAAAA' }),
      (err) => err.error === 'InvalidToken',
    )
    await agent.com.atproto.server.deleteAccount({ did, password, token: code })
    await assert.rejects(
      agent.com.atproto.sync.getLatestCommit({ did }),
      (err) => err.error === 'RepoNotFound',
    )
    const again = new AtpAgent({ service: env.localUrl })
    await assert.rejects(again.login({ identifier: did, password }), (err) => err.status === 401)
  })
})
