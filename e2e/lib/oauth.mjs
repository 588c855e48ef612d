// OAuth helpers of the end-to-end tests: the official `@atproto/oauth-client-node` set up as a
// loopback (development) client against a local node and PLC directory, and the login + consent
// page driven in a real Chromium.
//
//   const callback = await callbackServer()
//   const client = oauthClient({ plcUrl, handleResolver: nodeUrl, redirectUri: callback.uri })
//   const { session } = await signInWithBrowser(browser, client, callback, handle, password)
//   await callback.close()
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { NodeOAuthClient, buildAtprotoLoopbackClientMetadata } from '@atproto/oauth-client-node'
import { chromium } from 'playwright-core'

export const SCOPE = 'atproto transition:generic'

/** A store in memory, shaped like the client's state and session stores. */
function memoryStore() {
  const map = new Map()
  return {
    async get(key) {
      return map.get(key)
    },
    async set(key, value) {
      map.set(key, value)
    },
    async del(key) {
      map.delete(key)
    },
  }
}

/** The system Chromium (CHROMIUM_PATH, else `chromium` on PATH, else /usr/bin/chromium). */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
  } catch {
    return '/usr/bin/chromium'
  }
}

export async function launchChromium() {
  const path = chromiumPath()
  if (!existsSync(path)) {
    throw new Error(`no Chromium at ${path}: install it (apt-get install chromium) or set CHROMIUM_PATH`)
  }
  return chromium.launch({ executablePath: path, args: ['--no-sandbox'] })
}

/**
 * The client's redirect target: an HTTP server on a free loopback port that records the URL the
 * browser is sent back to. `next()` resolves with the next such URL.
 */
export async function callbackServer() {
  const waiting = []
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`)
    // Only the redirect counts: the browser also asks this origin for /favicon.ico, at a moment of
    // its own, which must not pass for the next callback.
    if (url.pathname !== '/callback') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in')
    waiting.shift()?.(url)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    uri: `http://127.0.0.1:${server.address().port}/callback`,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/**
 * A loopback OAuth client (client_id `http://localhost?...`) that resolves handles through
 * `handleResolver` (a PDS URL) and DIDs through the PLC directory at `plcUrl`, over plain http.
 * `scope` (default SCOPE) is the scope its metadata declares; it is part of its client id.
 */
export function oauthClient({ plcUrl, handleResolver, redirectUri, fetch, scope = SCOPE }) {
  return new NodeOAuthClient({
    clientMetadata: buildAtprotoLoopbackClientMetadata({ scope, redirect_uris: [redirectUri] }),
    stateStore: memoryStore(),
    sessionStore: memoryStore(),
    allowHttp: true,
    plcDirectoryUrl: plcUrl,
    handleResolver,
    ...(fetch ? { fetch } : {}),
  })
}

/**
 * Runs the authorization: PAR through the client, then the pages in Chromium — the sign-in form
 * (the identifier is prefilled from the login hint; the password is typed; "Sign in" is clicked),
 * then the consent page ("Allow" is clicked) — then the callback and the code exchange through the
 * client. Returns the session and what the pages showed.
 */
export async function signInWithBrowser(browser, client, callbackTarget, handle, password) {
  const url = await client.authorize(handle, { scope: SCOPE })
  const context = await browser.newContext()
  const page = await context.newPage()
  try {
    const response = await page.goto(url.href)
    if (response?.status() !== 200) {
      throw new Error(`authorize page answered ${response?.status()}: ${await page.content()}`)
    }
    const shown = {
      title: await page.title(),
      clientId: await page.locator('#client-id').textContent(),
      identifier: await page.locator('#identifier').inputValue(),
    }
    await page.fill('#password', password)
    await Promise.all([page.waitForURL(/\/oauth\/authorize\?/), page.click('#signin')])
    shown.scopes = await page.locator('#scopes li').evaluateAll((lis) => lis.map((li) => li.dataset.scope))
    const [callback] = await Promise.all([callbackTarget.next(), page.click('#allow')])
    const params = callback.searchParams
    const { session } = await client.callback(params)
    return { session, shown, callback: params }
  } finally {
    await context.close()
  }
}
