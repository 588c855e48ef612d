// The identity lifecycle through @atproto/api against a node and the local PLC directory: a new
// handle (in the directory, on the firehose as #identity, resolvable at once), the recommended
// credentials, a PLC operation signed with the one-time code (read from the node's log, there being
// no mail transport) and submitted, and the three resolution methods.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { Secp256k1Keypair } from '@atproto/crypto'
import { subscribe } from '../lib/firehose.mjs'
import { startNode } from '../lib/harness.mjs'

describe('identity lifecycle', () => {
  let env
  let agent
  let did
  const stamp = Date.now().toString(36).slice(-6)

  before(async () => {
    env = await startNode()
    agent = new AtpAgent({ service: env.localUrl })
    const { data } = await agent.createAccount({
      handle: `id${stamp}.test`,
      password: 'identity-password',
      email: `id${stamp}@example.com`,
    })
    did = data.did
  })

  after(async () => {
    await env?.stop()
  })

  async function plcData() {
    const res = await fetch(`${env.plcUrl}/${encodeURIComponent(did)}/data`)
    assert.equal(res.status, 200)
    return res.json()
  }

  test('updateHandle changes the DID document, the firehose and resolution at once', async () => {
    const firehose = await subscribe(env.localUrl, 0)
    const handle = `moved${stamp}.test`
    await agent.com.atproto.identity.updateHandle({ handle })
    assert.deepEqual((await plcData()).alsoKnownAs, [`at://${handle}`])
    const resolved = await agent.com.atproto.identity.resolveHandle({ handle })
    assert.equal(resolved.data.did, did)
    const session = await agent.com.atproto.server.getSession()
    assert.equal(session.data.handle, handle)
    let frame
    do {
      frame = await firehose.next()
    } while (!(frame.t === '#identity' && frame.body.handle === handle))
    assert.equal(frame.body.did, did)
    firehose.close()

    await assert.rejects(
      agent.com.atproto.identity.updateHandle({ handle: 'no.such.domain.example' }),
      (err) => err.error === 'InvalidHandle',
    )
  })

  test('resolveDid, resolveIdentity and refreshIdentity agree with the directory', async () => {
    const { data: doc } = await agent.com.atproto.identity.resolveDid({ did })
    assert.equal(doc.didDoc.id, did)
    const { data: byHandle } = await agent.com.atproto.identity.resolveIdentity({
      identifier: `moved${stamp}.test`,
    })
    assert.equal(byHandle.did, did)
    assert.equal(byHandle.handle, `moved${stamp}.test`)
    assert.deepEqual(byHandle.didDoc, doc.didDoc)
    const { data: byDid } = await agent.com.atproto.identity.refreshIdentity({ identifier: did })
    assert.equal(byDid.handle, `moved${stamp}.test`)
    await assert.rejects(
      agent.com.atproto.identity.resolveDid({ did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }),
      (err) => err.error === 'DidNotFound',
    )
  })

  test('a PLC operation is signed with the mailed code and submitted to the directory', async () => {
    const { data: recommended } = await agent.com.atproto.identity.getRecommendedDidCredentials()
    const current = await plcData()
    assert.deepEqual(recommended.rotationKeys, current.rotationKeys)
    assert.equal(recommended.verificationMethods.atproto, current.verificationMethods.atproto)
    assert.equal(recommended.services.atproto_pds.endpoint, env.publicUrl)

    await assert.rejects(
      agent.com.atproto.identity.signPlcOperation({ token: 'WRONG-CODES' }),
      (err) => err.error === 'InvalidToken',
    )
    await agent.com.atproto.identity.requestPlcOperationSignature()
    // Without a mail transport the node writes the message to its log (sent in the background).
    let match = null
    for (let i = 0; i < 50 && !match; i++) {
      match = /Confirm a change of your identity[\s\S]*?([A-Z2-7]{5}-[A-Z2-7]{5})/.exec(env.log())
      if (!match) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(match, 'the code is in the node log')
    const recovery = await Secp256k1Keypair.create()
    const rotationKeys = [recovery.did(), ...recommended.rotationKeys]
    const { data } = await agent.com.atproto.identity.signPlcOperation({ token: match[1], rotationKeys })
    await agent.com.atproto.identity.submitPlcOperation({ operation: data.operation })
    assert.deepEqual((await plcData()).rotationKeys, rotationKeys)
  })
})
