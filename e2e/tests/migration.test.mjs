// Account migration with goat (`goat account migrate`, the tool people move accounts with) between the
// reference PDS (npm `@atproto/pds`) and a PocketPDS node, both on one local PLC directory and mailing
// through one real SMTP server (aiosmtpd): an account with records, blobs and preferences made on the
// reference moves to PocketPDS and back again. After each move every record, blob and preference is
// on the new host as it was, the DID document names the new host, and the old host reports the
// account deactivated. The PLC-operation code for leaving a host is read from the mail it sends.
//
// The account is small by default; E2E_MIGRATION_RECORDS / E2E_MIGRATION_BLOBS make it larger
// (e.g. 10000 / 50) to measure. The time of each move is printed.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { crc32, deflateSync } from 'node:zlib'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { spawnUntil, startNode, startPlc, stopChild } from '../lib/harness.mjs'
import { signingKeyFromPlc } from '../lib/identity.mjs'
import { codeOf, smtpAvailable, startSmtp } from '../lib/smtp.mjs'

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)))
const GOAT = process.env.GOAT_BIN || new URL('../../../shared/tools/goat', import.meta.url).pathname
const ADMIN_PASSWORD = 'migration admin password'
const RECORDS = Number(process.env.E2E_MIGRATION_RECORDS || 30)
const BLOBS = Number(process.env.E2E_MIGRATION_BLOBS || 3)
const run = promisify(execFile)

function goatAvailable() {
  if (existsSync(GOAT)) return true
  const message = `SKIP migration tests: goat not found at ${GOAT} (set GOAT_BIN)`
  if (process.env.CI) throw new Error(message)
  console.log(`!!!!! ${message}`)
  return false
}

/** A real PNG of random pixels (incompressible, so its size is about `rows` × 192 bytes). */
function randomPng(rows) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'ascii')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
    return Buffer.concat([head, data, crc])
  }
  const width = 64
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(rows, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  const pixels = Buffer.concat(
    Array.from({ length: rows }, () => Buffer.concat([Buffer.from([0]), randomBytes(width * 3)])),
  )
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

describe('an account moves between the reference PDS and PocketPDS with goat', {
  skip: !goatAvailable() || !smtpAvailable(),
}, () => {
  const stamp = Date.now().toString(36).slice(-6)
  const handle = `mig${stamp}.test`
  const email = `mig${stamp}@example.com`
  const password = 'migration password one'
  let smtp
  let plc
  let plcUrl
  let refDir
  let ref
  let refUrl
  let node
  let did
  // What the account held on the reference before it moved: records by URI, blob digests, preferences.
  const original = { records: new Map(), blobs: new Map(), preferences: null }

  const goat = async (home, ...args) => {
    const { stdout } = await run(GOAT, args, {
      env: { ...process.env, HOME: home, XDG_STATE_HOME: join(home, 'state') },
      maxBuffer: 64 << 20,
    })
    return stdout
  }

  async function startRef() {
    const child = spawnUntil(
      'reference PDS',
      process.execPath,
      [join(E2E_DIR, 'ref-pds-server.mjs'), refDir, plcUrl, smtp.url],
      { cwd: E2E_DIR, env: { ...process.env, PDS_ADMIN_PASSWORD: ADMIN_PASSWORD } },
      /^PDS_URL=(http:\/\/\S+)$/,
    )
    ref = child.child
    ;[, refUrl] = await child.ready
  }

  before(async () => {
    smtp = await startSmtp()
    const started = startPlc()
    plc = started.child
    ;[, plcUrl] = await started.ready
    refDir = await mkdtemp(join(tmpdir(), 'pocketpds-refpds-'))
    await startRef()
    node = await startNode({
      plcUrl,
      env: { PDS_EMAIL_SMTP_URL: smtp.url, PDS_EMAIL_FROM_ADDRESS: 'PocketPDS <noreply@pds.test>' },
    })
  })

  after(async () => {
    await node?.stop()
    await stopChild(ref)
    await stopChild(plc)
    await smtp?.stop()
    if (refDir) await rm(refDir, { recursive: true, force: true })
  })

  /** Everything the host at `url` serves of the account: records, blob digests, repo status. */
  async function contents(url) {
    const agent = new AtpAgent({ service: url })
    const records = new Map()
    const { data: repo } = await agent.com.atproto.repo.describeRepo({ repo: did })
    for (const collection of repo.collections) {
      let cursor
      do {
        const { data } = await agent.com.atproto.repo.listRecords({ repo: did, collection, limit: 100, cursor })
        for (const r of data.records) records.set(r.uri, { cid: r.cid, value: r.value })
        cursor = data.records.length ? data.cursor : undefined
      } while (cursor)
    }
    const blobs = new Map()
    let cursor
    do {
      const { data } = await agent.com.atproto.sync.listBlobs({ did, limit: 500, cursor })
      for (const cid of data.cids) {
        const res = await agent.com.atproto.sync.getBlob({ did, cid })
        blobs.set(cid, sha256(res.data))
      }
      cursor = data.cids.length ? data.cursor : undefined
    } while (cursor)
    return { records, blobs }
  }

  async function preferencesOn(url, pw) {
    const agent = new AtpAgent({ service: url })
    await agent.login({ identifier: did, password: pw })
    return (await agent.app.bsky.actor.getPreferences()).data.preferences
  }

  async function repoStatus(url) {
    const res = await fetch(`${url}/xrpc/com.atproto.sync.getRepoStatus?did=${encodeURIComponent(did)}`)
    assert.equal(res.status, 200, await res.clone().text())
    return res.json()
  }

  async function pdsInPlc() {
    const res = await fetch(`${plcUrl}/${encodeURIComponent(did)}/data`)
    assert.equal(res.status, 200)
    return (await res.json()).services.atproto_pds.endpoint
  }

  /** Logs goat in to `from`, has it mail a PLC code, and runs `goat account migrate` to `to`. */
  async function migrate({ from, fromPassword, to, toPassword }) {
    const home = await mkdtemp(join(tmpdir(), 'pocketpds-goat-'))
    try {
      await goat(home, 'account', 'login', '-u', did, '-p', fromPassword, '--pds-host', from)
      const sentBefore = (await smtp.messages()).length
      await goat(home, 'account', 'plc', 'request-token')
      const mail = await smtp.waitFor(
        (m, i) => i >= sentBefore && JSON.stringify(m).includes(email),
        'the PLC-operation code',
      )
      const started = performance.now()
      await goat(
        home, 'account', 'migrate', '--pds-host', to, '--new-handle', handle,
        '--new-password', toPassword, '--new-email', email, '--plc-token', codeOf(mail),
      )
      return performance.now() - started
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  }

  async function assertArrivedIntact(url, pw) {
    const { records, blobs } = await contents(url)
    assert.equal(records.size, original.records.size, 'every record arrived')
    for (const [uri, record] of original.records) {
      assert.deepEqual(records.get(uri), record, `record ${uri} arrived intact`)
    }
    assert.deepEqual(new Map([...blobs].sort()), new Map([...original.blobs].sort()), 'every blob arrived intact')
    assert.deepEqual(await preferencesOn(url, pw), original.preferences, 'the preferences arrived')
  }

  test('an account with records, blobs and preferences is made on the reference PDS', async () => {
    const agent = new AtpAgent({ service: refUrl })
    did = (await agent.createAccount({ handle, email, password })).data.did
    const images = []
    for (let i = 0; i < BLOBS; i++) {
      const { data } = await agent.com.atproto.repo.uploadBlob(randomPng(64 + (i % 5) * 200), {
        encoding: 'image/png',
      })
      images.push(data.blob)
    }
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
      record: { $type: 'app.bsky.actor.profile', displayName: 'Migrating', avatar: images[0] },
    })
    const now = Date.now()
    const writes = []
    for (let i = 0; i < RECORDS; i++) {
      const record = {
        $type: 'app.bsky.feed.post',
        text: `post ${i} of ${RECORDS}`,
        createdAt: new Date(now - (RECORDS - i) * 1000).toISOString(),
      }
      if (i < images.length) {
        record.embed = {
          $type: 'app.bsky.embed.images',
          images: [{ image: images[i], alt: `image ${i}` }],
        }
      }
      writes.push({ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', value: record })
    }
    for (let i = 0; i < writes.length; i += 200) {
      await agent.com.atproto.repo.applyWrites({ repo: did, writes: writes.slice(i, i + 200) })
    }
    original.preferences = [
      { $type: 'app.bsky.actor.defs#adultContentPref', enabled: false },
      {
        $type: 'app.bsky.actor.defs#savedFeedsPrefV2',
        items: [{ id: '3l6ovcmm2vd2j', type: 'timeline', value: 'following', pinned: true }],
      },
      { $type: 'app.bsky.actor.defs#threadViewPref', sort: 'oldest' },
    ]
    await agent.app.bsky.actor.putPreferences({ preferences: original.preferences })

    const made = await contents(refUrl)
    assert.equal(made.records.size, RECORDS + 1)
    assert.equal(made.blobs.size, BLOBS)
    original.records = made.records
    original.blobs = made.blobs
    assert.deepEqual(await preferencesOn(refUrl, password), original.preferences)
    assert.equal(await pdsInPlc(), refUrl)
  })

  test('goat moves it to PocketPDS: everything arrives, the DID names the node, the reference deactivates it', async () => {
    assert.ok(did, 'the account was made')
    const ms = await migrate({ from: refUrl, fromPassword: password, to: node.localUrl, toPassword: 'on pocketpds' })
    console.log(`migration of ${RECORDS + 1} records and ${BLOBS} blobs, reference PDS -> PocketPDS: ${Math.round(ms)} ms`)
    assert.equal(await pdsInPlc(), node.publicUrl)
    await assertArrivedIntact(node.localUrl, 'on pocketpds')
    const there = await repoStatus(node.localUrl)
    assert.equal(there.active, true)
    // The node signed a commit of its own on activation: its repository verifies against the DID
    // document at once (the reference keeps the imported commit, signed with the old key, until the
    // account's next write).
    const car = (await new AtpAgent({ service: node.localUrl }).com.atproto.sync.getRepo({ did })).data
    const verified = await verifyRepoCar(car, did, await signingKeyFromPlc(plcUrl, did))
    assert.equal(verified.creates.length, original.records.size)
    const left = await repoStatus(refUrl)
    assert.equal(left.active, false)
    assert.equal(left.status, 'deactivated')
  })

  test('goat moves it back to the reference PDS: everything arrives, the DID names it, PocketPDS deactivates it', async () => {
    assert.equal(await pdsInPlc(), node.publicUrl, 'the account is on PocketPDS')
    // The reference keeps the deactivated account (its handle, email and repository) and refuses to
    // create it again, so its operator deletes it first.
    await goat(
      refDir, 'pds', 'admin', '--pds-host', refUrl, '--admin-password', ADMIN_PASSWORD,
      'account', 'delete', did,
    )
    const ms = await migrate({ from: node.localUrl, fromPassword: 'on pocketpds', to: refUrl, toPassword: 'back home' })
    console.log(`migration of ${RECORDS + 1} records and ${BLOBS} blobs, PocketPDS -> reference PDS: ${Math.round(ms)} ms`)
    assert.equal(await pdsInPlc(), refUrl)
    await assertArrivedIntact(refUrl, 'back home')
    assert.equal((await repoStatus(refUrl)).active, true)
    const left = await repoStatus(node.localUrl)
    assert.equal(left.active, false)
    assert.equal(left.status, 'deactivated')
  })
})
