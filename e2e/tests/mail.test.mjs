// Mail through a real SMTP server (aiosmtpd on loopback): the node mails one-time codes, and the
// official client completes email confirmation, email change, password reset and account deletion
// with the codes read from the delivered messages. Codes work once; a reset for an unknown address
// answers the same and mails nothing; with SMTP configured no code reaches the node's log.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'
import { codeOf, smtpAvailable, startSmtp } from '../lib/smtp.mjs'

const available = smtpAvailable()

describe('mail through a real SMTP server', { skip: !available }, () => {
  let smtp
  let env
  let agent
  let did
  let email
  let password = 'mail e2e password'
  const handle = `mail${Date.now().toString(36)}.test`
  const to = (address) => (m) => m.to.includes(address)
  const codes = []

  before(async () => {
    smtp = await startSmtp()
    env = await startNode({
      env: { PDS_EMAIL_SMTP_URL: smtp.url, PDS_EMAIL_FROM_ADDRESS: 'PocketPDS <noreply@pds.test>' },
    })
    agent = new AtpAgent({ service: env.localUrl })
    email = `${handle}@example.com`
    const { data } = await agent.createAccount({ handle, password, email })
    did = data.did
  })

  after(async () => {
    await env?.stop()
    await smtp?.stop()
  })

  test('the node says at start which transport carries its mail', () => {
    assert.match(env.log(), /mail goes through SMTP 127\.0\.0\.1:\d+/)
  })

  test('the email is confirmed with the mailed code, which works once', async () => {
    assert.equal((await agent.com.atproto.server.getSession()).data.emailConfirmed, false)
    await agent.com.atproto.server.requestEmailConfirmation()
    const message = await smtp.waitFor((m) => to(email)(m) && /Confirm/.test(m.subject), 'the confirmation')
    assert.equal(message.from, 'noreply@pds.test')
    const code = codeOf(message)
    codes.push(code)
    assert.ok(message.html.includes(code), 'the HTML part carries the code too')
    await agent.com.atproto.server.confirmEmail({ email, token: code })
    const { data } = await agent.com.atproto.server.getSession()
    assert.equal(data.emailConfirmed, true)
    assert.equal(data.emailAuthFactor, false)
    await assert.rejects(
      agent.com.atproto.server.confirmEmail({ email, token: code }),
      (err) => err.error === 'InvalidToken',
    )
  })

  test('a confirmed email is changed with a code mailed to it', async () => {
    const { data } = await agent.com.atproto.server.requestEmailUpdate()
    assert.equal(data.tokenRequired, true)
    const message = await smtp.waitFor((m) => to(email)(m) && /Change/.test(m.subject), 'the update code')
    const code = codeOf(message)
    codes.push(code)
    await assert.rejects(
      agent.com.atproto.server.updateEmail({ email: `new-${email}` }),
      (err) => err.error === 'TokenRequired',
    )
    email = `new-${email}`
    await agent.com.atproto.server.updateEmail({ email, token: code })
    const session = await agent.com.atproto.server.getSession()
    assert.equal(session.data.email, email)
    assert.equal(session.data.emailConfirmed, false)
  })

  test('the password is reset with the mailed code; an unknown address gets the same answer and no mail', async () => {
    const anonymous = new AtpAgent({ service: env.localUrl })
    const before = (await smtp.messages()).length
    const unknown = await anonymous.com.atproto.server.requestPasswordReset({ email: 'nobody@example.com' })
    const known = await anonymous.com.atproto.server.requestPasswordReset({ email })
    assert.equal(unknown.success, known.success)
    assert.deepEqual(unknown.data, known.data)
    const message = await smtp.waitFor((m) => to(email)(m) && /Reset/.test(m.subject), 'the reset code')
    await new Promise((r) => setTimeout(r, 500))
    const all = await smtp.messages()
    assert.equal(all.length, before + 1, 'one message: none for the unknown address')
    assert.ok(!all.some(to('nobody@example.com')))
    const code = codeOf(message)
    codes.push(code)
    await assert.rejects(
      anonymous.com.atproto.server.resetPassword({ token: 'AAAAA-AAAAA', password: 'x' }),
      (err) => err.error === 'InvalidToken',
    )
    password = 'a new mail e2e password'
    await anonymous.com.atproto.server.resetPassword({ token: code, password })
    await assert.rejects(
      anonymous.com.atproto.server.resetPassword({ token: code, password: 'again' }),
      (err) => err.error === 'InvalidToken',
    )
    await assert.rejects(anonymous.login({ identifier: handle, password: 'mail e2e password' }), (err) => err.status === 401)
    await anonymous.login({ identifier: handle, password })
    agent = anonymous
  })

  test('the account is deleted with the mailed code', async () => {
    await agent.com.atproto.server.requestAccountDelete()
    const message = await smtp.waitFor((m) => to(email)(m) && /Delete/.test(m.subject), 'the deletion code')
    const code = codeOf(message)
    codes.push(code)
    await agent.com.atproto.server.deleteAccount({ did, password, token: code })
    await assert.rejects(agent.com.atproto.sync.getLatestCommit({ did }), (err) => err.error === 'RepoNotFound')
  })

  test('no code reached the node log', () => {
    const log = env.log()
    assert.ok(codes.length === 4)
    for (const code of codes) assert.ok(!log.includes(code), `the log shows ${code}`)
  })
})
