// Verification of dataset pieces against a BLAKE3 root with a bao outboard
// tree, as papi's Go peers make it (lukechampine.com/blake3/bao, chunk
// groups of 2^8). No npm package verifies bao, and BLAKE3 libraries hide
// the chaining values a subtree needs, so the compression function is here.

/** PIECE_SIZE is the unit in which datasets move and verify: 256 KiB. */
export const PIECE_SIZE = 256 * 1024

const CHUNK = 1024
const CHUNK_START = 1
const CHUNK_END = 2
const PARENT = 4
const ROOT = 8

const IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
])

// Message word order of each of the seven rounds: the permutation applied
// again and again, written out once.
const SCHEDULE: number[][] = (() => {
  const perm = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
  const out: number[][] = []
  let s = [...Array(16).keys()]
  for (let r = 0; r < 7; r++) {
    out.push(s)
    s = perm.map((p) => s[p])
  }
  return out
})()

const v = new Uint32Array(16)

function g (a: number, b: number, c: number, d: number, x: number, y: number): void {
  v[a] = (v[a] + v[b] + x) | 0
  let t = v[d] ^ v[a]; v[d] = (t >>> 16) | (t << 16)
  v[c] = (v[c] + v[d]) | 0
  t = v[b] ^ v[c]; v[b] = (t >>> 12) | (t << 20)
  v[a] = (v[a] + v[b] + y) | 0
  t = v[d] ^ v[a]; v[d] = (t >>> 8) | (t << 24)
  v[c] = (v[c] + v[d]) | 0
  t = v[b] ^ v[c]; v[b] = (t >>> 7) | (t << 25)
}

/** compress runs BLAKE3's compression and writes the chaining value into out. */
function compress (cv: Uint32Array, m: Uint32Array, counter: number, blockLen: number, flags: number, out: Uint32Array): void {
  for (let i = 0; i < 8; i++) v[i] = cv[i]
  v[8] = IV[0]; v[9] = IV[1]; v[10] = IV[2]; v[11] = IV[3]
  v[12] = counter >>> 0
  v[13] = Math.floor(counter / 0x100000000) >>> 0
  v[14] = blockLen
  v[15] = flags
  for (let r = 0; r < 7; r++) {
    const s = SCHEDULE[r]
    g(0, 4, 8, 12, m[s[0]], m[s[1]])
    g(1, 5, 9, 13, m[s[2]], m[s[3]])
    g(2, 6, 10, 14, m[s[4]], m[s[5]])
    g(3, 7, 11, 15, m[s[6]], m[s[7]])
    g(0, 5, 10, 15, m[s[8]], m[s[9]])
    g(1, 6, 11, 12, m[s[10]], m[s[11]])
    g(2, 7, 8, 13, m[s[12]], m[s[13]])
    g(3, 4, 9, 14, m[s[14]], m[s[15]])
  }
  for (let i = 0; i < 8; i++) out[i] = v[i] ^ v[i + 8]
}

const block = new Uint32Array(16)
const blockBytes = new Uint8Array(block.buffer)
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

function loadBlock (b: Uint8Array, off: number, n: number): void {
  if (n === 64 && littleEndian) {
    blockBytes.set(b.subarray(off, off + 64))
    return
  }
  blockBytes.fill(0)
  blockBytes.set(b.subarray(off, off + n))
  if (!littleEndian) {
    for (let i = 0; i < 16; i++) {
      const j = 4 * i
      block[i] = blockBytes[j] | (blockBytes[j + 1] << 8) | (blockBytes[j + 2] << 16) | (blockBytes[j + 3] << 24)
    }
  }
}

/** chunkCV hashes up to 1 KiB of b from off as chunk number counter. */
function chunkCV (b: Uint8Array, off: number, n: number, counter: number, root: boolean): Uint32Array {
  const cv = IV.slice()
  const blocks = Math.max(1, Math.ceil(n / 64))
  for (let i = 0; i < blocks; i++) {
    const len = Math.min(64, n - 64 * i)
    loadBlock(b, off + 64 * i, len)
    let flags = 0
    if (i === 0) flags |= CHUNK_START
    if (i === blocks - 1) flags |= CHUNK_END | (root ? ROOT : 0)
    compress(cv, block, counter, len, flags, cv)
  }
  return cv
}

function parentCV (l: Uint32Array, r: Uint32Array, root: boolean): Uint32Array {
  const m = new Uint32Array(16)
  m.set(l); m.set(r, 8)
  const out = new Uint32Array(8)
  compress(IV, m, 0, 64, PARENT | (root ? ROOT : 0), out)
  return out
}

/** largestPow2Below is the split of a subtree of n bytes: the left part. */
function largestPow2Below (n: number): number {
  let p = 1
  while (p * 2 < n) p *= 2
  return p
}

/** subtreeCV is the BLAKE3 chaining value of b[off, off+n) at byte pos of the whole input. */
function subtreeCV (b: Uint8Array, off: number, n: number, pos: number, root: boolean): Uint32Array {
  if (n <= CHUNK) return chunkCV(b, off, n, pos / CHUNK, root)
  const mid = largestPow2Below(n)
  return parentCV(subtreeCV(b, off, mid, pos, false), subtreeCV(b, off + mid, n - mid, pos + mid, false), root)
}

function cvOf (b: Uint8Array, off: number): Uint32Array {
  const cv = new Uint32Array(8)
  for (let i = 0; i < 8; i++) {
    const j = off + 4 * i
    cv[i] = (b[j] | (b[j + 1] << 8) | (b[j + 2] << 16) | (b[j + 3] << 24)) >>> 0
  }
  return cv
}

function equal (a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false
  return true
}

/** outboardSize is the length of a dataset's outboard tree. */
export function outboardSize (size: number): number {
  return size === 0 ? 8 : 8 + 64 * (Math.ceil(size / PIECE_SIZE) - 1)
}

/** blake3 hashes bytes whole: the BLAKE3-256 digest. */
export function blake3 (b: Uint8Array): Uint8Array {
  const cv = subtreeCV(b, 0, b.length, 0, true)
  const out = new Uint8Array(32)
  for (let i = 0; i < 8; i++) {
    out[4 * i] = cv[i]; out[4 * i + 1] = cv[i] >>> 8; out[4 * i + 2] = cv[i] >>> 16; out[4 * i + 3] = cv[i] >>> 24
  }
  return out
}

/**
 * PieceVerifier checks pieces of one dataset against its root. It is made
 * from an outboard tree, which it checks whole first: a piece that fails
 * later is bad data, not a bad tree.
 */
export class PieceVerifier {
  readonly size: number
  readonly pieces: number
  private readonly leaves: Uint32Array[]
  private readonly oneLeaf: boolean

  constructor (outboard: Uint8Array, size: number, root: Uint8Array) {
    if (outboard.length !== outboardSize(size)) {
      throw new Error(`outboard of ${outboard.length} bytes for ${size} bytes of data`)
    }
    const declared = new DataView(outboard.buffer, outboard.byteOffset, 8).getBigUint64(0, true)
    if (declared !== BigInt(size)) throw new Error(`outboard is for ${declared} bytes, data has ${size}`)
    this.size = size
    this.pieces = Math.max(1, Math.ceil(size / PIECE_SIZE))
    this.oneLeaf = size <= PIECE_SIZE
    this.leaves = []
    let pos = 8
    const walk = (cv: Uint32Array, n: number, isRoot: boolean): boolean => {
      if (n <= PIECE_SIZE) {
        this.leaves.push(cv)
        return true
      }
      const l = cvOf(outboard, pos)
      const r = cvOf(outboard, pos + 32)
      pos += 64
      const mid = largestPow2Below(n)
      return equal(parentCV(l, r, isRoot), cv) && walk(l, mid, false) && walk(r, n - mid, false)
    }
    if (!walk(cvOf(root, 0), size, true)) throw new Error('outboard tree does not match the hash')
  }

  /** verify reports whether piece, the bytes at offset (a multiple of PIECE_SIZE), are the dataset's. */
  verify (offset: number, piece: Uint8Array): boolean {
    if (offset % PIECE_SIZE !== 0 || offset > this.size) return false
    const want = Math.min(PIECE_SIZE, this.size - offset)
    if (piece.length !== want) return false
    const i = offset / PIECE_SIZE
    return equal(subtreeCV(piece, 0, piece.length, offset, this.oneLeaf), this.leaves[i])
  }
}
