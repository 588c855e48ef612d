// The Pi node: `pocketpds` cross-built for aarch64-unknown-linux-gnu (POCKETPDS_AARCH64_BIN) and run
// under qemu-aarch64 user-mode emulation, beside an x86_64 node; both are embedded replicas of one
// real sqld, behind a real nginx. Writes through either node and through the balancer: both nodes
// list the same records and head, and the aarch64 node's firehose carries the same commits with the
// same sequence numbers as the x86_64 node's.
//
// qemu-aarch64 comes from QEMU_AARCH64 (else the PATH), the aarch64 loader and libraries from
// QEMU_LD_PREFIX (else /usr/aarch64-linux-gnu, Debian's libc6-arm64-cross).
import assert from 'node:assert/strict'
import { existsSync, openSync, readSync, closeSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { startCluster, sqldPath } from '../lib/cluster.mjs'
import { assertLinear, commitsUntil, converged, listKeys, POST, xrpc } from '../lib/replica.mjs'

const PASSWORD = 'correct horse battery staple'
const EM_AARCH64 = 183

/** The ELF machine of the file at `path` (its e_machine field), or null when it is no ELF file. */
function elfMachine(path) {
  const fd = openSync(path, 'r')
  try {
    const header = Buffer.alloc(20)
    if (readSync(fd, header, 0, 20, 0) < 20 || header.toString('latin1', 0, 4) !== '\x7fELF') return null
    return header[5] === 1 ? header.readUInt16LE(18) : header.readUInt16BE(18)
  } finally {
    closeSync(fd)
  }
}

/**
 * The aarch64 node as [qemu, [...qemu options, binary]], or null after one loud SKIP line naming
 * what is missing; in CI (CI set) a missing part throws instead.
 */
function aarch64Node(suite) {
  const bin = process.env.POCKETPDS_AARCH64_BIN
  const qemu = process.env.QEMU_AARCH64 ?? (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'qemu-aarch64')).find((p) => existsSync(p))
  const sysroot = process.env.QEMU_LD_PREFIX ?? '/usr/aarch64-linux-gnu'
  const missing = []
  if (!bin || !existsSync(bin)) missing.push(`no aarch64 pocketpds (set POCKETPDS_AARCH64_BIN to the cross-built binary${bin ? `, not ${bin}` : ''})`)
  if (!qemu || !existsSync(qemu)) missing.push('no qemu-aarch64 (apt-get install qemu-user, or set QEMU_AARCH64)')
  if (!existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))) missing.push(`no aarch64 loader under ${sysroot} (apt-get install gcc-aarch64-linux-gnu, or set QEMU_LD_PREFIX)`)
  if (missing.length === 0) return [qemu, ['-L', sysroot, bin]]
  const msg = `SKIP ${suite}: ${missing.join('; ')}`
  if (process.env.CI) throw new Error(`${msg} (CI must run it)`)
  console.error(`!!!!! ${msg}`)
  return null
}

const sqld = sqldPath('replica-pi.test.mjs')
const pi = sqld ? aarch64Node('replica-pi.test.mjs') : null

describe('an aarch64 node under qemu and an x86_64 node, replicas of one sqld behind nginx', { skip: sqld && pi ? false : 'no sqld or aarch64 node' }, () => {
  let cluster

  before(async () => {
    assert.equal(elfMachine(pi[1].at(-1)), EM_AARCH64, 'POCKETPDS_AARCH64_BIN is an aarch64 ELF binary')
    // Emulated, a debug build starts in seconds rather than milliseconds.
    cluster = await startCluster({ nodes: 2, replica: true, nodeCommand: (i) => (i === 1 ? pi : null), startTimeoutMs: 120_000 })
  })

  after(async () => {
    await cluster?.stop()
  })

  test('writes through either node: both list the same records and head, and carry one firehose', async () => {
    const [x86, arm] = cluster.nodes
    // The account is made on the aarch64 node, then both nodes take writes from their own sessions.
    const handle = `pi${Date.now().toString(36)}.test`
    const onArm = new AtpAgent({ service: arm.url })
    const { data } = await onArm.createAccount({ handle, password: PASSWORD, email: `${handle}@example.com` })
    const did = data.did
    const onX86 = new AtpAgent({ service: x86.url })
    await onX86.login({ identifier: handle, password: PASSWORD })
    const onLb = new AtpAgent({ service: cluster.lbUrl })
    await onLb.login({ identifier: did, password: PASSWORD })

    const written = []
    const write = async (agent, text) => {
      const { data: created } = await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: POST,
        record: { $type: POST, text, createdAt: new Date().toISOString() },
      })
      written.push(created.uri.split('/').pop())
      return created
    }
    for (let i = 0; i < 8; i++) {
      await write(onX86, `x86_64 ${i}`)
      await write(onArm, `aarch64 ${i}`)
    }
    for (let i = 0; i < 4; i++) await write(onLb, `balancer ${i}`)
    // A record written on one node is read back on the other.
    const last = await write(onX86, 'read back on the aarch64 node')
    const rkey = last.uri.split('/').pop()
    const deadline = Date.now() + 15_000
    for (;;) {
      const got = await xrpc(arm.url, 'com.atproto.repo.getRecord', { repo: did, collection: POST, rkey })
      if (got.status === 200) {
        assert.equal(got.body.cid, last.cid)
        break
      }
      if (Date.now() > deadline) assert.fail(`the aarch64 node does not serve ${last.uri}: ${JSON.stringify(got.body)}`)
      await new Promise((r) => setTimeout(r, 100))
    }

    const head = await converged(cluster.nodes, did, 30_000)
    const expected = [...written].sort()
    assert.deepEqual(await listKeys(x86.url, did), expected, 'the x86_64 node lists every write')
    assert.deepEqual(await listKeys(arm.url, did), expected, 'the aarch64 node lists every write')

    const [x86Frames, armFrames] = await Promise.all([commitsUntil(x86.url, [[did, head.rev]]), commitsUntil(arm.url, [[did, head.rev]])])
    assert.ok(x86Frames.length >= written.length + 1, 'the first commit and every write')
    assert.deepEqual(armFrames, x86Frames, 'the aarch64 node sends the firehose of the x86_64 node, seq for seq')
    assertLinear(armFrames)

    const { body: status } = await xrpc(arm.url, 'dev.pocketpds.node.getStatus')
    assert.equal(status.storageMode, 'replica')
    assert.equal(status.primaryReachable, true)
    assert.deepEqual(status.nodes.map((n) => n.id).sort(), ['node1', 'node2'], 'the registry lists both nodes')
  })
})
