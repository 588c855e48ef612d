// A cluster on loopback for the end-to-end tests: a PLC directory, `pocketpds serve` processes each
// on its own port, all with PDS_PUBLIC_URL set to the load balancer's URL and no PDS_DPOP_SECRET
// (they must agree through the database), and a real nginx doing round-robin in front of them.
// The nodes share one data directory (one libSQL file), or — with `replica: true` — each has its
// own data directory holding an embedded replica of one real libSQL server (`sqld`, from SQLD_BIN
// or ../shared/tools/sqld), the primary. nginx runs as the current user with its configuration,
// pid, logs and temporary files in a temporary folder; every child is stopped by its PID.
//
//   const cluster = await startCluster()   // { plcUrl, lbUrl, nodes: [{url, child}], kill(i), stop() }
//   const cluster = await startCluster({ nodes: 3, replica: true })
//   // … plus primary: { url, kill(), restart() }, restart(i); `nodeEnv(i, { primaryUrl })` may
//   // (asynchronously) add to node i's environment, for example a proxied PDS_DATABASE_URL
//   startCluster({ env: { PDS_INVITE_REQUIRED: 'true' } })   // more environment for every node
//   startCluster({ requestBuffering: false }) // nginx streams request bodies to the nodes
//   startCluster({ websockets: true })  // nginx passes websocket upgrades (the firehose) through
//   startCluster({ lbHost: 'localhost' }) // the public URL names the load balancer by host name
//   // node i runs as `cmd ...prefix serve --port P` where `nodeCommand(i)` returns [cmd, prefix]
//   // (for example another architecture's binary under qemu-aarch64), else as POCKETPDS_BIN;
//   // `startTimeoutMs` gives a slow node longer to start
//   startCluster({ nodeCommand: (i) => (i === 1 ? ['qemu-aarch64', ['-L', sysroot, bin]] : null) })
//
// nginx appends the client's address to X-Forwarded-For; the nodes believe that header only from
// nginx's own address (PDS_TRUSTED_PROXIES=127.0.0.1), as an operator's nodes behind a load balancer
// would. A client on 127.0.0.1 itself is then known as 127.0.0.1 (its forwarded address is the
// proxy's); tests that need another client address connect from 127.0.0.2.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeBinary, spawnUntil, stopChild } from './harness.mjs'

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * The sqld binary: SQLD_BIN, else ../shared/tools/sqld beside the repository. Returns null after
 * one loud SKIP line where it is missing; in CI (CI set) a missing sqld throws instead.
 */
export function sqldPath(suite) {
  const bin = process.env.SQLD_BIN ?? join(E2E_DIR, '..', '..', 'shared', 'tools', 'sqld')
  if (existsSync(bin)) return bin
  const msg = `SKIP ${suite}: no sqld at ${bin}; set SQLD_BIN to a libsql-server sqld binary`
  if (process.env.CI) throw new Error(`${msg} (CI must run it)`)
  console.error(`!!!!! ${msg}`)
  return null
}

/** A real libSQL server on a free loopback port, with its data under `dir`. */
export async function startSqld(bin, dir) {
  const port = await freePort()
  let child = null
  const url = `http://127.0.0.1:${port}`
  const launch = async () => {
    child = spawn(bin, ['--db-path', join(dir, 'primary'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], {
      stdio: ['ignore', 'ignore', process.env.E2E_VERBOSE ? 'inherit' : 'ignore'],
    })
    const deadline = Date.now() + 20_000
    for (;;) {
      try {
        const res = await fetch(`${url}/health`)
        if (res.ok) return
      } catch {
        // Not up yet.
      }
      if (child.exitCode !== null) throw new Error(`sqld exited with code ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error('sqld did not become healthy')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await launch()
  return {
    url,
    port,
    get child() {
      return child
    },
    /** SIGKILL, as a crash would. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      process.kill(child.pid, 'SIGKILL')
      await exited
    },
    /** Starts it again on the same data and port. */
    async restart() {
      await this.kill()
      await launch()
    },
    async stop() {
      await stopChild(child)
    },
  }
}

/** The nginx binary: NGINX_PATH, else the first of the usual places. */
export function nginxPath() {
  const candidates = [process.env.NGINX_PATH, '/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']
  const found = candidates.find((p) => p && existsSync(p))
  if (!found) throw new Error('nginx not found: install it (apt-get install nginx-light) or set NGINX_PATH')
  return found
}

async function freePort() {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

function nginxConfig(dir, lbPort, upstreams, { requestBuffering = true, websockets = false } = {}) {
  const servers = upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=2s;`).join('\n')
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  # The nodes decide how large a body may be (their 413), not the load balancer.
  client_max_body_size 64m;
  # Bodies stay in memory: workers may run as another user than the one owning the temporary folder.
  client_body_buffer_size 16m;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream pds {
${servers}
  }
${websockets ? `  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }
` : ''}
  server {
    listen 127.0.0.1:${lbPort};
    location / {
      proxy_pass http://pds;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
      proxy_request_buffering ${requestBuffering ? 'on' : 'off'};
      proxy_connect_timeout 2s;
      add_header X-Upstream $upstream_addr always;
${websockets ? `      # Websockets (the firehose) pass through, and stay open while quiet.
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
` : ''}    }
  }
}
`
}

async function waitForHealth(url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const res = await fetch(`${url}/xrpc/_health`)
      if (res.ok) return
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function startCluster({
  nodes: count = 2,
  env: commonEnv = {},
  replica = false,
  nodeEnv = () => ({}),
  nodeCommand = () => null,
  startTimeoutMs,
  syncIntervalMs = 200,
  requestBuffering = true,
  websockets = false,
  lbHost = '127.0.0.1',
} = {}) {
  const bin = nodeBinary()
  const nginx = nginxPath()
  const sqld = replica ? sqldPath('replica cluster') : null
  if (replica && !sqld) return null
  const dir = await mkdtemp(join(tmpdir(), 'pocketpds-cluster-'))
  const children = []
  let primary = null
  const stop = async () => {
    await Promise.allSettled(children.reverse().map(stopChild))
    if (primary) await primary.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const plc = spawnUntil('PLC directory', process.execPath, [join(E2E_DIR, 'plc-server.mjs'), '0'], { cwd: E2E_DIR }, /^PLC_URL=(http:\/\/\S+)$/)
    children.push(plc.child)
    const [, plcUrl] = await plc.ready
    if (replica) primary = await startSqld(sqld, join(dir, 'sqld'))

    const lbPort = await freePort()
    const lbUrl = `http://${lbHost}:${lbPort}`
    const env = { ...process.env }
    delete env.PDS_DPOP_SECRET
    delete env.PDS_JWT_SECRET
    // One secrets key for the whole cluster: replicas on different machines share no key file.
    const secretsKey = replica ? randomBytes(32).toString('hex') : undefined
    const ports = []
    for (let i = 0; i < count; i++) ports.push(await freePort())
    const extraEnv = []
    for (let i = 0; i < count; i++) extraEnv.push(await nodeEnv(i, { primaryUrl: primary?.url }))
    const launch = (i) => {
      const nodeDir = replica ? join(dir, `node${i + 1}`) : join(dir, 'data')
      const [command, prefix] = nodeCommand(i) ?? [bin, []]
      const node = spawnUntil(
        `pocketpds #${i + 1}`,
        command,
        [...prefix, 'serve', '--port', String(ports[i])],
        {
          cwd: dir,
          env: {
            ...env,
            PDS_DEV_MODE: 'true',
            PDS_DID_PLC_URL: plcUrl,
            PDS_DATA_DIRECTORY: nodeDir,
            PDS_PUBLIC_URL: lbUrl,
            PDS_NODE_ID: `node${i + 1}`,
            ...(replica
              ? { PDS_DATABASE_URL: primary.url, PDS_SECRETS_KEY: secretsKey, PDS_SYNC_INTERVAL_MS: String(syncIntervalMs) }
              : {}),
            // nginx forwards the client's address; the nodes behind it trust its header only.
            PDS_TRUSTED_PROXIES: '127.0.0.1',
            ...commonEnv,
            ...extraEnv[i],
          },
        },
        /^PocketPDS \S+ serving (\S+) \(listening on (http:\/\/\S+)\)$/,
        { timeoutMs: startTimeoutMs },
      )
      children.push(node.child)
      return node.ready.then(([, , url]) => ({ url, child: node.child, log: node.log }))
    }
    // The nodes start at once: migrations and cluster secrets must settle through the database.
    const nodes = await Promise.all(ports.map((_, i) => launch(i)))

    const nginxDir = join(dir, 'nginx')
    await mkdir(nginxDir)
    const conf = join(nginxDir, 'nginx.conf')
    await writeFile(conf, nginxConfig(nginxDir, lbPort, nodes.map((n) => new URL(n.url).host), { requestBuffering, websockets }))
    const lb = spawn(nginx, ['-p', nginxDir, '-c', conf, '-e', join(nginxDir, 'error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    children.push(lb)
    try {
      await waitForHealth(lbUrl)
    } catch (err) {
      const log = await readFile(join(nginxDir, 'error.log'), 'utf8').catch(() => '')
      throw new Error(`${err.message}; nginx log:\n${log}`)
    }
    return {
      plcUrl,
      lbUrl,
      nodes,
      primary,
      dir,
      /** Kills node `i` at once (SIGKILL), as a crash would. */
      async kill(i) {
        const { child } = nodes[i]
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = once(child, 'exit')
        process.kill(child.pid, 'SIGKILL')
        await exited
      },
      /** Starts node `i` again on its data directory and port (after `kill(i)`). */
      async restart(i) {
        await this.kill(i)
        nodes[i] = await launch(i)
        await waitForHealth(nodes[i].url)
        return nodes[i]
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
