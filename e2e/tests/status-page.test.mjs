// The HTML status page at `/`, loaded by a real Chromium through playwright-core: the title, and a
// status table that names the node's public URL and counts accounts, the latest commit and the event sequence. A screenshot goes to the OS temporary folder.
//
// The browser is the system Chromium (CHROMIUM_PATH, default /usr/bin/chromium); no browser is
// downloaded.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { chromium } from 'playwright-core'
import { startNode } from '../lib/harness.mjs'

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

describe('status page in a real browser', () => {
  let env
  let browser

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`)
    }
    env = await startNode()
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })

  after(async () => {
    await browser?.close()
    await env?.stop()
  })

  test('the page at / is titled PocketPDS and its status table shows the public URL', async (t) => {
    const page = await browser.newPage()
    const response = await page.goto(`${env.localUrl}/`)
    assert.equal(response?.status(), 200)
    assert.match(response.headers()['content-type'] ?? '', /^text\/html/)
    assert.equal(await page.title(), 'PocketPDS')

    const table = page.locator('table#status')
    assert.equal(await table.count(), 1)
    const rows = await table.locator('tr').evaluateAll((trs) =>
      trs.map((tr) => [tr.querySelector('th')?.textContent ?? '', tr.querySelector('td')?.textContent ?? '']),
    )
    const byName = Object.fromEntries(rows)
    assert.equal(byName['Public URL'], env.publicUrl, `rows ${JSON.stringify(rows)}`)
    assert.match(byName.Version ?? '', /^\d+\.\d+\.\d+/)

    assert.equal(byName.Accounts, '0', `rows ${JSON.stringify(rows)}`)
    assert.equal(byName['Last commit'], 'none yet')

    // After an account is created and writes a post, the page counts it and shows its commit.
    const agent = new AtpAgent({ service: env.localUrl })
    const handle = `page${Date.now().toString(36)}.test`
    await agent.createAccount({ handle, password: 'status page password', email: `${handle}@example.com` })
    const { data } = await agent.com.atproto.repo.createRecord({
      repo: agent.session.did,
      collection: 'app.bsky.feed.post',
      record: { $type: 'app.bsky.feed.post', text: 'hello', createdAt: new Date().toISOString() },
    })
    await page.reload()
    const after = Object.fromEntries(
      await table.locator('tr').evaluateAll((trs) =>
        trs.map((tr) => [tr.querySelector('th')?.textContent ?? '', tr.querySelector('td')?.textContent ?? '']),
      ),
    )
    assert.equal(after.Accounts, '1')
    const { data: head } = await agent.com.atproto.sync.getLatestCommit({ did: agent.session.did })
    assert.equal(head.rev, data.commit.rev)
    assert.ok(after['Last commit'].includes(`rev ${head.rev}`), after['Last commit'])
    assert.ok(Number(after['Event sequence']) >= 5, after['Event sequence'])

    const shot = join(tmpdir(), `pocketpds-status-${process.pid}.png`)
    await page.screenshot({ path: shot, fullPage: true })
    assert.ok(existsSync(shot), `screenshot at ${shot}`)
    t.diagnostic(`status page screenshot: ${shot}`)
  })
})
