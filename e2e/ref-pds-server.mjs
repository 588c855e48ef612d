// The reference PDS (npm `@atproto/pds`) for the end-to-end tests: dev mode, handles under `.test`,
// its SQLite databases and blobs in a given directory, identities in a given PLC directory, mail
// through an optional SMTP server.
//
//   node e2e/ref-pds-server.mjs DATA_DIR PLC_URL [SMTP_URL]
//
// Needs the environment variable PDS_ADMIN_PASSWORD. Once it accepts connections it prints exactly one
// line on stdout, `PDS_URL=http://localhost:<port>`. It stops on SIGTERM or SIGINT, and when its stdin
// is closed (so it never outlives the test that spawned it with a pipe).
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import pds from '@atproto/pds'

const { PDS, envToCfg, envToSecrets, readEnv } = pds
const [dataDir, plcUrl, smtpUrl] = process.argv.slice(2)
if (!dataDir || !/^https?:\/\//.test(plcUrl ?? '') || !process.env.PDS_ADMIN_PASSWORD) {
  console.error('usage: PDS_ADMIN_PASSWORD=... node ref-pds-server.mjs DATA_DIR PLC_URL [SMTP_URL]')
  process.exit(2)
}

// The reference binds the port it publishes in its DID documents, so it must be known beforehand.
async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address()
  probe.close()
  await once(probe, 'close')
  return port
}

const port = await freePort()
await mkdir(join(dataDir, 'blobs'), { recursive: true })
Object.assign(process.env, {
  PDS_HOSTNAME: 'localhost',
  PDS_PORT: String(port),
  PDS_DEV_MODE: 'true',
  PDS_DATA_DIRECTORY: dataDir,
  PDS_BLOBSTORE_DISK_LOCATION: join(dataDir, 'blobs'),
  PDS_DID_PLC_URL: plcUrl,
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  PDS_INVITE_REQUIRED: 'false',
  PDS_RATE_LIMITS_ENABLED: 'false',
  PDS_JWT_SECRET: randomBytes(16).toString('hex'),
  PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: randomBytes(32).toString('hex'),
  PDS_CRAWLERS: '',
  // Its own service DID (the default, did:web:localhost, is also a dev-mode PocketPDS node's).
  PDS_SERVICE_DID: `did:web:localhost%3A${port}`,
  // The reference serves preferences only with an AppView configured; none is reached here.
  PDS_BSKY_APP_VIEW_URL: 'http://127.0.0.1:9',
  PDS_BSKY_APP_VIEW_DID: 'did:web:appview.test',
  LOG_ENABLED: process.env.E2E_VERBOSE ? 'true' : 'false',
  ...(smtpUrl ? { PDS_EMAIL_SMTP_URL: smtpUrl, PDS_EMAIL_FROM_ADDRESS: 'pds@localhost' } : {}),
})

const env = readEnv()
const server = await PDS.create(envToCfg(env), envToSecrets(env))
await server.start()
process.stdout.write(`PDS_URL=http://localhost:${port}\n`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  // Do not wait for stuck clients.
  setTimeout(() => process.exit(0), 3000).unref()
  await server.destroy().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
