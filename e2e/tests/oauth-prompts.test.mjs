// Every `prompt` value, remembered sign-in, the account chooser and remembered consent, driven in
// Debian's Chromium through two nodes behind nginx's round robin, with the official OAuth client
// (`@atproto/oauth-client-node`) pushing each request and exchanging each code. One browser context
// plays one phone's browser; a browser remembered through one node is remembered by the other (the
// device rows live in the shared database), which the test checks by opening requests on each node
// directly. Hostile: `prompt=none` for a client never consented to, and a device cookie replayed
// after its rotation from another client address.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startCluster } from '../lib/cluster.mjs'
import { SCOPE, callbackServer, launchChromium, oauthClient } from '../lib/oauth.mjs'

const PASSWORD = 'correct horse battery staple'
// Screenshots of the pages, kept as test artefacts (git ignores the folder).
const SHOTS = join(dirname(dirname(fileURLToPath(import.meta.url))), 'artifacts', 'oauth-pages')

describe('prompt, remembered devices, the account chooser and remembered consent', () => {
  let cluster
  let browser
  let context
  let page
  let callback
  let client
  let otherClient
  const suffix = Date.now().toString(36).slice(-5)
  const alice = { handle: `alice${suffix}.test` }
  const bob = { handle: `bob${suffix}.test` }

  before(async () => {
    cluster = await startCluster()
    browser = await launchChromium()
    context = await browser.newContext()
    page = await context.newPage()
    callback = await callbackServer()
    for (const who of [alice, bob]) {
      who.agent = new AtpAgent({ service: cluster.lbUrl })
      const { data } = await who.agent.createAccount({
        handle: who.handle,
        password: PASSWORD,
        email: `${who.handle}@example.com`,
      })
      who.did = data.did
    }
    const common = { plcUrl: cluster.plcUrl, handleResolver: cluster.lbUrl, redirectUri: callback.uri }
    client = oauthClient(common)
    // Another client (a loopback client id names its scope): nobody ever consents to it.
    otherClient = oauthClient({ ...common, scope: 'atproto transition:chat.bsky' })
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await cluster?.stop()
  })

  /** PAR through the client; `who` is an account (login hint) or null (no hint). */
  async function authorizeUrl(who, prompt, c = client, scope = SCOPE) {
    const input = who ? who.handle : cluster.lbUrl
    return c.authorize(input, { scope, ...(prompt ? { prompt } : {}) })
  }

  /** Opens `url` (on node `node` directly when given) and returns the callback it ends at. */
  async function expectCallback(url, node) {
    const target = node === undefined ? url : new URL(url.pathname + url.search, cluster.nodes[node].url)
    const [cb] = await Promise.all([callback.next(), page.goto(target.href)])
    return cb.searchParams
  }

  /** Opens `url` and expects a page (not a redirect); returns the step's heading. */
  async function expectPage(url) {
    const response = await page.goto(url.href)
    assert.equal(response.status(), 200, await page.content())
    return page.locator('h1').textContent()
  }

  async function signIn(who, remember) {
    await page.fill('#identifier', who.handle)
    await page.fill('#password', PASSWORD)
    if (remember) await page.check('#remember')
    await Promise.all([page.waitForURL(/\/oauth\/authorize\?/), page.click('#signin')])
  }

  async function allow() {
    const [cb] = await Promise.all([callback.next(), page.click('#allow')])
    return cb.searchParams
  }

  async function exchange(params, who) {
    assert.equal(params.get('error'), null, params.get('error_description') ?? '')
    const { session } = await client.callback(params)
    assert.equal(session.did, who.did)
  }

  /** Screenshots of the current page at phone and desktop width, light and dark. */
  async function shoot(name) {
    mkdirSync(SHOTS, { recursive: true })
    for (const width of [390, 1280]) {
      for (const colorScheme of ['light', 'dark']) {
        await page.setViewportSize({ width, height: 900 })
        await page.emulateMedia({ colorScheme })
        await page.screenshot({ path: join(SHOTS, `${name}-${width}-${colorScheme}.png`), fullPage: true })
      }
    }
    await page.emulateMedia({ colorScheme: 'light' })
    // Nothing overflows sideways at phone width.
    await page.setViewportSize({ width: 390, height: 900 })
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 0, `${name} is ${overflow}px wider than a 390px screen`)
    // Every visible control has a label (or is a button with text).
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden])')].filter((i) => i.labels.length === 0).map((i) => i.id),
    )
    assert.deepEqual(unlabelled, [], `${name}: inputs without a label`)
  }

  async function deviceCookie() {
    return (await context.cookies()).find((c) => c.name === 'pocketpds-device')
  }

  test('prompt=none before anyone signed in: login_required at once', async () => {
    const params = await expectCallback(await authorizeUrl(alice, 'none'))
    assert.equal(params.get('error'), 'login_required')
    assert.equal(params.get('iss'), cluster.lbUrl)
  })

  test('prompt=login: sign in with "stay signed in", consent, and a code', async () => {
    assert.equal(await expectPage(await authorizeUrl(alice, 'login')), 'Sign in')
    assert.equal(await page.locator('#identifier').inputValue(), alice.handle)
    assert.equal(await page.locator('label[for=remember]').textContent(), 'Stay signed in on this device')
    await shoot('sign-in')
    await signIn(alice, true)
    assert.equal(await page.locator('h1').textContent(), 'Allow access?')
    await shoot('consent')
    assert.match(await page.locator('#account').textContent(), new RegExp(`@${alice.handle}`))
    assert.deepEqual(
      await page.locator('#scopes li').evaluateAll((lis) => lis.map((li) => li.dataset.scope)),
      SCOPE.split(' '),
    )
    await exchange(await allow(), alice)
    const cookie = await deviceCookie()
    assert.ok(cookie, 'a device cookie is set')
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.sameSite, 'Lax')
    assert.equal(cookie.path, '/oauth')
    // The public URL is http here, so the cookie is not Secure (it is with an https public URL).
    assert.equal(cookie.secure, false)
  })

  test('remembered sign-in and consent are recognised on either node: a code without a page', async () => {
    for (const node of [0, 1]) {
      const params = await expectCallback(await authorizeUrl(alice), node)
      await exchange(params, alice)
    }
  })

  test('prompt=none with a remembered account and consent: a code at once', async () => {
    await exchange(await expectCallback(await authorizeUrl(alice, 'none')), alice)
  })

  test('prompt=consent asks again, without asking to sign in', async () => {
    assert.equal(await expectPage(await authorizeUrl(alice, 'consent')), 'Allow access?')
    await exchange(await allow(), alice)
  })

  test('prompt=none for a client never consented to: consent_required', async () => {
    const params = await expectCallback(await authorizeUrl(alice, 'none', otherClient, 'atproto transition:chat.bsky'))
    assert.equal(params.get('error'), 'consent_required')
    assert.equal(params.get('code'), null)
  })

  let beforeRotation
  test('a second account signs in on the same browser; the device secret rotates', async () => {
    beforeRotation = await deviceCookie()
    assert.equal(await expectPage(await authorizeUrl(bob, 'login')), 'Sign in')
    await signIn(bob, true)
    await exchange(await allow(), bob)
    const after = await deviceCookie()
    assert.equal(after.value.split('.')[0], beforeRotation.value.split('.')[0], 'same device')
    assert.notEqual(after.value, beforeRotation.value, 'new secret')
  })

  test('without a hint, the chooser offers both remembered accounts', async () => {
    assert.equal(await expectPage(await authorizeUrl(null)), 'Choose an account')
    const offered = await page.locator('#accounts button').evaluateAll((bs) => bs.map((b) => b.dataset.did))
    assert.deepEqual(new Set(offered), new Set([alice.did, bob.did]))
    await shoot('chooser')
    // Bob consented before: choosing him gives a code at once.
    const [cb] = await Promise.all([callback.next(), page.click(`button[data-did="${bob.did}"]`)])
    await exchange(cb.searchParams, bob)
  })

  test('prompt=select_account shows the chooser even with a hint', async () => {
    assert.equal(await expectPage(await authorizeUrl(alice, 'select_account')), 'Choose an account')
    const [cb] = await Promise.all([callback.next(), page.click(`button[data-did="${alice.did}"]`)])
    await exchange(cb.searchParams, alice)
  })

  test('prompt=none with two accounts and no hint: account_selection_required', async () => {
    const params = await expectCallback(await authorizeUrl(null, 'none'))
    assert.equal(params.get('error'), 'account_selection_required')
  })

  test('prompt=create shows the sign-up form', async () => {
    assert.equal(await expectPage(await authorizeUrl(null, 'create')), 'Create an account')
    await shoot('sign-up')
    for (const id of ['#handle', '#email', '#new-password', '#invite-code', '#remember']) {
      assert.equal(await page.locator(id).count(), 1, id)
    }
  })

  test('the owner lists the remembered browser and signs it out', async () => {
    const headers = { authorization: `Bearer ${alice.agent.session.accessJwt}` }
    const listed = await (await fetch(`${cluster.lbUrl}/xrpc/dev.pocketpds.oauth.listSessions`, { headers })).json()
    assert.equal(listed.devices.length, 1)
    const [device] = listed.devices
    assert.match(device.userAgent, /Chrome/)
    assert.equal(device.ipAddress, '127.0.0.1')
    const res = await fetch(`${cluster.lbUrl}/xrpc/dev.pocketpds.oauth.revokeSession`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ id: device.id }),
    })
    assert.equal(res.status, 200)
    const params = await expectCallback(await authorizeUrl(alice, 'none'))
    assert.equal(params.get('error'), 'login_required')
    // Bob stays signed in on that browser.
    await exchange(await expectCallback(await authorizeUrl(bob, 'none')), bob)
  })

  test('hostile: the device cookie from before the rotation, replayed from another address', async () => {
    const url = await authorizeUrl(bob, 'none')
    const lb = new URL(cluster.lbUrl)
    const answer = await new Promise((resolve, reject) => {
      const req = request(
        {
          host: lb.hostname,
          port: lb.port,
          path: url.pathname + url.search,
          localAddress: '127.0.0.2',
          headers: { cookie: `pocketpds-device=${beforeRotation.value}` },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res))
        },
      )
      req.on('error', reject)
      req.end()
    })
    assert.equal(answer.statusCode, 303)
    const location = new URL(answer.headers.location)
    assert.equal(location.searchParams.get('error'), 'login_required', 'the replayed cookie signs nobody in')
    assert.equal(location.searchParams.get('code'), null)
    // The replay revealed a copied cookie: the device is forgotten, for its owner too.
    const params = await expectCallback(await authorizeUrl(bob, 'none'))
    assert.equal(params.get('error'), 'login_required')
  })
})
