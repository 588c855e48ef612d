// Blobs through the official atproto client: images uploaded with `agent.uploadBlob`, a post that
// embeds them, `com.atproto.sync.getBlob` / `listBlobs` / `com.atproto.repo.listMissingBlobs`, the
// upload limit, another account's blob, and the blob going with the post that referenced it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { sha256 } from '@atproto/crypto'
import { startNode } from '../lib/harness.mjs'

// A small limit, so the refusal is quick to provoke; the node reads it from the environment.
const LIMIT = 300_000
process.env.PDS_BLOB_UPLOAD_LIMIT = String(LIMIT)

// A real 1×1 PNG.
const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
)

/** `len` bytes that start like a PNG: several 64 KiB chunks once stored. */
function pngLike(len) {
  return Buffer.concat([TINY_PNG.subarray(0, 8), randomBytes(len - 8)])
}

/** Asserts that `promise` fails with an XRPC error of that status and name. */
async function rejectsWith(promise, status, error) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.status, status, `${err.status} ${err.error}: ${err.message}`)
    assert.equal(err.error, error, err.message)
    return true
  })
}

describe('blobs through the official atproto client', () => {
  let env
  let alice
  let bob
  const password = 'correct horse battery staple'
  const stamp = Date.now().toString(36)
  const big = pngLike(200_000)
  let bigBlob
  let post

  before(async () => {
    env = await startNode()
    alice = new AtpAgent({ service: env.localUrl })
    await alice.createAccount({ handle: `alice${stamp}.test`, password, email: `alice${stamp}@example.com` })
    bob = new AtpAgent({ service: env.localUrl })
    await bob.createAccount({ handle: `bob${stamp}.test`, password, email: `bob${stamp}@example.com` })
  })

  after(async () => {
    await env?.stop()
  })

  test('uploadBlob answers a blob ref whose CID is the raw sha-256 of the bytes', async () => {
    const { data } = await alice.uploadBlob(big, { encoding: 'image/png' })
    bigBlob = data.blob
    assert.equal(bigBlob.mimeType, 'image/png')
    assert.equal(bigBlob.size, big.length)
    assert.equal(bigBlob.ref.code, 0x55, 'raw codec')
    assert.deepEqual(Buffer.from(bigBlob.ref.multihash.digest), Buffer.from(await sha256(big)))
  })

  test('a declared type that the content contradicts gives way to the real one', async () => {
    const { data } = await alice.uploadBlob(TINY_PNG, { encoding: 'image/jpeg' })
    assert.equal(data.blob.mimeType, 'image/png')
  })

  test('an upload over PDS_BLOB_UPLOAD_LIMIT is refused with 413', async () => {
    await rejectsWith(alice.uploadBlob(pngLike(LIMIT + 1), { encoding: 'image/png' }), 413, 'PayloadTooLarge')
  })

  test('a post embeds the images and getBlob serves them byte for byte', async () => {
    const small = (await alice.uploadBlob(TINY_PNG, { encoding: 'image/png' })).data.blob
    post = await alice.post({
      text: 'two pictures',
      embed: {
        $type: 'app.bsky.embed.images',
        images: [
          { alt: 'noise', image: bigBlob },
          { alt: 'a dot', image: small },
        ],
      },
    })
    const did = alice.session.did
    const { data: record } = await alice.com.atproto.repo.getRecord({
      repo: did,
      collection: 'app.bsky.feed.post',
      rkey: post.uri.split('/').pop(),
    })
    assert.equal(record.value.embed.images[0].image.ref.toString(), bigBlob.ref.toString())

    const got = await alice.com.atproto.sync.getBlob({ did, cid: bigBlob.ref.toString() })
    assert.deepEqual(Buffer.from(got.data), big)
    assert.equal(got.headers['content-type'], 'image/png')
    assert.equal(got.headers['x-content-type-options'], 'nosniff')
    assert.match(got.headers['content-security-policy'], /sandbox/)
    assert.match(got.headers['content-disposition'], /^attachment;/)
    const dot = await bob.com.atproto.sync.getBlob({ did, cid: small.ref.toString() })
    assert.deepEqual(Buffer.from(dot.data), TINY_PNG)

    const { data: listed } = await alice.com.atproto.sync.listBlobs({ did })
    assert.deepEqual([...listed.cids].sort(), [bigBlob.ref.toString(), small.ref.toString()].sort())
    const { data: page } = await alice.com.atproto.sync.listBlobs({ did, limit: 1 })
    assert.equal(page.cids.length, 1)
    const { data: rest } = await alice.com.atproto.sync.listBlobs({ did, limit: 1, cursor: page.cursor })
    assert.equal(rest.cids.length, 1)
    assert.notEqual(rest.cids[0], page.cids[0])
    const { data: missing } = await alice.com.atproto.repo.listMissingBlobs()
    assert.deepEqual(missing.blobs, [])
  })

  test("a post cannot embed another account's blob", async () => {
    const { data } = await bob.uploadBlob(pngLike(1000), { encoding: 'image/png' })
    await rejectsWith(
      alice.post({ text: 'not mine', embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: data.blob }] } }),
      400,
      'BlobNotFound',
    )
  })

  test('deleting the post deletes the blobs only it referenced', async () => {
    const did = alice.session.did
    await alice.deletePost(post.uri)
    await rejectsWith(alice.com.atproto.sync.getBlob({ did, cid: bigBlob.ref.toString() }), 400, 'InvalidRequest')
    const { data: listed } = await alice.com.atproto.sync.listBlobs({ did })
    assert.deepEqual(listed.cids, [])
  })
})
