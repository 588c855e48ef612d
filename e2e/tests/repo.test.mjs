// The repository through the official atproto client: an account is created and logged in with
// `AtpAgent` from @atproto/api, records are written and read with com.atproto.repo.*, and what the
// node serves over com.atproto.sync.* is verified with @atproto/repo against the signing key the
// PLC directory publishes for the account.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { Secp256k1Keypair } from '@atproto/crypto'
import { getAndParseRecord, readCarWithRoot, verifyProofs, verifyRecords, verifyRepoCar } from '@atproto/repo'
import { startNode } from '../lib/harness.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'

const POST = 'app.bsky.feed.post'
const PROFILE = 'app.bsky.actor.profile'

function post(text) {
  return { $type: POST, text, createdAt: new Date().toISOString() }
}

describe('repository through the official atproto client', () => {
  let env
  let agent
  let did
  const handle = `alice${Date.now().toString(36)}.test`
  const password = 'correct horse battery staple'
  // Record keys and CIDs the later steps check, filled in as the test goes.
  const written = {}

  before(async () => {
    env = await startNode()
    agent = new AtpAgent({ service: env.localUrl })
  })

  after(async () => {
    await env?.stop()
  })

  test('describeServer lists the .test handle domain', async () => {
    const { data } = await agent.com.atproto.server.describeServer()
    assert.ok(data.did.startsWith('did:'), `server did ${data.did}`)
    assert.ok(
      data.availableUserDomains.some((d) => d === '.test' || d === 'test'),
      `availableUserDomains ${JSON.stringify(data.availableUserDomains)}`,
    )
  })

  test('createAccount registers a did:plc with the PLC directory', async () => {
    const { data } = await agent.createAccount({ handle, password, email: `${handle}@example.com` })
    assert.equal(data.handle, handle)
    assert.match(data.did, /^did:plc:[a-z2-7]{24}$/)
    assert.ok(data.accessJwt && data.refreshJwt)
    did = data.did
    const res = await fetch(`${env.plcUrl}/${did}`)
    assert.equal(res.status, 200)
    const doc = await res.json()
    assert.ok(doc.alsoKnownAs.includes(`at://${handle}`), JSON.stringify(doc.alsoKnownAs))
  })

  test('login (createSession) and getSession return the account', async () => {
    // A fresh agent so the session is really the one createSession returns.
    agent = new AtpAgent({ service: env.localUrl })
    const login = await agent.login({ identifier: handle, password })
    assert.equal(login.data.did, did)
    assert.equal(agent.session?.did, did)
    const { data } = await agent.com.atproto.server.getSession()
    assert.equal(data.did, did)
    assert.equal(data.handle, handle)
  })

  test('a wrong password is refused', async () => {
    const other = new AtpAgent({ service: env.localUrl })
    await assert.rejects(other.login({ identifier: handle, password: 'not the password' }), (err) => {
      assert.equal(err.status, 401)
      return true
    })
  })

  test('createRecord then getRecord returns the post', async () => {
    const record = post('hello from the e2e suite')
    const { data } = await agent.com.atproto.repo.createRecord({ repo: did, collection: POST, record })
    assert.ok(data.uri.startsWith(`at://${did}/${POST}/`), data.uri)
    assert.ok(data.cid)
    const rkey = data.uri.split('/').pop()
    written.first = { rkey, cid: data.cid }

    const got = await agent.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey })
    assert.equal(got.data.uri, data.uri)
    assert.equal(got.data.cid, data.cid)
    assert.deepEqual(got.data.value, record)
  })

  test('listRecords lists the posts newest first', async () => {
    const second = await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: POST,
      record: post('second post'),
    })
    written.second = { rkey: second.data.uri.split('/').pop(), cid: second.data.cid }
    const { data } = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST })
    assert.deepEqual(
      data.records.map((r) => r.uri.split('/').pop()),
      [written.second.rkey, written.first.rkey],
    )
    assert.equal(data.records[1].value.text, 'hello from the e2e suite')
  })

  test('putRecord replaces a record and creates one at a chosen key', async () => {
    const replaced = await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: POST,
      rkey: written.first.rkey,
      record: post('edited'),
    })
    assert.notEqual(replaced.data.cid, written.first.cid)
    written.first.cid = replaced.data.cid
    const got = await agent.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey: written.first.rkey })
    assert.equal(got.data.value.text, 'edited')

    const profile = await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: PROFILE,
      rkey: 'self',
      record: { $type: PROFILE, displayName: 'Alice' },
    })
    written.profile = { rkey: 'self', cid: profile.data.cid }
  })

  test('deleteRecord removes a record', async () => {
    await agent.com.atproto.repo.deleteRecord({ repo: did, collection: POST, rkey: written.second.rkey })
    await assert.rejects(
      agent.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey: written.second.rkey }),
      (err) => {
        assert.equal(err.status, 400)
        assert.equal(err.error, 'RecordNotFound')
        return true
      },
    )
    written.deleted = written.second
    delete written.second
  })

  test('applyWrites creates, updates and deletes in one commit', async () => {
    const before = await agent.com.atproto.sync.getLatestCommit({ did })
    const { data } = await agent.com.atproto.repo.applyWrites({
      repo: did,
      writes: [
        { $type: 'com.atproto.repo.applyWrites#create', collection: POST, rkey: '3lbatchpost22', value: post('batch') },
        {
          $type: 'com.atproto.repo.applyWrites#update',
          collection: PROFILE,
          rkey: 'self',
          value: { $type: PROFILE, displayName: 'Alice B.' },
        },
        { $type: 'com.atproto.repo.applyWrites#delete', collection: POST, rkey: written.first.rkey },
      ],
    })
    assert.ok(data.commit?.cid, 'applyWrites returns the new commit')
    assert.notEqual(data.commit.rev, before.data.rev)
    assert.equal(data.results?.length, 3)
    const after = await agent.com.atproto.sync.getLatestCommit({ did })
    assert.equal(after.data.cid, data.commit.cid)
    assert.equal(after.data.rev, data.commit.rev)

    const list = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST })
    assert.deepEqual(
      list.data.records.map((r) => r.uri.split('/').pop()),
      ['3lbatchpost22'],
    )
    const profile = await agent.com.atproto.repo.getRecord({ repo: did, collection: PROFILE, rkey: 'self' })
    assert.equal(profile.data.value.displayName, 'Alice B.')
    written.deleted2 = written.first
    delete written.first
    written.batch = { rkey: '3lbatchpost22', cid: data.results[0].cid }
    written.profile.cid = profile.data.cid
  })

  test('describeRepo names the account and its collections', async () => {
    const { data } = await agent.com.atproto.repo.describeRepo({ repo: did })
    assert.equal(data.did, did)
    assert.equal(data.handle, handle)
    assert.deepEqual([...data.collections].sort(), [PROFILE, POST].sort())
  })

  test('writes without a session, or to another repository, are refused', async () => {
    const anonymous = new AtpAgent({ service: env.localUrl })
    await assert.rejects(
      anonymous.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('nope') }),
      (err) => {
        assert.equal(err.status, 401)
        return true
      },
    )
    const bob = new AtpAgent({ service: env.localUrl })
    await bob.createAccount({ handle: `bob${Date.now().toString(36)}.test`, password })
    await assert.rejects(
      bob.com.atproto.repo.createRecord({ repo: did, collection: POST, record: post('not mine') }),
      (err) => {
        assert.ok(err.status === 400 || err.status === 401 || err.status === 403, `status ${err.status}`)
        return true
      },
    )
    const list = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST })
    assert.ok(!list.data.records.some((r) => r.value.text === 'not mine' || r.value.text === 'nope'))
  })

  test('a handle outside the served domains and a taken handle are refused', async () => {
    const other = new AtpAgent({ service: env.localUrl })
    await assert.rejects(other.createAccount({ handle: 'mallory.example.com', password }), (err) => {
      assert.equal(err.status, 400)
      return true
    })
    await assert.rejects(other.createAccount({ handle, password }), (err) => {
      assert.equal(err.status, 400)
      assert.equal(err.error, 'HandleNotAvailable')
      return true
    })
  })

  test('sync endpoints answer RepoNotFound for an unknown DID', async () => {
    const unknown = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    await assert.rejects(agent.com.atproto.sync.getRepo({ did: unknown }), (err) => {
      assert.equal(err.status, 400)
      assert.equal(err.error, 'RepoNotFound')
      return true
    })
    await assert.rejects(agent.com.atproto.sync.getLatestCommit({ did: unknown }), (err) => {
      assert.equal(err.error, 'RepoNotFound')
      return true
    })
    // The deprecated two answer as the reference PDS does: the account is checked first.
    for (const method of ['getHead', 'getCheckout']) {
      await assert.rejects(agent.com.atproto.sync[method]({ did: unknown }), (err) => {
        assert.equal(err.status, 400, method)
        assert.equal(err.error, 'RepoNotFound', method)
        return true
      })
    }
  })

  test('sync.getRepo is a full repository signed by the key in the DID document', async () => {
    const signingKey = await signingKeyFromPlc(env.plcUrl, did)
    const { data: car } = await agent.com.atproto.sync.getRepo({ did })
    assert.ok(car instanceof Uint8Array && car.length > 0)
    const latest = await agent.com.atproto.sync.getLatestCommit({ did })
    const { root, blocks } = await readCarWithRoot(car)
    assert.equal(root.toString(), latest.data.cid)

    const verified = await verifyRepoCar(car, did, signingKey)
    assert.equal(verified.commit.rev, latest.data.rev)
    const keys = verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort()
    assert.deepEqual(keys, [`${POST}/${written.batch.rkey}`, `${PROFILE}/self`].sort())
    const profile = verified.creates.find((c) => c.collection === PROFILE)
    assert.equal(profile.cid.toString(), written.profile.cid)
    const { record } = await getAndParseRecord(blocks, profile.cid)
    assert.equal(record.displayName, 'Alice B.')

    // The same CAR under another key must fail: the check above is able to fail.
    const stranger = (await Secp256k1Keypair.create()).did()
    await assert.rejects(verifyRepoCar(car, did, stranger), /Invalid signature/)
  })

  test('the deprecated sync.getHead and getCheckout give the head commit and its verified repository', async () => {
    const signingKey = await signingKeyFromPlc(env.plcUrl, did)
    const latest = await agent.com.atproto.sync.getLatestCommit({ did })
    const head = await agent.com.atproto.sync.getHead({ did })
    assert.equal(head.data.root, latest.data.cid)
    const { data: car } = await agent.com.atproto.sync.getCheckout({ did })
    const { root } = await readCarWithRoot(car)
    assert.equal(root.toString(), head.data.root)
    const verified = await verifyRepoCar(car, did, signingKey)
    assert.equal(verified.commit.rev, latest.data.rev)
    const keys = verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort()
    assert.deepEqual(keys, [`${POST}/${written.batch.rkey}`, `${PROFILE}/self`].sort())
    const stranger = (await Secp256k1Keypair.create()).did()
    await assert.rejects(verifyRepoCar(car, did, stranger), /Invalid signature/)
  })

  test('sync.getRecord proofs verify for a present and an absent record', async () => {
    const signingKey = await signingKeyFromPlc(env.plcUrl, did)
    const { data: proof } = await agent.com.atproto.sync.getRecord({ did, collection: PROFILE, rkey: 'self' })
    const records = await verifyRecords(proof, did, signingKey)
    const profile = records.find((r) => r.collection === PROFILE && r.rkey === 'self')
    assert.ok(profile, 'the proof carries the record')
    assert.equal(profile.record.displayName, 'Alice B.')

    // verifyProofs wants CIDs of @atproto/repo's own type: take the one the full repository gives.
    const { data: car } = await agent.com.atproto.sync.getRepo({ did })
    const { creates } = await verifyRepoCar(car, did, signingKey)
    const profileCid = creates.find((c) => c.collection === PROFILE).cid
    const present = await verifyProofs(proof, [{ collection: PROFILE, rkey: 'self', cid: profileCid }], did, signingKey)
    assert.equal(present.verified.length, 1)
    assert.equal(present.unverified.length, 0)
    // A claim of another CID for the same key is not verified by that proof.
    const postCid = creates.find((c) => c.collection === POST).cid
    const wrong = await verifyProofs(proof, [{ collection: PROFILE, rkey: 'self', cid: postCid }], did, signingKey)
    assert.equal(wrong.verified.length, 0)
    assert.equal(wrong.unverified.length, 1)

    const { data: absence } = await agent.com.atproto.sync.getRecord({
      did,
      collection: POST,
      rkey: written.deleted.rkey,
    })
    const absent = await verifyProofs(
      absence,
      [{ collection: POST, rkey: written.deleted.rkey, cid: null }],
      did,
      signingKey,
    )
    assert.equal(absent.verified.length, 1, 'the proof shows the deleted record is absent')
  })

  test('sync.getRepoStatus and listRepos report the account', async () => {
    const status = await agent.com.atproto.sync.getRepoStatus({ did })
    assert.equal(status.data.did, did)
    assert.equal(status.data.active, true)
    const latest = await agent.com.atproto.sync.getLatestCommit({ did })
    assert.equal(status.data.rev, latest.data.rev)
    const { data } = await agent.com.atproto.sync.listRepos({})
    const repo = data.repos.find((r) => r.did === did)
    assert.ok(repo, 'listRepos includes the account')
    assert.equal(repo.head, latest.data.cid)
  })

  test('refreshSession rotates the tokens and the new session works', async () => {
    const old = { ...agent.session }
    await agent.sessionManager.refreshSession()
    assert.equal(agent.session?.did, did)
    assert.notEqual(agent.session.refreshJwt, old.refreshJwt)
    const { data } = await agent.com.atproto.server.getSession()
    assert.equal(data.did, did)
    // The refresh token just used is spent.
    const stale = new AtpAgent({ service: env.localUrl })
    await assert.rejects(
      stale.com.atproto.server.refreshSession(undefined, {
        headers: { authorization: `Bearer ${old.refreshJwt}` },
      }),
      (err) => {
        assert.ok(err.status === 400 || err.status === 401, `status ${err.status}`)
        return true
      },
    )
  })

  test('app passwords log in and can be revoked', async () => {
    const created = await agent.com.atproto.server.createAppPassword({ name: 'e2e' })
    assert.match(created.data.password, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/)
    const list = await agent.com.atproto.server.listAppPasswords()
    assert.deepEqual(
      list.data.passwords.map((p) => p.name),
      ['e2e'],
    )
    const appAgent = new AtpAgent({ service: env.localUrl })
    await appAgent.login({ identifier: handle, password: created.data.password })
    assert.equal(appAgent.session?.did, did)
    await agent.com.atproto.server.revokeAppPassword({ name: 'e2e' })
    const again = new AtpAgent({ service: env.localUrl })
    await assert.rejects(again.login({ identifier: handle, password: created.data.password }))
  })

  test('deleteSession logs out', async () => {
    const refreshJwt = agent.session.refreshJwt
    await agent.com.atproto.server.deleteSession(undefined, {
      headers: { authorization: `Bearer ${refreshJwt}` },
    })
    const stale = new AtpAgent({ service: env.localUrl })
    await assert.rejects(
      stale.com.atproto.server.refreshSession(undefined, {
        headers: { authorization: `Bearer ${refreshJwt}` },
      }),
    )
  })
})
