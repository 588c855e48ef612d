// A cluster on loopback for the end-to-end tests: a PLC directory, two `pocketpds serve` processes
// sharing one data directory (one libSQL file), each on its own port, both with PDS_PUBLIC_URL set
// to the load balancer's URL and no PDS_DPOP_SECRET (they must agree through the database), and a
// real nginx doing round-robin in front of them. nginx runs as the current user with its
// configuration, pid, logs and temporary files in a temporary folder; every child is stopped by its
// PID.
//
//   const cluster = await startCluster()   // { plcUrl, lbUrl, nodes: [{url, child}], kill(i), stop() }
//   startCluster({ requestBuffering: false }) // nginx streams request bodies to the nodes
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeBinary, spawnUntil, stopChild } from './harness.mjs'

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)))

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

function nginxConfig(dir, lbPort, upstreams, { requestBuffering = true } = {}) {
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
  server {
    listen 127.0.0.1:${lbPort};
    location / {
      proxy_pass http://pds;
      proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
      proxy_request_buffering ${requestBuffering ? 'on' : 'off'};
      proxy_connect_timeout 2s;
      add_header X-Upstream $upstream_addr always;
    }
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

export async function startCluster({ nodes: count = 2, requestBuffering = true } = {}) {
  const bin = nodeBinary()
  const nginx = nginxPath()
  const dir = await mkdtemp(join(tmpdir(), 'pocketpds-cluster-'))
  const children = []
  const stop = async () => {
    await Promise.allSettled(children.reverse().map(stopChild))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const plc = spawnUntil('PLC directory', process.execPath, [join(E2E_DIR, 'plc-server.mjs'), '0'], { cwd: E2E_DIR }, /^PLC_URL=(http:\/\/\S+)$/)
    children.push(plc.child)
    const [, plcUrl] = await plc.ready

    const lbPort = await freePort()
    const lbUrl = `http://127.0.0.1:${lbPort}`
    const env = { ...process.env }
    delete env.PDS_DPOP_SECRET
    delete env.PDS_JWT_SECRET
    const starts = []
    for (let i = 0; i < count; i++) {
      const node = spawnUntil(
        `pocketpds #${i + 1}`,
        bin,
        ['serve', '--port', '0'],
        {
          cwd: dir,
          env: {
            ...env,
            PDS_DEV_MODE: 'true',
            PDS_DID_PLC_URL: plcUrl,
            PDS_DATA_DIRECTORY: join(dir, 'data'),
            PDS_PUBLIC_URL: lbUrl,
            PDS_NODE_ID: `node${i + 1}`,
          },
        },
        /^PocketPDS \S+ serving (\S+) \(listening on (http:\/\/\S+)\)$/,
      )
      children.push(node.child)
      starts.push(node.ready.then(([, , url]) => ({ url, child: node.child })))
    }
    // Both nodes start at once: migrations and cluster secrets must settle through the database.
    const nodes = await Promise.all(starts)

    const nginxDir = join(dir, 'nginx')
    await mkdir(nginxDir)
    const conf = join(nginxDir, 'nginx.conf')
    await writeFile(conf, nginxConfig(nginxDir, lbPort, nodes.map((n) => new URL(n.url).host), { requestBuffering }))
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
      /** Kills node `i` at once (SIGKILL), as a crash would. */
      async kill(i) {
        const { child } = nodes[i]
        const exited = once(child, 'exit')
        process.kill(child.pid, 'SIGKILL')
        await exited
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
