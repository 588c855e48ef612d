// A firehose subscriber for the end-to-end suite: a plain websocket (the `ws` package) to
// com.atproto.sync.subscribeRepos whose binary messages are split into their DAG-CBOR header and
// body, queued until the test asks for them.
import { decodeAll } from '@atproto/lex-cbor'
import WebSocket from 'ws'

const WAIT_MS = 30_000

/** Decodes one frame: `{ op, t, body }`, with `op` 1 for a message and -1 for an error. */
export function decodeFrame(bytes) {
  const values = [...decodeAll(new Uint8Array(bytes))]
  if (values.length !== 2) throw new Error(`a frame holds ${values.length} values, not 2`)
  const [header, body] = values
  return { op: header.op, t: header.t, body }
}

/**
 * Subscribes at `baseUrl` (the node's http URL) with the optional `cursor`. Resolves once the
 * websocket is open, with `{ next(), close(), closed }`: `next()` resolves with the next frame or
 * `{ closed: code }` once the server closed the stream, and fails after 30 s without either.
 */
export async function subscribe(baseUrl, cursor) {
  const url = new URL('/xrpc/com.atproto.sync.subscribeRepos', baseUrl)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  if (cursor !== undefined) url.searchParams.set('cursor', String(cursor))
  const socket = new WebSocket(url)
  const queue = []
  const waiters = []
  const deliver = (item) => {
    const waiter = waiters.shift()
    if (waiter) waiter(item)
    else queue.push(item)
  }
  socket.on('message', (data, isBinary) => {
    deliver(isBinary ? decodeFrame(data) : { text: data.toString() })
  })
  let closedWith
  const closed = new Promise((resolve) => {
    socket.on('close', (code) => {
      closedWith = { closed: code }
      resolve(code)
      while (waiters.length > 0) waiters.shift()(closedWith)
    })
  })
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  return {
    async next() {
      if (queue.length > 0) return queue.shift()
      if (closedWith) return closedWith
      let timer
      const item = await Promise.race([
        new Promise((resolve) => waiters.push(resolve)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no frame within ${WAIT_MS} ms`)), WAIT_MS)
        }),
      ])
      clearTimeout(timer)
      return item
    },
    close() {
      socket.close()
      return closed
    },
    closed,
  }
}
