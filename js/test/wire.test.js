// The vectors of docs/wire.md, which the Go tests check too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { encodeCall, encodeServiceHeader, newDecoder, toReply, toHeader } from '../dist/wire.js'
import { verifyDescription, Code, codeName, PapiError } from '../dist/index.js'
import { CID } from 'multiformats/cid'
import * as cborg from 'cborg'

const load = (name) => JSON.parse(readFileSync(new URL(`../../testdata/wire/${name}`, import.meta.url)))
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b) => Buffer.from(b).toString('hex')

test('session messages read as the vectors say and JavaScript writes the js_hex encodings', () => {
  const { vectors } = load('transport.json')
  for (const v of vectors.filter((v) => v.protocol === '/papi/rpc/1.0.0')) {
    const decoded = newDecoder().decode(hex(v.go_hex))
    switch (v.message) {
      case 'ServiceID':
        assert.equal(toHex(encodeServiceHeader()), v.go_hex, v.name)
        break
      case 'Response':
        assert.equal(toHeader(decoded).error, '', v.name)
        break
      case 'Reply': {
        const r = toReply(decoded)
        assert.equal(r.i, v.fields.i, v.name)
        assert.equal(r.c, v.fields.c ?? 0, v.name)
        assert.equal(r.e, v.fields.e ?? '', v.name)
        assert.equal(toHex(r.p ?? new Uint8Array(0)), v.fields.p ?? '', `${v.name}: payload bytes kept, not text`)
        assert.equal(toHex(r.b ?? new Uint8Array(0)), v.fields.b ?? '', v.name)
        assert.equal(r.s, v.fields.s ?? 0, v.name)
        break
      }
      case 'Call': {
        const c = { i: v.fields.i, k: v.fields.k, t: v.fields.t, m: v.fields.m, d: v.fields.d, p: v.fields.p && hex(v.fields.p) }
        assert.equal(toHex(encodeCall(c)), v.js_hex, v.name)
        break
      }
      default:
        assert.fail(`unknown message ${v.message}`)
    }
  }
})

test('a description verifies against its bundle hash and its API hash, and a changed byte does not', () => {
  const v = load('describe.json')
  const desc = hex(v.description_hex)
  for (const h of [v.bundle_hash, v.api_hash]) {
    const got = verifyDescription(CID.parse(h).multihash.digest, desc)
    assert.equal(typeof got.spec, 'object')
  }
  const d = cborg.decode(desc)
  const tampered = [
    ['manifest', cborg.encode({ ...d, manifest: Uint8Array.from(d.manifest, (x, i) => i === 10 ? x ^ 1 : x) })],
    ['spec', cborg.encode({ ...d, spec: Uint8Array.from(d.spec, (x, i) => i === 10 ? x ^ 1 : x) })]
  ]
  for (const [what, bytes] of tampered) {
    for (const h of [v.bundle_hash, v.api_hash]) {
      assert.throws(() => verifyDescription(CID.parse(h).multihash.digest, bytes),
        (err) => err instanceof PapiError && err.reason === 'hash_mismatch' && err.code === Code.DATA_LOSS, `${what} changed, dialed ${h}`)
    }
  }
})

test('a format 2 manifest links its spec and UnixFS roots by CID; format 1 and other tags are refused', () => {
  const v = load('describe.json')
  const desc = hex(v.description_hex)
  const got = verifyDescription(CID.parse(v.bundle_hash).multihash.digest, desc)
  assert.equal(got.manifest.papi, 2)
  assert.ok(got.manifest.spec instanceof CID)
  assert.equal(got.manifest.spec.toString(), v.api_hash)
  for (const d of got.manifest.datasets) {
    assert.ok(d.unixfs instanceof CID, d.name)
    assert.equal(d.hash.length, 32, d.name)
  }
  const d = cborg.decode(desc)
  const m = Uint8Array.from(d.manifest)
  assert.equal(m[6], 2, 'format byte')
  const format1 = Uint8Array.from(m, (x, i) => i === 6 ? 1 : x)
  const tag = toHex(m).indexOf('d82a') / 2
  const tag43 = Uint8Array.from(m, (x, i) => i === tag + 1 ? 0x2b : x)
  for (const [what, manifest] of [['format 1', format1], ['tag 43', tag43]]) {
    // Dialed by API hash, the spec verifies and the manifest is read.
    assert.throws(() => verifyDescription(CID.parse(v.api_hash).multihash.digest, cborg.encode({ ...d, manifest })),
      (err) => err instanceof PapiError && err.reason === 'malformed' && err.code === Code.INVALID_ARGUMENT, what)
  }
})

test('error codes and reasons are Go\'s', () => {
  const v = load('errors.json')
  for (const [name, code] of Object.entries(v.codes)) {
    assert.equal(codeName(code), name)
    assert.equal(Code[name.toUpperCase()], code)
  }
  assert.deepEqual(cborg.decode(hex(v.precondition_detail_hex)), { reason: 'precondition' })
})
