// A did:web account moves in through @atproto/api: the user's domain (a loopback HTTP server serving
// /.well-known/did.json; development mode resolves did:web:localhost%3A<port> over plain HTTP) and
// the old host (its signing key, a repository built with @atproto/repo, a service token signed with
// that key) are played by the test. createAccount with the DID, importRepo, getRecommendedDidCredentials
// (no rotation keys), activateAccount refused until did.json names the node and the account's key
// there, then the repository served, verified with @atproto/repo against the new key.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { Secp256k1Keypair } from '@atproto/crypto'
import { MemoryBlockstore, Repo, WriteOpAction, blocksToCarFile, verifyRepoCar } from '@atproto/repo'
import { startNode } from '../lib/harness.mjs'

const b64url = (bytes) => Buffer.from(bytes).toString('base64url')

/** A service JWT as an old host would sign it, with the account's key. */
async function serviceJwt(keypair, iss, aud, lxm) {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: keypair.jwtAlg }))
  const now = Math.floor(Date.now() / 1000)
  const payload = b64url(JSON.stringify({ iat: now, iss, aud, exp: now + 60, lxm, jti: `${now}-${Math.random()}` }))
  const sig = await keypair.sign(Buffer.from(`${header}.${payload}`))
  return `${header}.${payload}.${b64url(sig)}`
}

function didDocument(did, handle, pds, didKey) {
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    alsoKnownAs: [`at://${handle}`],
    verificationMethod: [
      { id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: didKey.slice('did:key:'.length) },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pds }],
  }
}

describe('a did:web account', () => {
  let env
  let domain
  let document
  let did
  const handle = `web${Date.now().toString(36).slice(-6)}.test`

  before(async () => {
    env = await startNode()
    domain = createServer((req, res) => {
      if (req.url === '/.well-known/did.json') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(document))
      } else {
        res.writeHead(404).end()
      }
    })
    domain.listen(0, '127.0.0.1')
    await once(domain, 'listening')
    did = `did:web:localhost%3A${domain.address().port}`
  })

  after(async () => {
    domain?.close()
    await env?.stop()
  })

  test('moves in, is activated once its did.json names the node, and is served', async () => {
    const oldKey = await Secp256k1Keypair.create({ exportable: true })
    document = didDocument(did, handle, 'https://old-host.example', oldKey.did())

    // The repository on the old host: three posts, signed with the old key.
    const storage = new MemoryBlockstore()
    const writes = [0, 1, 2].map((i) => ({
      action: WriteOpAction.Create,
      collection: 'app.bsky.feed.post',
      rkey: `3l3qo2vutsw2${'abc'[i]}`,
      record: { $type: 'app.bsky.feed.post', text: `from my own domain ${i}`, createdAt: new Date().toISOString() },
    }))
    const repo = await Repo.create(storage, did, oldKey, writes)
    const car = await blocksToCarFile(repo.cid, storage.blocks)

    const agent = new AtpAgent({ service: env.localUrl })
    const { data: server } = await agent.com.atproto.server.describeServer()
    const token = await serviceJwt(oldKey, did, server.did, 'com.atproto.server.createAccount')
    const { data: created } = await agent.com.atproto.server.createAccount(
      { did, handle, email: `${handle}@example.com`, password: 'did-web-password' },
      { headers: { authorization: `Bearer ${token}` } },
    )
    assert.equal(created.did, did)
    await agent.login({ identifier: handle, password: 'did-web-password' })
    await agent.com.atproto.repo.importRepo(car, { encoding: 'application/vnd.ipld.car' })

    const { data: creds } = await agent.com.atproto.identity.getRecommendedDidCredentials()
    assert.equal(creds.rotationKeys, undefined)
    assert.equal(creds.services.atproto_pds.endpoint, env.publicUrl)

    await assert.rejects(agent.com.atproto.server.activateAccount(), /old-host\.example/)
    document = didDocument(did, handle, env.publicUrl, creds.verificationMethods.atproto)
    await agent.com.atproto.server.activateAccount()
    const { data: status } = await agent.com.atproto.server.checkAccountStatus()
    assert.equal(status.activated, true)
    assert.equal(status.indexedRecords, 3)

    const { data: served } = await agent.com.atproto.sync.getRepo({ did })
    const verified = await verifyRepoCar(served, did, creds.verificationMethods.atproto)
    assert.equal(verified.creates.length, 3)
    const { data: list } = await agent.com.atproto.repo.listRecords({ repo: did, collection: 'app.bsky.feed.post' })
    assert.equal(list.records.length, 3)
    const { data: resolved } = await agent.com.atproto.identity.resolveHandle({ handle })
    assert.equal(resolved.did, did)
  })
})
