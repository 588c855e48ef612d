// Permission sets (`include:<nsid>?aud=…`) end to end. The official OAuth client
// (`@atproto/oauth-client-node`) asks for a set; the node resolves it at PAR time by Lexicon
// resolution through real parts: a real DNS server (dnsmasq on a loopback port) holds
// `_lexicon.<authority>` TXT records naming a DID; the DID's document comes from the PLC directory;
// the set's `com.atproto.lexicon.schema` record lives in that account's repository on our own node
// on loopback (written with @atproto/api putRecord; PDS_DEV_MODE lets the node fetch from
// loopback). The consent page shows the set's title and detail (in the browser's language when
// the set has it); the granted token writes the collections the set names and gets 403
// ScopeMissingError for others. Hostile: a set naming another namespace, a missing record, a
// record that is not a permission set — each refused with invalid_scope at PAR. Prints the median
// latency of a PAR resolving an uncached set, of one whose set is cached, and of one without a set.
//
// The DNS records name a DID the node creates, so the DNS port is reserved first, the node started
// pointing at it, the records written, and dnsmasq started on that port last.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Agent, AtpAgent } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'
import { dnsmasqPath, freePort, startDnsmasq } from '../lib/dnsmasq.mjs'
import { callbackServer, launchChromium, oauthClient } from '../lib/oauth.mjs'

const PASSWORD = 'correct horse battery staple'
const SCHEMA = 'com.atproto.lexicon.schema'
const AUD = 'did:web:api.pocket.example.com#pocket'
const BASIC = 'com.example.pocket.basic'
const NOTE = 'com.example.pocket.note'
const TAG = 'com.example.pocket.tag'
const SECRET = 'com.example.pocket.secret'
const include = (nsid, aud = AUD) => `include:${nsid}${aud ? `?aud=${encodeURIComponent(aud)}` : ''}`
/** Sets in their own authorities, each resolved once, for the latency figures. */
const BENCH = Array.from({ length: 7 }, (_, i) => `com.example.bench${i}.set`)

/** A Lexicon document of a permission set `id` holding `permissions`. */
function permissionSet(id, permissions, extra = {}) {
  return { $type: SCHEMA, lexicon: 1, id, defs: { main: { type: 'permission-set', permissions, ...extra } } }
}

const SETS = {
  [BASIC]: permissionSet(
    BASIC,
    [
      { type: 'permission', resource: 'repo', collection: [NOTE, TAG] },
      { type: 'permission', resource: 'rpc', lxm: ['com.example.pocket.getNotes'], inheritAud: true },
    ],
    {
      title: 'Pocket notes',
      'title:lang': { fr: 'Notes de poche' },
      detail: 'Write your notes and tags',
      'detail:lang': { fr: 'Écrire vos notes et étiquettes' },
    },
  ),
  // Names a collection of another namespace: a set may only grant its own.
  'com.example.pocket.greedy': permissionSet('com.example.pocket.greedy', [
    { type: 'permission', resource: 'repo', collection: [NOTE, 'app.bsky.feed.post'] },
  ]),
  // A Lexicon record, but of a record type, not a permission set.
  'com.example.pocket.notaset': {
    $type: SCHEMA,
    lexicon: 1,
    id: 'com.example.pocket.notaset',
    defs: { main: { type: 'record', key: 'tid', record: { type: 'object', properties: {} } } },
  },
  ...Object.fromEntries(
    BENCH.map((nsid) => [
      nsid,
      permissionSet(nsid, [{ type: 'permission', resource: 'repo', collection: [nsid.replace(/\.set$/, '.thing')] }]),
    ]),
  ),
}

const missing = dnsmasqPath() === null
const missingMessage =
  'DNSMASQ MISSING: the permission set test needs dnsmasq (apt-get install dnsmasq-base, as test.sh does)'
if (missing) {
  if (process.env.CI) throw new Error(missingMessage)
  console.error(`!!!!! ${missingMessage}; skipping`)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

describe('permission sets resolved through DNS, the PLC directory and a Lexicon record', () => {
  let env
  let dns
  let browser
  let callback
  const publisher = { handle: `lexicons${Date.now().toString(36).slice(-5)}.test` }
  const user = { handle: `pat${Date.now().toString(36).slice(-5)}.test` }

  before(async () => {
    if (missing) return
    const dnsPort = await freePort()
    env = await startNode({ env: { PDS_DNS_RESOLVER: `127.0.0.1:${dnsPort}` } })
    for (const who of [publisher, user]) {
      who.agent = new AtpAgent({ service: env.localUrl })
      const { data } = await who.agent.createAccount({
        handle: who.handle,
        password: PASSWORD,
        email: `${who.handle}@example.com`,
      })
      who.did = data.did
    }
    for (const [nsid, record] of Object.entries(SETS)) {
      await publisher.agent.com.atproto.repo.putRecord({
        repo: publisher.did,
        collection: SCHEMA,
        rkey: nsid,
        record,
      })
    }
    // Every set's authority names the publisher; `com.example.pocket.missing` has no record.
    const authorities = ['pocket.example.com', ...BENCH.map((nsid) => nsid.split('.').slice(0, -1).reverse().join('.'))]
    dns = await startDnsmasq(
      authorities.map((a) => [`_lexicon.${a}`, `did=${publisher.did}`]),
      { port: dnsPort },
    )
    browser = await launchChromium()
    callback = await callbackServer()
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await env?.stop()
    await dns?.stop()
  })

  const clientFor = (scope) =>
    oauthClient({ plcUrl: env.plcUrl, handleResolver: env.localUrl, redirectUri: callback.uri, scope })

  test('the DNS server names the publisher and the set is in its repository', async (t) => {
    if (missing) return t.skip(missingMessage)
    assert.deepEqual(await dns.resolver.resolveTxt('_lexicon.pocket.example.com'), [[`did=${publisher.did}`]])
    const { data } = await publisher.agent.com.atproto.repo.getRecord({ repo: publisher.did, collection: SCHEMA, rkey: BASIC })
    assert.equal(data.value.defs.main.type, 'permission-set')
  })

  test('the official client is granted a set: consent shows it, the token writes what it names and no more', async (t) => {
    if (missing) return t.skip(missingMessage)
    const scope = `atproto ${include(BASIC)}`
    const client = clientFor(scope)
    const url = await client.authorize(user.handle, { scope })
    // A French browser gets the French title.
    const context = await browser.newContext({ locale: 'fr-FR' })
    const page = await context.newPage()
    try {
      assert.equal((await page.goto(url.href)).status(), 200)
      await page.fill('#password', PASSWORD)
      await Promise.all([page.waitForURL(/\/oauth\/authorize\?/), page.click('#signin')])
      assert.equal(await page.locator('h1').textContent(), 'Allow access?')
      const lines = await page.locator('#scopes li').evaluateAll((lis) =>
        lis.map((li) => ({
          scope: li.dataset.scope,
          title: li.querySelector('.title').textContent,
          detail: li.querySelector('.detail')?.textContent,
        })),
      )
      assert.deepEqual(lines.map((l) => l.scope), ['atproto', include(BASIC)])
      assert.equal(lines[1].title, 'Notes de poche')
      assert.equal(lines[1].detail, 'Écrire vos notes et étiquettes')
      const [cb] = await Promise.all([callback.next(), page.click('#allow')])
      assert.equal(cb.searchParams.get('error'), null, cb.searchParams.get('error_description') ?? '')
      const { session } = await client.callback(cb.searchParams)
      assert.equal(session.did, user.did)

      const granted = (await session.getTokenInfo()).scope.split(' ')
      assert.deepEqual(granted, [
        'atproto',
        `repo?collection=${NOTE}&collection=${TAG}`,
        `rpc:com.example.pocket.getNotes?aud=${encodeURIComponent(AUD)}`,
      ])

      const agent = new Agent(session)
      for (const collection of [NOTE, TAG]) {
        const { data } = await agent.com.atproto.repo.createRecord({
          repo: session.did,
          collection,
          record: { $type: collection, text: 'granted through a permission set', createdAt: new Date().toISOString() },
        })
        assert.match(data.uri, new RegExp(`/${collection}/`))
      }
      for (const collection of [SECRET, 'app.bsky.feed.post']) {
        await assert.rejects(
          agent.com.atproto.repo.createRecord({
            repo: session.did,
            collection,
            record: { $type: collection, text: 'not granted', createdAt: new Date().toISOString() },
          }),
          (err) => {
            assert.equal(err.status, 403, collection)
            assert.equal(err.error, 'ScopeMissingError', collection)
            return true
          },
        )
      }
      const listed = await user.agent.com.atproto.repo.listRecords({ repo: user.did, collection: SECRET })
      assert.equal(listed.data.records.length, 0, 'nothing was written where the set grants nothing')
    } finally {
      await context.close()
    }
  })

  for (const [name, nsid, why] of [
    ['a set naming another namespace', 'com.example.pocket.greedy', /outside the set's namespace/],
    ['a set without a Lexicon record', 'com.example.pocket.missing', /no Lexicon record/],
    ['a Lexicon record that is not a permission set', 'com.example.pocket.notaset', /not a permission-set/],
    ['a set whose authority has no _lexicon record', 'org.example.nowhere.set', /DNS lookup|no did= TXT record/],
  ]) {
    test(`hostile: ${name} is refused at PAR with invalid_scope`, async (t) => {
      if (missing) return t.skip(missingMessage)
      const scope = `atproto ${include(nsid)}`
      await assert.rejects(clientFor(scope).authorize(user.handle, { scope }), (err) => {
        assert.equal(err.error, 'invalid_scope', String(err))
        assert.match(err.errorDescription, new RegExp(nsid.replaceAll('.', '\\.')))
        assert.match(err.errorDescription, why)
        return true
      })
    })
  }

  test('latency: a PAR resolving an uncached set, a cached one, and one without a set', async (t) => {
    if (missing) return t.skip(missingMessage)
    /** One PAR straight to the node (a loopback client needs no client authentication). */
    async function par(scope) {
      const clientId = `http://localhost?${new URLSearchParams({ redirect_uri: callback.uri, scope })}`
      const verifier = randomBytes(32).toString('base64url')
      const body = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: callback.uri,
        scope,
        state: randomBytes(8).toString('hex'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      })
      const started = performance.now()
      const res = await fetch(`${env.localUrl}/oauth/par`, { method: 'POST', body })
      const ms = performance.now() - started
      assert.equal(res.status, 201, await res.text())
      return ms
    }
    const plain = []
    const uncached = []
    const cached = []
    await par('atproto') // The connection and the client's metadata, once.
    for (const nsid of BENCH) {
      uncached.push(await par(`atproto ${include(nsid, null)}`))
      cached.push(await par(`atproto ${include(nsid, null)}`))
      plain.push(await par('atproto'))
    }
    const [p, u, c] = [median(plain), median(uncached), median(cached)]
    console.log(
      `PAR latency (median of ${BENCH.length}): without a set ${p.toFixed(1)} ms, ` +
        `uncached set ${u.toFixed(1)} ms, cached set ${c.toFixed(1)} ms; ` +
        `resolving adds ${(u - c).toFixed(1)} ms over the cached set`,
    )
  })
})
