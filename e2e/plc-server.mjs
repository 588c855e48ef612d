// A real PLC directory for the end-to-end tests: `@did-plc/server` with its in-memory database,
// listening on 127.0.0.1 only.
//
//   node e2e/plc-server.mjs [port]      (port 0 or absent: the system picks a free one)
//
// Once it accepts connections it prints exactly one line on stdout, `PLC_URL=http://127.0.0.1:<port>`.
// It stops on SIGTERM or SIGINT, and when its stdin is closed (so it never outlives the test that
// spawned it with a pipe). Nothing is written to disk.
import { once } from 'node:events'
import plcServer from '@did-plc/server'

// The package is CommonJS: its classes hang off the default export.
const { PlcServer, Database } = plcServer

const arg = process.argv[2] ?? '0'
if (!/^\d{1,5}$/.test(arg) || Number(arg) > 65535) {
  console.error(`usage: node plc-server.mjs [port]; ${JSON.stringify(arg)} is not a port`)
  process.exit(2)
}

const plc = PlcServer.create({ db: Database.mock(), port: Number(arg) })
const server = plc.app.listen(Number(arg), '127.0.0.1')
server.on('error', (err) => {
  console.error(`PLC directory failed: ${err.message}`)
  process.exit(1)
})
await once(server, 'listening')
process.stdout.write(`PLC_URL=http://127.0.0.1:${server.address().port}\n`)

let stopping = false
function stop() {
  if (stopping) return
  stopping = true
  server.closeAllConnections()
  server.close(() => process.exit(0))
  // Do not wait for stuck clients.
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
