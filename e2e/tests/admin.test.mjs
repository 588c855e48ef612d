// Administration with goat (`goat pds admin …`, the tool operators of the reference PDS use) and
// the admin password: invite codes, account creation with them, listing, account info, a password
// reset, a handle change that reaches the DID document at the PLC directory, an account takedown that every read path and the firehose honour, and its restoration;
// record and blob takedowns; a wrong or missing admin password changes nothing.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'
import { subscribe } from '../lib/firehose.mjs'

const GOAT = process.env.GOAT_BIN || new URL('../../../shared/tools/goat', import.meta.url).pathname
const ADMIN_PASSWORD = 'operator e2e password'
const run = promisify(execFile)

function goatAvailable() {
  if (existsSync(GOAT)) return true
  const message = `SKIP admin tests: goat not found at ${GOAT} (set GOAT_BIN)`
  if (process.env.CI) throw new Error(message)
  console.log(`!!!!! ${message}`)
  return false
}

describe('administration with goat and the admin password', { skip: !goatAvailable() }, () => {
  let env
  let bob
  let bobPassword = 'bob e2e password'
  let carol
  const goat = async (...args) => {
    const { stdout } = await run(GOAT, args, { env: { ...process.env, HOME: env.dataDir } })
    return stdout
  }
  const admin = (...args) =>
    goat('pds', 'admin', '--pds-host', env.localUrl, '--admin-password', ADMIN_PASSWORD, ...args)
  const basic = (password) => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`
  const xrpc = async (method, { body, query = '', auth } = {}) => {
    const res = await fetch(`${env.localUrl}/xrpc/${method}${query}`, {
      method: body ? 'POST' : 'GET',
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    const isJson = (res.headers.get('content-type') || '').startsWith('application/json')
    return { status: res.status, json: isJson ? JSON.parse(text) : null, bytes: text }
  }

  before(async () => {
    env = await startNode({ env: { PDS_ADMIN_PASSWORD: ADMIN_PASSWORD, PDS_INVITE_REQUIRED: 'true' } })
  })

  after(async () => {
    await env?.stop()
  })

  test('goat makes invite codes, and accounts are created with them', async () => {
    const codes = (await admin('create-invites', '-n', '2', '--uses', '1')).trim().split(/\s+/)
    assert.equal(codes.length, 2)
    const created = await goat(
      'account', 'create', '--pds-host', env.localUrl, '--handle', 'bob.test',
      '--password', bobPassword, '--email', 'bob@example.com', '--invite-code', codes[0],
    )
    bob = /DID: (did:plc:\S+)/.exec(created)[1]
    const agent = new AtpAgent({ service: env.localUrl })
    await assert.rejects(
      agent.createAccount({ handle: 'carol.test', password: 'carol pw', inviteCode: codes[0] }),
      (err) => err.error === 'InvalidInviteCode',
    )
    carol = (await agent.createAccount({ handle: 'carol.test', password: 'carol pw', inviteCode: codes[1] })).data.did
    const list = await admin('account', 'list')
    assert.match(list, new RegExp(`${bob}\\s+active`))
    assert.match(list, new RegExp(`${carol}\\s+active`))
    const info = JSON.parse(await admin('account', 'info', bob))
    assert.equal(info.handle, 'bob.test')
    assert.equal(info.email, 'bob@example.com')
    assert.equal(info.invitedBy.code, codes[0])
    const { json } = await xrpc('com.atproto.admin.getInviteCodes', { auth: basic(ADMIN_PASSWORD) })
    assert.ok(codes.every((c) => json.codes.some((v) => v.code === c && v.uses.length === 1)))
  })

  test('a wrong or missing admin password is refused and changes nothing', async () => {
    for (const auth of [undefined, basic('wrong'), `Bearer ${ADMIN_PASSWORD}`, basic(ADMIN_PASSWORD).replace('YWRtaW46', 'cm9vdDo6')]) {
      const res = await xrpc('com.atproto.admin.updateAccountPassword', { body: { did: bob, password: 'hijacked' }, auth })
      assert.equal(res.status, 401, JSON.stringify(res.json))
      assert.equal(res.json.error, 'AuthenticationRequired')
      const takedown = await xrpc('com.atproto.admin.updateSubjectStatus', {
        body: { subject: { $type: 'com.atproto.admin.defs#repoRef', did: bob }, takedown: { applied: true } },
        auth,
      })
      assert.equal(takedown.status, 401)
    }
    await assert.rejects(
      goat('pds', 'admin', '--pds-host', env.localUrl, '--admin-password', 'wrong', 'account', 'info', bob),
    )
    const agent = new AtpAgent({ service: env.localUrl })
    await agent.login({ identifier: bob, password: bobPassword })
    assert.equal((await agent.com.atproto.server.getSession()).data.active, true)
  })

  test('goat resets a password: the new one works, the old one no longer does', async () => {
    const out = await admin('account', 'reset-password', bob)
    const fresh = /new password: (\S+)/.exec(out)[1]
    const agent = new AtpAgent({ service: env.localUrl })
    await assert.rejects(agent.login({ identifier: bob, password: bobPassword }), (err) => err.status === 401)
    await agent.login({ identifier: bob, password: fresh })
    bobPassword = fresh
  })

  test('a taken-down account is refused on every read path and the firehose says so; restoring it serves it again', async () => {
    const agent = new AtpAgent({ service: env.localUrl })
    await agent.login({ identifier: bob, password: bobPassword })
    const blob = (await agent.com.atproto.repo.uploadBlob(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), { encoding: 'image/png' })).data.blob
    const post = await agent.com.atproto.repo.createRecord({
      repo: bob,
      collection: 'app.bsky.feed.post',
      record: {
        $type: 'app.bsky.feed.post', text: 'before the takedown', createdAt: new Date().toISOString(),
        embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: '' }] },
      },
    })
    const rkey = post.data.uri.split('/').pop()
    const cid = blob.ref.toString()
    const reads = {
      'com.atproto.repo.getRecord': `?repo=${bob}&collection=app.bsky.feed.post&rkey=${rkey}`,
      'com.atproto.repo.listRecords': `?repo=${bob}&collection=app.bsky.feed.post`,
      'com.atproto.repo.describeRepo': `?repo=${bob}`,
      'com.atproto.sync.getRecord': `?did=${bob}&collection=app.bsky.feed.post&rkey=${rkey}`,
      'com.atproto.sync.getRepo': `?did=${bob}`,
      'com.atproto.sync.getLatestCommit': `?did=${bob}`,
      'com.atproto.sync.getHead': `?did=${bob}`,
      'com.atproto.sync.getCheckout': `?did=${bob}`,
      'com.atproto.sync.getBlob': `?did=${bob}&cid=${cid}`,
      'com.atproto.sync.listBlobs': `?did=${bob}`,
      'com.atproto.sync.getBlocks': `?did=${bob}&cids=${post.data.cid}`,
    }
    for (const [method, query] of Object.entries(reads)) {
      assert.equal((await xrpc(method, { query })).status, 200, `${method} before the takedown`)
    }
    const firehose = await subscribe(env.localUrl)

    await admin('account', 'takedown', bob)
    for (const [method, query] of Object.entries(reads)) {
      const res = await xrpc(method, { query })
      assert.equal(res.status, 400, `${method} serves a taken-down account: ${res.bytes.slice(0, 200)}`)
    }
    const status = (await xrpc('com.atproto.sync.getRepoStatus', { query: `?did=${bob}` })).json
    assert.equal(status.active, false)
    assert.equal(status.status, 'takendown')
    assert.match(await admin('account', 'list'), new RegExp(`${bob}\\s+takendown`))
    let frame
    do frame = await firehose.next()
    while (!(frame.t === '#account' && frame.body.did === bob))
    assert.equal(frame.body.active, false)
    assert.equal(frame.body.status, 'takendown')
    await assert.rejects(
      new AtpAgent({ service: env.localUrl }).login({ identifier: bob, password: bobPassword }),
      (err) => err.error === 'AccountTakedown',
    )
    const subject = await xrpc('com.atproto.admin.getSubjectStatus', { query: `?did=${bob}`, auth: basic(ADMIN_PASSWORD) })
    assert.equal(subject.json.takedown.applied, true)

    await admin('account', 'takedown', '--reverse', bob)
    do frame = await firehose.next()
    while (!(frame.t === '#account' && frame.body.did === bob))
    assert.equal(frame.body.active, true)
    firehose.close()
    for (const [method, query] of Object.entries(reads)) {
      assert.equal((await xrpc(method, { query })).status, 200, `${method} after the restoration`)
    }

    // One record and one blob taken down, then restored.
    const auth = basic(ADMIN_PASSWORD)
    const setSubject = (subject, applied) =>
      xrpc('com.atproto.admin.updateSubjectStatus', { body: { subject, takedown: { applied, ref: 'case-1' } }, auth })
    const recordRef = { $type: 'com.atproto.repo.strongRef', uri: post.data.uri, cid: post.data.cid }
    const blobRef = { $type: 'com.atproto.admin.defs#repoBlobRef', did: bob, cid }
    assert.equal((await setSubject(recordRef, true)).json.takedown.ref, 'case-1')
    assert.equal((await setSubject(blobRef, true)).status, 200)
    assert.equal((await xrpc('com.atproto.repo.getRecord', { query: reads['com.atproto.repo.getRecord'] })).json.error, 'RecordNotFound')
    assert.equal((await xrpc('com.atproto.sync.getRecord', { query: reads['com.atproto.sync.getRecord'] })).json.error, 'RecordNotFound')
    assert.equal((await xrpc('com.atproto.repo.listRecords', { query: reads['com.atproto.repo.listRecords'] })).json.records.length, 0)
    assert.equal((await xrpc('com.atproto.sync.getBlob', { query: reads['com.atproto.sync.getBlob'] })).json.error, 'BlobNotFound')
    const blobStatus = await xrpc('com.atproto.admin.getSubjectStatus', { query: `?did=${bob}&blob=${cid}`, auth })
    assert.deepEqual(blobStatus.json.takedown, { applied: true, ref: 'case-1' })
    await setSubject(recordRef, false)
    await setSubject(blobRef, false)
    assert.equal((await xrpc('com.atproto.repo.getRecord', { query: reads['com.atproto.repo.getRecord'] })).status, 200)
    assert.equal((await xrpc('com.atproto.sync.getBlob', { query: reads['com.atproto.sync.getBlob'] })).status, 200)
  })

  test('goat changes a handle: the DID document at the PLC directory names it and the firehose says #identity', async () => {
    const firehose = await subscribe(env.localUrl)
    const plcLog = async () => (await (await fetch(`${env.plcUrl}/${bob}/log`)).json()).length
    const before = await plcLog()
    // Taken by another account, or not a handle this server gives: refused, nothing changes.
    await assert.rejects(admin('account', 'update', '--handle', 'carol.test', bob))
    await assert.rejects(admin('account', 'update', '--handle', 'x.test', bob))
    assert.equal(await plcLog(), before)
    await admin('account', 'update', '--handle', 'robert.test', bob)
    const doc = await (await fetch(`${env.plcUrl}/${bob}`)).json()
    assert.deepEqual(doc.alsoKnownAs, ['at://robert.test'])
    assert.equal(await plcLog(), before + 1)
    let frame
    do frame = await firehose.next()
    while (frame.t !== '#identity' || frame.body.did !== bob)
    assert.equal(frame.body.handle, 'robert.test')
    firehose.close()
    const resolved = await xrpc('com.atproto.identity.resolveIdentity', { query: '?identifier=robert.test' })
    assert.equal(resolved.json.did, bob, resolved.bytes)
    assert.equal(JSON.parse(await admin('account', 'info', bob)).handle, 'robert.test')
  })

  test('goat updates an email and deletes an account', async () => {
    await admin('account', 'update', '--email', 'carol@example.com', carol)
    const info = await xrpc('com.atproto.admin.getAccountInfos', { query: `?dids=${carol}&dids=${bob}`, auth: basic(ADMIN_PASSWORD) })
    assert.equal(info.json.infos.find((i) => i.did === carol).email, 'carol@example.com')
    assert.equal(info.json.infos.length, 2)
    await admin('account', 'delete', carol)
    assert.equal((await xrpc('com.atproto.sync.getLatestCommit', { query: `?did=${carol}` })).json.error, 'RepoNotFound')
    assert.doesNotMatch(await admin('account', 'list'), new RegExp(carol))
  })
})
