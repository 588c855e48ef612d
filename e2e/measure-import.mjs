// Measures `pocketpds account import` of a large account: peak RSS and wall time.
//
//   POCKETPDS_BIN=... node e2e/measure-import.mjs <work dir> [records] [blobs] [other pocketpds binaries...]
//
// Builds an account with `records` posts (default 10,000) and `blobs` blobs of 20 kB (default 50)
// on one node (the local PLC directory), exports it with `pocketpds account export`, creates the
// account moving in on a second database, and runs `/usr/bin/time -v pocketpds account import`
// with POCKETPDS_BIN and each further binary given, on a fresh copy of that database each time.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startPlc, startNode } from './lib/harness.mjs'

const [work, records = '10000', blobs = '50', ...others] = process.argv.slice(2)
const bin = process.env.POCKETPDS_BIN
rmSync(work, { recursive: true, force: true })
mkdirSync(work, { recursive: true })
const plc = startPlc()
const [, plcUrl] = await plc.ready

async function call(base, method, nsid, { token, body, type, query } = {}) {
  const url = `${base}/xrpc/${nsid}${query ? `?${new URLSearchParams(query)}` : ''}`
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = type ?? 'application/json'
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : type ? body : JSON.stringify(body),
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`${nsid}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : {}
}

const a = await startNode({ plcUrl, env: { PDS_DATA_DIRECTORY: join(work, 'a') } })
const acct = await call(a.localUrl, 'POST', 'com.atproto.server.createAccount', {
  body: { handle: 'bulk.test', password: 'hunter2hunter2' },
})
const { did, accessJwt: token } = acct
const refs = []
for (let i = 0; i < Number(blobs); i++) {
  const up = await call(a.localUrl, 'POST', 'com.atproto.repo.uploadBlob', {
    token,
    body: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]), randomBytes(20000)]),
    type: 'image/jpeg',
  })
  refs.push(up.blob)
}
for (let i = 0; i < Number(records); i += 200) {
  const writes = []
  for (let j = i; j < Math.min(i + 200, Number(records)); j++) {
    const value = {
      $type: 'app.bsky.feed.post',
      text: `post number ${j} with some text to make it look like a post`,
      createdAt: new Date(1700000000000 + j * 1000).toISOString(),
    }
    if (j < refs.length) {
      value.embed = { $type: 'app.bsky.embed.images', images: [{ alt: '', image: refs[j] }] }
    }
    writes.push({ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', value })
  }
  await call(a.localUrl, 'POST', 'com.atproto.repo.applyWrites', { token, body: { repo: did, writes } })
}
const { token: serviceToken } = await call(a.localUrl, 'GET', 'com.atproto.server.getServiceAuth', {
  token,
  query: { aud: 'did:web:localhost', lxm: 'com.atproto.server.createAccount' },
})
await a.stop()
const env = { ...process.env, PDS_DEV_MODE: 'true', PDS_DID_PLC_URL: plcUrl, PDS_LOG_LEVEL: 'warn' }
const exported = spawnSync(bin, ['account', 'export', '--did', did, '--out', join(work, 'folder')], {
  env: { ...env, PDS_DATA_DIRECTORY: join(work, 'a') },
  encoding: 'utf8',
})
if (exported.status !== 0) throw new Error(exported.stderr)
const b = await startNode({ plcUrl, env: { PDS_DATA_DIRECTORY: join(work, 'b') } })
await call(b.localUrl, 'POST', 'com.atproto.server.createAccount', {
  token: serviceToken,
  body: { did, handle: 'bulk.test', password: 'hunter2hunter2' },
})
await b.stop()
for (const [i, binary] of [bin, ...others].entries()) {
  const dir = join(work, `b${i}`)
  cpSync(join(work, 'b'), dir, { recursive: true })
  const run = spawnSync(
    '/usr/bin/time',
    ['-v', binary, 'account', 'import', '--did', did, '--from', join(work, 'folder')],
    { env: { ...env, PDS_DATA_DIRECTORY: dir }, encoding: 'utf8' },
  )
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1]
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(run.stderr)?.[1]
  console.log(`${binary}: exit ${run.status}, peak RSS ${rss} kB, wall ${wall}`)
  console.log(run.stdout.trim())
  if (run.status !== 0) console.log(run.stderr)
}
plc.child.kill()
