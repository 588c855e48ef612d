// Identity helpers of the end-to-end suite: what the PLC directory publishes about an account.
import assert from 'node:assert/strict'
import { P256_JWT_ALG, SECP256K1_JWT_ALG, formatDidKey, multibaseToBytes } from '@atproto/crypto'

/** The JWT algorithm of each legacy verification method type a PLC directory may serve. */
const LEGACY_KEY_TYPES = {
  EcdsaSecp256k1VerificationKey2019: SECP256K1_JWT_ALG,
  EcdsaSecp256r1VerificationKey2019: P256_JWT_ALG,
}

/**
 * The atproto signing key (`did:key:...`) from the DID document the PLC directory serves at
 * `/<did>`, cross-checked with the operation data at `/<did>/data`.
 */
export async function signingKeyFromPlc(plcUrl, did) {
  const res = await fetch(`${plcUrl}/${encodeURIComponent(did)}`)
  assert.equal(res.status, 200, `PLC directory has no document for ${did}`)
  const doc = await res.json()
  assert.equal(doc.id, did)
  const method = (doc.verificationMethod ?? []).find((m) => m.id === `${did}#atproto` || m.id === '#atproto')
  assert.ok(method, 'the DID document has an #atproto verification method')
  let didKey
  if (method.type === 'Multikey') {
    didKey = `did:key:${method.publicKeyMultibase}`
  } else {
    // Older directories publish the bare compressed point with its curve in the type name.
    const alg = LEGACY_KEY_TYPES[method.type]
    assert.ok(alg, `unknown verification method type ${method.type}`)
    didKey = formatDidKey(alg, multibaseToBytes(method.publicKeyMultibase))
  }
  const data = await (await fetch(`${plcUrl}/${encodeURIComponent(did)}/data`)).json()
  assert.equal(data.verificationMethods?.atproto, didKey, 'the document and the PLC operation agree')
  return didKey
}
