// The client against a Go peer over TCP: dial, verify, call, errors,
// datasets verified piece by piece, and a peer that lies about a piece.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { tcp } from '@libp2p/tcp'
import { createNode, dial, Code, PapiError, PIECE_SIZE } from '../dist/index.js'
import { startFixture, patterned } from './fixture.js'

let fx, node

before(async () => {
  fx = await startFixture()
  node = await createNode({ transports: [tcp()] })
})

after(async () => {
  await node?.stop()
  fx?.stop()
})

const isPapiError = (code, reason) => (err) => {
  assert.ok(err instanceof PapiError, `${err}`)
  assert.equal(err.code, code, err.message)
  if (reason !== undefined) assert.equal(err.reason, reason, err.message)
  return true
}

test('dial by bundle hash and by API hash verifies and calls', async () => {
  for (const h of [fx.hash, fx.api_hash]) {
    const c = await dial(node, h, fx.honest[0])
    assert.equal(c.hash, fx.hash)
    assert.equal(c.apiHash, fx.api_hash)
    assert.deepEqual(c.datasets.map((d) => d.name), ['pattern', 'stations'])
    const out = await c.call('Nearest', { lat: 41.39, lon: 2.17, limit: 2 })
    assert.deepEqual(out.stations.map((s) => s.id), ['bcn-1', 'bcn-2'])
    c.close()
  }
})

test('calls fail with the codes and reasons Go callers get', async () => {
  const c = await dial(node, fx.hash, fx.honest[0])
  const cases = [
    ['a required field left out', 'Nearest', { lat: 41.39, lon: 2.17 }, Code.INVALID_ARGUMENT, 'precondition'],
    ['a maximum broken', 'Nearest', { lat: 41.39, lon: 2.17, limit: 100 }, Code.INVALID_ARGUMENT, 'precondition'],
    ['a method the API lacks', 'Farthest', { lat: 0, lon: 0, limit: 1 }, Code.UNIMPLEMENTED, 'unknown_method']
  ]
  for (const [name, method, req, code, reason] of cases) {
    await assert.rejects(c.call(method, req), isPapiError(code, reason), name)
  }
  // Calls after errors still run on the same session.
  const out = await c.call('Nearest', { lat: 41.98, lon: 2.82, limit: 1 })
  assert.equal(out.stations[0].id, 'gir-1')
  c.close()
})

test('many calls in flight on one session come back to their callers', async () => {
  const c = await dial(node, fx.hash, fx.honest[0])
  const points = [[41.39, 2.17, 'bcn-1'], [41.98, 2.82, 'gir-1'], [41.41, 2.19, 'bcn-4'], [41.40, 2.156, 'bcn-3']]
  const all = await Promise.all(Array.from({ length: 40 }, (_, i) => points[i % points.length]).map(([lat, lon]) => c.call('Nearest', { lat, lon, limit: 1 })))
  all.forEach((out, i) => assert.equal(out.stations[0].id, points[i % points.length][2]))
  c.close()
})

test('a hash the peer does not serve is not found', async () => {
  const other = 'bafyr4iczyanvnevrpykxrpsozfnqfeme4unhywnrg5mrfb3sewo73oma7a'
  await assert.rejects(dial(node, other, fx.honest[0]), isPapiError(Code.NOT_FOUND, 'not_served'))
  await assert.rejects(dial(node, 'not-a-hash', fx.honest[0]), isPapiError(Code.INVALID_ARGUMENT, 'malformed'))
})

test('a dataset arrives verified, piece by piece, with progress', async () => {
  const c = await dial(node, fx.hash, fx.honest[0])
  const progress = []
  const got = await c.fetchDatasetBytes('pattern', { onProgress: (p) => progress.push(p.verified) })
  assert.equal(got.length, fx.pattern_size)
  const content = patterned(fx.pattern_size - 5) // after the CBOR byte string header
  assert.deepEqual(got.subarray(5), content)
  assert.equal(progress.length, Math.ceil(fx.pattern_size / PIECE_SIZE))
  assert.equal(progress.at(-1), fx.pattern_size)
  assert.ok(progress.every((v, i) => i === 0 || v > progress[i - 1]))
  c.close()
})

test('a peer that lies about a piece is caught at that piece, by its offset', async () => {
  const c = await dial(node, fx.hash, fx.liar[0])
  const yielded = []
  await assert.rejects(async () => {
    for await (const p of c.fetchDataset('pattern')) yielded.push(p.offset)
  }, (err) => isPapiError(Code.DATA_LOSS, 'hash_mismatch')(err) && err.offset === fx.corrupt_piece)
  assert.deepEqual(yielded, [0], 'only the pieces before the bad one were given out')
  c.close()
})
