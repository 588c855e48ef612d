// Login throttling behind a real load balancer: two nodes share one database behind nginx doing
// round robin, so failed passwords sent through it land on both nodes — and are counted once, in
// the database. Past the account's limit both nodes answer 429 RateLimitExceeded with the
// RateLimit-* headers; once the window ends the right password works again.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startCluster } from '../lib/cluster.mjs'

const WINDOW_SECONDS = 8
const PER_ACCOUNT = 5

describe('login throttling across a cluster behind nginx', () => {
  let cluster
  const handle = `throttle${Date.now().toString(36)}.test`
  const password = 'throttle e2e password'

  before(async () => {
    cluster = await startCluster({
      env: {
        PDS_LOGIN_WINDOW_SECONDS: String(WINDOW_SECONDS),
        PDS_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(PER_ACCOUNT),
      },
    })
    await new AtpAgent({ service: cluster.lbUrl }).createAccount({ handle, password })
  })

  after(async () => {
    await cluster?.stop()
  })

  test('round-robin does not multiply the allowance, and the window ends', async () => {
    const attempt = async (pw) => {
      const res = await fetch(`${cluster.lbUrl}/xrpc/com.atproto.server.createSession`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identifier: handle, password: pw }),
      })
      return { status: res.status, upstream: res.headers.get('x-upstream'), headers: res.headers, body: await res.json() }
    }
    const results = []
    for (let i = 0; i < 20; i++) results.push(await attempt(`wrong ${i}`))
    const upstreams = new Set(results.map((r) => r.upstream))
    assert.equal(upstreams.size, 2, 'both nodes answered')
    assert.equal(results.filter((r) => r.status === 401).length, PER_ACCOUNT)
    const refused = results.filter((r) => r.status === 429)
    assert.equal(refused.length, 20 - PER_ACCOUNT)
    assert.equal(new Set(refused.map((r) => r.upstream)).size, 2, 'both nodes refuse')
    const last = refused[refused.length - 1]
    assert.equal(last.body.error, 'RateLimitExceeded')
    assert.equal(last.headers.get('ratelimit-limit'), String(PER_ACCOUNT))
    assert.equal(last.headers.get('ratelimit-remaining'), '0')
    assert.equal(last.headers.get('ratelimit-policy'), `${PER_ACCOUNT};w=${WINDOW_SECONDS}`)
    assert.equal((await attempt(password)).status, 429, 'the right password waits for the window too')
    const reset = Number(last.headers.get('ratelimit-reset'))
    await new Promise((r) => setTimeout(r, Math.max(0, reset * 1000 - Date.now()) + 500))
    const ok = await attempt(password)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
  })
})
