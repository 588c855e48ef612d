// The end-to-end harness: a real PLC directory (`plc-server.mjs`) and a real `pocketpds serve`
// node in a fresh temporary data directory, both child processes stopped by PID on teardown.
//
//   const env = await startNode()       // { plcUrl, publicUrl, localUrl, dataDir, stop }
//   ...
//   await env.stop()
//
// The node binary comes from the environment variable POCKETPDS_BIN (required), so the tests
// always run the binary the build just produced.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000

// Children still running when this process exits (a crash, an interrupted run) get SIGTERM too.
const running = new Set()
process.once('exit', () => {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGTERM')
    } catch {
      // Already gone.
    }
  }
})

/** The path of the `pocketpds` binary under test, from POCKETPDS_BIN; throws when unusable. */
export function nodeBinary() {
  const bin = process.env.POCKETPDS_BIN
  if (!bin) {
    throw new Error(
      'POCKETPDS_BIN is not set: build the node (cargo build -p pocketpds) and point ' +
        'POCKETPDS_BIN at the binary, e.g. POCKETPDS_BIN="$CARGO_TARGET_DIR/debug/pocketpds"',
    )
  }
  if (!existsSync(bin)) {
    throw new Error(`POCKETPDS_BIN=${bin}: no such file`)
  }
  return bin
}

/**
 * Spawns `command args` and resolves with the first stdout line matching `pattern` (its match),
 * or rejects when the process exits, or the timeout passes, first (`timeoutMs`, 30 s unless
 * given). Stderr is kept for the error.
 */
export function spawnUntil(name, command, args, options, pattern, { timeoutMs = START_TIMEOUT_MS } = {}) {
  const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
  if (child.pid !== undefined) running.add(child)
  child.once('exit', () => running.delete(child))
  const stderr = []
  child.stderr.on('data', (chunk) => {
    stderr.push(chunk)
    if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk}`)
  })
  const ready = new Promise((resolve, reject) => {
    const fail = (why) => {
      const log = Buffer.concat(stderr).toString('utf8').trim()
      reject(new Error(`${name} ${why}${log ? `; its stderr:\n${log}` : ''}`))
    }
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs)
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const match = pattern.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      fail(`could not be started: ${err.message}`)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      fail(`exited before it was ready (code ${code}, signal ${signal})`)
    })
  })
  return { child, ready, log: () => Buffer.concat(stderr).toString('utf8') }
}

/** Stops a child by its PID with SIGTERM, then SIGKILL if it lingers; resolves once it exited. */
export async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  process.kill(child.pid, 'SIGTERM')
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
  }, STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** Spawns a PLC directory (`plc-server.mjs`); `ready` resolves with its URL as the match's group 1. */
export function startPlc() {
  return spawnUntil(
    'PLC directory',
    process.execPath,
    [join(E2E_DIR, 'plc-server.mjs'), '0'],
    { cwd: E2E_DIR },
    /^PLC_URL=(http:\/\/\S+)$/,
  )
}

/**
 * Starts a PLC directory and a PocketPDS node (dev mode, handles under `.test`) in a new temporary
 * data directory. Resolves with their URLs and a `stop()` that ends both processes and removes the
 * directory, and `log()`, the node's log so far. On a failed start everything already started is
 * stopped before the error is thrown. `options.env` adds (or overrides) the node's environment;
 * `options.plcUrl` names a PLC directory already running (shared with other services), started otherwise.
 */
export async function startNode(options = {}) {
  const bin = nodeBinary()
  const dataDir = await mkdtemp(join(tmpdir(), 'pocketpds-e2e-'))
  const children = []
  const stop = async () => {
    await Promise.allSettled(children.reverse().map(stopChild))
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    let plcUrl = options.plcUrl
    if (!plcUrl) {
      const plc = startPlc()
      children.push(plc.child)
      ;[, plcUrl] = await plc.ready
    }

    const node = spawnUntil(
      'pocketpds',
      bin,
      ['serve', '--port', '0'],
      {
        cwd: dataDir,
        env: {
          ...process.env,
          PDS_DEV_MODE: 'true',
          PDS_DID_PLC_URL: plcUrl,
          PDS_DATA_DIRECTORY: join(dataDir, 'data'),
          ...options.env,
        },
      },
      /^PocketPDS \S+ serving (\S+) \(listening on (http:\/\/\S+)\)$/,
    )
    children.push(node.child)
    const [, publicUrl, localUrl] = await node.ready
    // What the node has written to its log so far (messages it would mail, for one).
    return { plcUrl, publicUrl, localUrl, dataDir, stop, log: node.log }
  } catch (err) {
    await stop()
    throw err
  }
}
