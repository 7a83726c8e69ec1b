import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { blake3 as noble } from '@noble/hashes/blake3.js'
import { PieceVerifier, PIECE_SIZE, blake3, outboardSize } from '../dist/bao.js'

const vector = JSON.parse(readFileSync(new URL('../../testdata/wire/bao.json', import.meta.url)))
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'))

function patterned (n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (7 * i + 3) & 0xff
  return b
}

test('blake3 agrees with @noble/hashes across chunk and piece boundaries', () => {
  for (const n of [0, 1, 64, 65, 1023, 1024, 1025, 2048, 3073, PIECE_SIZE, PIECE_SIZE + 1, 600000]) {
    const b = patterned(n)
    assert.deepEqual(blake3(b), noble(b), `${n} bytes`)
  }
})

test('pieces of the vector dataset verify, and a flipped byte fails its piece only', () => {
  assert.equal(vector.piece_size, PIECE_SIZE)
  const data = patterned(vector.size)
  const outboard = hex(vector.outboard_hex)
  assert.equal(outboard.length, outboardSize(vector.size))
  const v = new PieceVerifier(outboard, vector.size, hex(vector.root_hex))
  assert.equal(v.pieces, 3)
  for (let off = 0; off < data.length; off += PIECE_SIZE) {
    assert.ok(v.verify(off, data.subarray(off, off + PIECE_SIZE)), `piece at ${off}`)
  }
  const bad = data.slice()
  bad[vector.corrupt_offset] ^= 0xff
  for (let off = 0; off < data.length; off += PIECE_SIZE) {
    assert.equal(v.verify(off, bad.subarray(off, off + PIECE_SIZE)), off !== vector.corrupt_piece_offset, `piece at ${off}`)
  }
})

test('a tampered outboard or a wrong size is refused before any piece', () => {
  const outboard = hex(vector.outboard_hex)
  const root = hex(vector.root_hex)
  const cases = [
    ['a parent changed', () => { const o = outboard.slice(); o[40] ^= 1; return [o, vector.size, root] }],
    ['another size', () => [outboard, vector.size - 1, root]],
    ['truncated', () => [outboard.subarray(0, outboard.length - 1), vector.size, root]],
    ['another root', () => { const r = root.slice(); r[0] ^= 1; return [outboard, vector.size, r] }]
  ]
  for (const [name, make] of cases) {
    assert.throws(() => new PieceVerifier(...make()), Error, name)
  }
})

test('a one-piece dataset verifies against its plain BLAKE3 hash', () => {
  for (const n of [0, 1000, PIECE_SIZE]) {
    const data = patterned(n)
    const ob = new Uint8Array(8)
    new DataView(ob.buffer).setBigUint64(0, BigInt(n), true)
    const v = new PieceVerifier(ob, n, noble(data))
    assert.ok(v.verify(0, data), `${n} bytes`)
  }
})
