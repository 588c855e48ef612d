// Lexicon validation cross-checked with the reference validator. A corpus of records is generated
// from the Lexicons that @atproto/api ships: for each record type a valid record using most of its
// fields, then one record per constraint of its schema broken once (a required property left out, a
// wrong type, a string over maxLength or maxGraphemes, a bad format, an array over maxLength, an
// integer out of range, a union without $type, a blob of the wrong MIME type or size, ...) plus edge
// cases that must stay valid (exactly maxGraphemes graphemes, an open union or knownValues outside the
// known set). Each record is written to the node through @atproto/api and its verdict (200 with
// validationStatus "valid", or 400 InvalidRequest) compared with the reference validator's
// (`lexicons.assertValidRecord` of @atproto/api on the record read with `jsonToLex`).
//
// The reference validator of this @atproto/api version does not check blob `accept`/`maxSize`,
// legacy blob references or record keys; the current reference PDS does, and so does this node. Those
// cases are counted apart as differences by design; any other disagreement fails the test.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AtpAgent, jsonToLex, lexicons } from '@atproto/api'
import { startNode } from '../lib/harness.mjs'

const CID = 'bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq'
const BLOB_CID = 'bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const OTHER_DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const AT = '2024-05-01T12:00:00.000Z'
const URI = `at://${OTHER_DID}/app.bsky.feed.post/3kabcdefghij2`
const LIST_URI = `at://${OTHER_DID}/app.bsky.graph.list/3kabcdefghij2`
const strongRef = () => ({ uri: URI, cid: CID })
const blob = (mimeType, size = 1000) => ({ $type: 'blob', ref: { $link: BLOB_CID }, mimeType, size })
const selfLabels = () => ({ $type: 'com.atproto.label.defs#selfLabels', values: [{ val: 'porn' }] })
const facet = () => ({
  index: { byteStart: 0, byteEnd: 5 },
  features: [
    { $type: 'app.bsky.richtext.facet#mention', did: OTHER_DID },
    { $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/a' },
    { $type: 'app.bsky.richtext.facet#tag', tag: 'tag' },
  ],
})
const images = () => ({
  $type: 'app.bsky.embed.images',
  images: [{ image: blob('image/png'), alt: 'a cat', aspectRatio: { width: 4, height: 3 } }],
})
const video = () => ({
  $type: 'app.bsky.embed.video',
  video: blob('video/mp4', 5000),
  captions: [{ lang: 'en', file: blob('text/vtt', 100) }],
  alt: 'a video',
  aspectRatio: { width: 16, height: 9 },
  presentation: 'default',
})
const external = () => ({
  $type: 'app.bsky.embed.external',
  external: { uri: 'https://example.com', title: 'Example', description: 'An example', thumb: blob('image/jpeg') },
})
const post = (extra) => ({
  $type: 'app.bsky.feed.post',
  text: 'hello #tag',
  createdAt: AT,
  langs: ['en', 'pt-BR'],
  tags: ['one', 'two'],
  labels: selfLabels(),
  facets: [facet()],
  ...extra,
})

/** Valid records, each using most fields of its type. */
const BASES = [
  post({ reply: { root: strongRef(), parent: strongRef() }, embed: images() }),
  post({ embed: video(), entities: [{ index: { start: 0, end: 5 }, type: 'mention', value: 'x' }] }),
  post({ embed: external() }),
  post({ embed: { $type: 'app.bsky.embed.recordWithMedia', record: { record: strongRef() }, media: images() } }),
  post({ embed: { $type: 'app.bsky.embed.record', record: strongRef() } }),
  { $type: 'app.bsky.feed.like', subject: strongRef(), createdAt: AT, via: strongRef() },
  { $type: 'app.bsky.feed.repost', subject: strongRef(), createdAt: AT, via: strongRef() },
  {
    $type: 'app.bsky.feed.threadgate',
    post: URI,
    createdAt: AT,
    allow: [
      { $type: 'app.bsky.feed.threadgate#mentionRule' },
      { $type: 'app.bsky.feed.threadgate#listRule', list: LIST_URI },
    ],
    hiddenReplies: [URI],
  },
  {
    $type: 'app.bsky.feed.postgate',
    post: URI,
    createdAt: AT,
    detachedEmbeddingUris: [URI],
    embeddingRules: [{ $type: 'app.bsky.feed.postgate#disableRule' }],
  },
  {
    $type: 'app.bsky.feed.generator',
    did: 'did:web:feed.example.com',
    displayName: 'A feed',
    description: 'Posts about cats',
    descriptionFacets: [facet()],
    avatar: blob('image/png'),
    acceptsInteractions: true,
    labels: selfLabels(),
    contentMode: 'app.bsky.feed.defs#contentModeVideo',
    createdAt: AT,
  },
  { $type: 'app.bsky.graph.follow', subject: OTHER_DID, createdAt: AT, via: strongRef() },
  { $type: 'app.bsky.graph.block', subject: OTHER_DID, createdAt: AT },
  {
    $type: 'app.bsky.graph.list',
    purpose: 'app.bsky.graph.defs#curatelist',
    name: 'Cats',
    description: 'Cat people',
    descriptionFacets: [facet()],
    avatar: blob('image/jpeg'),
    labels: selfLabels(),
    createdAt: AT,
  },
  { $type: 'app.bsky.graph.listitem', subject: OTHER_DID, list: LIST_URI, createdAt: AT },
  { $type: 'app.bsky.graph.listblock', subject: LIST_URI, createdAt: AT },
  {
    $type: 'app.bsky.graph.starterpack',
    name: 'Starter',
    description: 'Start here',
    descriptionFacets: [facet()],
    list: LIST_URI,
    feeds: [{ uri: `at://${OTHER_DID}/app.bsky.feed.generator/cats` }],
    createdAt: AT,
  },
  {
    $type: 'app.bsky.graph.verification',
    subject: OTHER_DID,
    handle: 'alice.example.com',
    displayName: 'Alice',
    createdAt: AT,
  },
  {
    $type: 'app.bsky.actor.profile',
    displayName: 'Alice',
    description: 'Hello',
    pronouns: 'she/her',
    website: 'https://alice.example.com',
    avatar: blob('image/png'),
    banner: blob('image/jpeg'),
    labels: selfLabels(),
    joinedViaStarterPack: strongRef(),
    pinnedPost: strongRef(),
    createdAt: AT,
  },
  {
    $type: 'app.bsky.actor.status',
    status: 'app.bsky.actor.status#live',
    embed: external(),
    durationMinutes: 30,
    createdAt: AT,
  },
  { $type: 'app.bsky.notification.declaration', allowSubscriptions: 'followers' },
  { $type: 'chat.bsky.actor.declaration', allowIncoming: 'all', allowGroupInvites: 'following' },
  {
    $type: 'app.bsky.labeler.service',
    policies: {
      labelValues: ['porn', 'spider'],
      labelValueDefinitions: [
        {
          identifier: 'spider',
          severity: 'alert',
          blurs: 'media',
          defaultSetting: 'warn',
          adultOnly: false,
          locales: [{ lang: 'en', name: 'Spider', description: 'Arachnids' }],
        },
      ],
    },
    labels: selfLabels(),
    createdAt: AT,
    reasonTypes: ['com.atproto.moderation.defs#reasonSpam'],
    subjectTypes: ['account'],
    subjectCollections: ['app.bsky.feed.post'],
  },
]

/** A value of each string format that the format refuses. */
const BAD_FORMAT = {
  datetime: '2024-05-01 12:00',
  uri: 'not a uri',
  'at-uri': 'https://example.com/not-at',
  did: 'did:bad',
  handle: 'not_a_handle',
  'at-identifier': 'not an identifier',
  nsid: 'notansid',
  cid: 'not-a-cid',
  language: 'english!',
  tid: 'not-a-tid',
  'record-key': '..',
}

const FAMILY = '\u{1F469}\u200D\u{1F469}\u200D\u{1F466}' // one grapheme, 18 UTF-8 bytes
const ACCENTED = 'e\u0301' // one grapheme, 3 UTF-8 bytes

function resolve(def) {
  return def.type === 'ref' ? lexicons.getDefOrThrow(def.ref) : def
}

function memberOf(def, type) {
  const uri = type.includes('#') ? `lex:${type}` : `lex:${type}#main`
  const ref = def.refs.find((r) => r === uri || `${r}#main` === uri)
  return ref && lexicons.getDefOrThrow(ref)
}

/**
 * The mutations of `value` (at `path`) that break, or keep within, each constraint of `def`:
 * `{ path, what, value }` where `value` replaces the one at `path` (`undefined` removes it), with an
 * optional `byDesign` tag for the checks the reference validator does not make.
 */
function* mutations(rawDef, value, path) {
  const def = resolve(rawDef)
  const at = (what, v, byDesign) => ({ path, what, value: v, byDesign })
  switch (def.type) {
    case 'object':
      if (path.length > 0) yield at('object replaced by a string', 'x')
      for (const key of def.required ?? []) {
        if (value[key] !== undefined) yield { path: [...path, key], what: 'required property left out', value: undefined }
      }
      for (const [key, prop] of Object.entries(def.properties ?? {})) {
        if (value[key] !== undefined) yield* mutations(prop, value[key], [...path, key])
      }
      break
    case 'array':
      yield at('array replaced by an object', {})
      if (def.maxLength !== undefined && value.length > 0) {
        yield at(`${def.maxLength} elements (the most allowed)`, Array(def.maxLength).fill(value[0]))
        yield at(`${def.maxLength + 1} elements`, Array(def.maxLength + 1).fill(value[0]))
      }
      if (value.length > 0) yield* mutations(def.items, value[0], [...path, 0])
      break
    case 'union': {
      const { $type, ...rest } = value
      yield at('union member without $type', rest)
      yield at('union member of an unknown type', { $type: 'com.example.unknownType', x: 1 })
      yield at('union replaced by a number', 5)
      const member = memberOf(def, $type)
      if (member) yield* mutations(member, value, path)
      break
    }
    case 'string':
      yield at('string replaced by a number', 12)
      if (def.format) yield at(`bad ${def.format}`, BAD_FORMAT[def.format])
      if (def.knownValues) yield at('a value outside knownValues', 'com.example.unlisted')
      if (def.enum) yield at('a value outside the enum', 'com.example.unlisted')
      if (def.minLength) yield at('empty string under minLength', '')
      if (def.maxLength !== undefined) {
        yield at(`${def.maxLength} bytes (the most allowed)`, 'x'.repeat(Math.min(def.maxLength, def.maxGraphemes ?? Infinity)))
        const units = Math.ceil((def.maxLength + 1) / 18)
        if (def.maxGraphemes === undefined) yield at(`${def.maxLength + 1} bytes`, 'x'.repeat(def.maxLength + 1))
        else if (units <= def.maxGraphemes) yield at(`over ${def.maxLength} bytes in few graphemes`, FAMILY.repeat(units))
      }
      if (def.maxGraphemes !== undefined) {
        if (def.maxLength === undefined || 3 * def.maxGraphemes <= def.maxLength) {
          yield at(`${def.maxGraphemes} graphemes of 2 code points`, ACCENTED.repeat(def.maxGraphemes))
          yield at(`${def.maxGraphemes + 1} graphemes of 2 code points`, ACCENTED.repeat(def.maxGraphemes + 1))
        }
        yield at(`${def.maxGraphemes + 1} graphemes`, 'x'.repeat(def.maxGraphemes + 1))
      }
      break
    case 'integer':
      yield at('integer replaced by a string', '1')
      if (def.minimum !== undefined) {
        yield at(`minimum ${def.minimum}`, def.minimum)
        yield at(`below minimum ${def.minimum}`, def.minimum - 1)
      }
      if (def.maximum !== undefined) yield at(`above maximum ${def.maximum}`, def.maximum + 1)
      break
    case 'boolean':
      yield at('boolean replaced by a string', 'true')
      break
    case 'blob':
      yield at('blob replaced by a string', 'blob')
      yield at('legacy blob reference', { cid: BLOB_CID, mimeType: value.mimeType }, 'legacy blob')
      if (def.accept && !def.accept.includes('*/*')) {
        const refused = def.accept.some((a) => a.startsWith('image/')) ? 'video/mp4' : 'image/png'
        yield at(`blob of MIME type ${refused}`, { ...value, mimeType: refused }, 'blob accept')
      }
      if (def.maxSize !== undefined) {
        yield at(`blob of ${def.maxSize} bytes (the most allowed)`, { ...value, size: def.maxSize })
        yield at(`blob over ${def.maxSize} bytes`, { ...value, size: def.maxSize + 1 }, 'blob maxSize')
      }
      break
  }
}

function apply(record, path, value) {
  const copy = structuredClone(record)
  let parent = copy
  for (const key of path.slice(0, -1)) parent = parent[key]
  const last = path[path.length - 1]
  if (value === undefined) delete parent[last]
  else parent[last] = value
  return copy
}

function referenceVerdict(record) {
  try {
    lexicons.assertValidRecord(record.$type, jsonToLex(record))
    return 'valid'
  } catch {
    return 'invalid'
  }
}

function keyOf(nsid) {
  const key = lexicons.getDefOrThrow(nsid).key
  if (key === 'tid') return undefined
  return key.startsWith('literal:') ? key.slice('literal:'.length) : 'anykey'
}

/** The corpus: every base record, its mutations, and the record-key cases. */
function corpus() {
  const cases = []
  for (const base of BASES) {
    const def = lexicons.getDefOrThrow(base.$type)
    cases.push({ name: `${base.$type}: the valid base record`, record: base, rkey: keyOf(base.$type) })
    for (const m of mutations(def.record, base, [])) {
      cases.push({
        name: `${base.$type} /${m.path.join('/')}: ${m.what}`,
        record: apply(base, m.path, m.value),
        rkey: keyOf(base.$type),
        byDesign: m.byDesign,
      })
    }
  }
  // Record keys: a profile under a TID, a post under `self`.
  const profile = BASES.find((b) => b.$type === 'app.bsky.actor.profile')
  cases.push({ name: 'profile under a TID key', record: profile, rkey: '3kabcdefghij2', byDesign: 'record key' })
  cases.push({ name: 'post under the key self', record: BASES[0], rkey: 'self', byDesign: 'record key' })
  return cases
}

describe('Lexicon validation agrees with the reference validator', () => {
  let env
  let agent
  let did

  before(async () => {
    env = await startNode()
    agent = new AtpAgent({ service: env.localUrl })
    const handle = `lex${Date.now().toString(36)}.test`
    const { data } = await agent.createAccount({ handle, password: 'lexicon e2e', email: `${handle}@example.com` })
    did = data.did
  })

  after(async () => {
    await env?.stop()
  })

  async function ourVerdict({ record, rkey }) {
    const collection = record.$type
    try {
      const { data } = rkey
        ? await agent.com.atproto.repo.putRecord({ repo: did, collection, rkey, record })
        : await agent.com.atproto.repo.createRecord({ repo: did, collection, record })
      assert.equal(data.validationStatus, 'valid', `${collection} accepted without validationStatus valid`)
      return 'valid'
    } catch (err) {
      if (err?.status === 400 && err?.error === 'InvalidRequest') return 'invalid'
      // The corpus's blob references name no uploaded blob. The node checks the Lexicon first and
      // the blobs after it, so `BlobNotFound` means the record passed Lexicon validation.
      if (err?.status === 400 && err?.error === 'BlobNotFound') return 'valid'
      throw err
    }
  }

  test('every generated record gets the reference verdict (or differs by design)', async () => {
    const cases = corpus()
    let agree = 0
    const byDesign = []
    const unexpected = []
    for (const c of cases) {
      const ours = await ourVerdict(c)
      const reference = c.byDesign === 'record key' ? 'valid' : referenceVerdict(c.record)
      if (c.name.endsWith('the valid base record')) assert.equal(reference, 'valid', `${c.name} (reference)`)
      if (ours === reference) agree += 1
      else if (c.byDesign && ours === 'invalid' && reference === 'valid') byDesign.push(`${c.name} [${c.byDesign}]`)
      else unexpected.push(`${c.name}: ours ${ours}, reference ${reference}`)
    }
    const invalid = cases.filter((c) => referenceVerdict(c.record) === 'invalid').length
    console.log(
      `lexicon cross-check: ${cases.length} records (${invalid} invalid for the reference), ` +
        `${agree} verdicts agree with @atproto/api's validator, ${byDesign.length} differ by design ` +
        `(checks it does not make: blob accept/maxSize, legacy blobs, record keys), ${unexpected.length} differ otherwise`,
    )
    for (const line of byDesign) console.log(`  by design: ${line}`)
    assert.deepEqual(unexpected, [])
    assert.ok(cases.length > 200, `only ${cases.length} cases`)
  })
})
