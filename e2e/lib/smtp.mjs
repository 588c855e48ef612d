// A real SMTP server for the mail tests: Python's aiosmtpd (`smtp-sink.py`), writing each message it
// receives to a JSON file the tests read. Needs python3 with aiosmtpd (Debian `python3-aiosmtpd`,
// installed by test.sh); without it the suite says SKIP loudly, and fails when CI is set.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnUntil, stopChild } from './harness.mjs'

const LIB = dirname(fileURLToPath(import.meta.url))
// The first Python that has aiosmtpd: $PYTHON, the one on PATH, or Debian's (where apt installs it
// even when another Python comes first on PATH).
const PYTHON = [process.env.PYTHON, 'python3', '/usr/bin/python3']
  .filter(Boolean)
  .find((python) => spawnSync(python, ['-c', 'import aiosmtpd'], { stdio: 'ignore' }).status === 0)

/** Whether a Python with aiosmtpd exists; prints one SKIP line (or throws in CI) when none does. */
export function smtpAvailable() {
  if (PYTHON) return true
  const message = 'SKIP mail tests: no python3 can import aiosmtpd (install python3-aiosmtpd, or set PYTHON)'
  if (process.env.CI) throw new Error(message)
  console.log(`!!!!! ${message}`)
  return false
}

/** Starts the SMTP server; resolves with its URL, `messages()`, `waitFor(predicate)` and `stop()`. */
export async function startSmtp() {
  const folder = await mkdtemp(join(tmpdir(), 'pocketpds-smtp-'))
  const sink = spawnUntil('aiosmtpd', PYTHON, [join(LIB, 'smtp-sink.py'), folder], {}, /^SMTP_PORT=(\d+)$/)
  let port
  try {
    ;[, port] = await sink.ready
  } catch (err) {
    await stopChild(sink.child)
    await rm(folder, { recursive: true, force: true })
    throw err
  }
  const messages = async () => {
    const names = (await readdir(folder)).filter((n) => n.endsWith('.json')).sort()
    return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(folder, n), 'utf8'))))
  }
  const waitFor = async (predicate, what = 'a message') => {
    for (let i = 0; i < 100; i++) {
      const found = (await messages()).filter(predicate)
      if (found.length) return found[found.length - 1]
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`the SMTP server never received ${what}`)
  }
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor,
    stop: async () => {
      await stopChild(sink.child)
      await rm(folder, { recursive: true, force: true })
    },
  }
}

/** The one-time code (`XXXXX-XXXXX`) of a received message. */
export function codeOf(message) {
  const code = /\b([A-Z2-7]{5}-[A-Z2-7]{5})\b/.exec(message.text)?.[1]
  if (!code) throw new Error(`no code in: ${message.text}`)
  return code
}
