// Sign-up from the authorization page, driven in Debian's Chromium: `prompt=create` (and the link on
// the sign-in page) shows the form; submitting it creates the account as createAccount does, signs
// it in on the browser and goes straight to consent; the official OAuth client
// (`@atproto/oauth-client-node`) exchanges the code and the token writes a record. Through two
// nodes behind nginx's round robin (the request is pushed through one, the form posted through
// whichever nginx picks). Hostile: a taken handle, and a node requiring an invite code sent a form
// without one (the browser's own `required` check bypassed) or with an unknown one: the form again
// with a clear message, and nothing created — no handle, no account, the email still free.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Agent, AtpAgent } from '@atproto/api'
import { startCluster } from '../lib/cluster.mjs'
import { startNode } from '../lib/harness.mjs'
import { SCOPE, callbackServer, launchChromium, oauthClient } from '../lib/oauth.mjs'

const PASSWORD = 'correct horse battery staple'
const POST = 'app.bsky.feed.post'
const suffix = Date.now().toString(36).slice(-5)

/** Whether `handle` resolves on `service`; its DID or null. */
async function resolves(service, handle) {
  const res = await fetch(`${service}/xrpc/com.atproto.identity.resolveHandle?handle=${handle}`)
  return res.ok ? (await res.json()).did : null
}

/** Fills the sign-up form on `page`; `handle` may be a name alone. */
async function fillSignUp(page, { handle, email, invite }) {
  await page.fill('#handle', handle)
  await page.fill('#email', email)
  await page.fill('#new-password', PASSWORD)
  if (invite !== undefined) await page.fill('#invite-code', invite)
}

/** Submits the sign-up form and returns the status of the POST (303 when it goes on to consent). */
async function submitSignUp(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/oauth/authorize'),
    page.click('#signup'),
  ])
  await page.waitForLoadState()
  return response.status()
}

describe('sign-up from the authorization page', () => {
  let cluster
  let browser
  let context
  let page
  let callback
  let client
  const taken = { handle: `taken${suffix}.test` }

  before(async () => {
    cluster = await startCluster()
    browser = await launchChromium()
    context = await browser.newContext()
    page = await context.newPage()
    callback = await callbackServer()
    client = oauthClient({ plcUrl: cluster.plcUrl, handleResolver: cluster.lbUrl, redirectUri: callback.uri })
    const agent = new AtpAgent({ service: cluster.lbUrl })
    const { data } = await agent.createAccount({
      handle: taken.handle,
      password: PASSWORD,
      email: `${taken.handle}@example.com`,
    })
    taken.did = data.did
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await cluster?.stop()
  })

  /** Allows on the consent page and exchanges the code; returns the OAuth session. */
  async function allowAndExchange() {
    const [cb] = await Promise.all([callback.next(), page.click('#allow')])
    assert.equal(cb.searchParams.get('error'), null, cb.searchParams.get('error_description') ?? '')
    const { session } = await client.callback(cb.searchParams)
    return session
  }

  test('prompt=create: sign up, consent at once, and the token writes', async () => {
    const url = await client.authorize(cluster.lbUrl, { scope: SCOPE, prompt: 'create' })
    const response = await page.goto(url.href)
    assert.equal(response.status(), 200)
    assert.equal(await page.locator('h1').textContent(), 'Create an account')
    const name = `carol${suffix}`
    const handle = `${name}.test`
    // A name alone gets the service domain.
    await fillSignUp(page, { handle: name, email: `${handle}@example.com` })
    await page.check('#remember')
    assert.equal(await submitSignUp(page), 303, 'created: back to the page')
    assert.equal(await page.locator('h1').textContent(), 'Allow access?', await page.content())
    assert.match(await page.locator('#account').textContent(), new RegExp(`@${handle}`))
    const session = await allowAndExchange()
    assert.equal(await resolves(cluster.lbUrl, handle), session.did, 'the new handle names the new account')

    const agent = new Agent(session)
    const created = await agent.com.atproto.repo.createRecord({
      repo: session.did,
      collection: POST,
      record: { $type: POST, text: 'my first post, from an app I signed up in', createdAt: new Date().toISOString() },
    })
    const rkey = created.data.uri.split('/').pop()
    const read = await new AtpAgent({ service: cluster.lbUrl }).com.atproto.repo.getRecord({
      repo: handle,
      collection: POST,
      rkey,
    })
    assert.equal(read.data.value.text, 'my first post, from an app I signed up in')

    // The password typed on the form is the account's password.
    const legacy = new AtpAgent({ service: cluster.lbUrl })
    await legacy.login({ identifier: handle, password: PASSWORD })
    assert.equal(legacy.session.did, session.did)

    // "Stay signed in" was ticked: the next request of this client is answered at once.
    const again = await client.authorize(handle, { scope: SCOPE, prompt: 'none' })
    const [cb] = await Promise.all([callback.next(), page.goto(again.href)])
    assert.equal(cb.searchParams.get('error'), null, cb.searchParams.get('error_description') ?? '')
    assert.equal((await client.callback(cb.searchParams)).session.did, session.did)
  })

  test('hostile: a taken handle shows the form again and takes nothing; another handle then works', async () => {
    const url = await client.authorize(cluster.lbUrl, { scope: SCOPE, prompt: 'login' })
    await page.goto(url.href)
    assert.equal(await page.locator('h1').textContent(), 'Sign in')
    // The link on the sign-in page leads to the form.
    await Promise.all([page.waitForURL(/view=signup/), page.click('#create-account')])
    assert.equal(await page.locator('h1').textContent(), 'Create an account')

    const email = `dave${suffix}@example.com`
    await fillSignUp(page, { handle: taken.handle, email })
    assert.equal(await submitSignUp(page), 400)
    assert.equal(await page.locator('h1').textContent(), 'Create an account')
    assert.equal(
      await page.locator('#error').textContent(),
      `The handle ${taken.handle} is already taken: choose another`,
    )
    assert.equal(await page.locator('#handle').inputValue(), taken.handle, 'what was typed stays')
    assert.equal(await page.locator('#email').inputValue(), email)
    assert.equal(await resolves(cluster.lbUrl, taken.handle), taken.did, 'the handle still names its owner')

    // Nothing was claimed: the same email, with a free handle, signs up on the same request.
    const handle = `dave${suffix}.test`
    await fillSignUp(page, { handle, email })
    assert.equal(await submitSignUp(page), 303, 'created: back to the page')
    assert.equal(await page.locator('h1').textContent(), 'Allow access?', await page.content())
    const session = await allowAndExchange()
    assert.equal(await resolves(cluster.lbUrl, handle), session.did)
    assert.notEqual(session.did, taken.did)
  })
})

describe('sign-up on a node that requires an invite code', () => {
  let env
  let browser
  let page
  let callback
  let client

  before(async () => {
    env = await startNode({ env: { PDS_INVITE_REQUIRED: 'true' } })
    browser = await launchChromium()
    page = await (await browser.newContext()).newPage()
    callback = await callbackServer()
    client = oauthClient({ plcUrl: env.plcUrl, handleResolver: env.localUrl, redirectUri: callback.uri })
  })

  after(async () => {
    await callback?.close()
    await browser?.close()
    await env?.stop()
  })

  test('hostile: no invite code, or an unknown one: the form again with the reason, nothing created', async () => {
    const described = await (await fetch(`${env.localUrl}/xrpc/com.atproto.server.describeServer`)).json()
    assert.equal(described.inviteCodeRequired, true)
    const url = await client.authorize(env.publicUrl, { scope: SCOPE, prompt: 'create' })
    assert.equal((await page.goto(url.href)).status(), 200)
    assert.equal(await page.locator('h1').textContent(), 'Create an account')
    assert.equal(await page.locator('#invite-code').getAttribute('required'), '', 'the browser asks for one')
    assert.equal(await page.locator('label[for=invite-code]').textContent(), 'Invite code')

    const handle = `erin${suffix}.test`
    const email = `${handle}@example.com`
    // A client that skips the browser's check posts the form without the code.
    await fillSignUp(page, { handle, email })
    await page.locator('form:has(#signup)').evaluate((form) => {
      form.noValidate = true
    })
    assert.equal(await submitSignUp(page), 400)
    assert.equal(await page.locator('h1').textContent(), 'Create an account')
    assert.equal(
      await page.locator('#error').textContent(),
      'An invite code is required to create an account on this server',
    )
    assert.equal(await resolves(env.localUrl, handle), null, 'no account has the handle')

    await fillSignUp(page, { handle, email, invite: 'not-a-real-code-12345' })
    assert.equal(await submitSignUp(page), 400)
    assert.equal(await page.locator('#error').textContent(), 'This invite code is not valid or has been used up')
    assert.equal(await page.locator('#invite-code').inputValue(), 'not-a-real-code-12345')
    assert.equal(await resolves(env.localUrl, handle), null, 'no account has the handle')

    // createAccount gives the same answer for the same form: one rule, one code path.
    const agent = new AtpAgent({ service: env.localUrl })
    await assert.rejects(agent.createAccount({ handle, email, password: PASSWORD }), (err) => {
      assert.equal(err.error, 'InvalidInviteCode')
      return true
    })
    // And the client never got a code: the request is still waiting for a sign-up or sign-in.
    assert.equal(await page.locator('#signup').count(), 1)
  })
})
