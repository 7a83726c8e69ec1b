// Dialing a papi API by hash, verifying it, calling it and fetching its
// datasets piece by piece, over a js-libp2p node.

import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { blake3 } from '@noble/hashes/blake3.js'
import * as cborg from 'cborg'
import { Code, PapiError } from './errors.js'
import { PieceVerifier, PIECE_SIZE, outboardSize } from './bao.js'
import {
  PROTOCOL_BODY, PROTOCOL_DATA, PROTOCOL_RPC, StreamReader, dataRequest, encodeCall,
  encodeServiceHeader, frame, newDecoder, toHeader, toReply, type Reply
} from './wire.js'

const BLAKE3 = 0x1e
const DAG_CBOR = 0x71
const MANIFEST_FORMAT = 2
const CID_TAG = 42
const DESCRIBE = 'papi.describe'

/** DatasetInfo is a dataset the manifest names: its root and size. */
export interface DatasetInfo {
  name: string
  /** hash is the BLAKE3 (bao) root that fetches are verified against. */
  hash: Uint8Array
  size: number
  /** unixfs is the root of the same bytes as IPFS lays them out (UnixFS). */
  unixfs: CID
}

/** CallOptions bound one call. */
export interface CallOptions {
  signal?: AbortSignal
  /** timeoutMs is the call's deadline, which the server holds its handler to too. */
  timeoutMs?: number
}

/** Progress is how far a dataset fetch has come, in verified bytes. */
export interface Progress {
  name: string
  verified: number
  total: number
}

/** FetchOptions configure a dataset fetch. */
export interface FetchOptions {
  signal?: AbortSignal
  /** onProgress is called after each verified piece. */
  onProgress?: (p: Progress) => void
  /** window is how many pieces are asked for ahead of the one being read. Default 8 (2 MiB). */
  window?: number
  /** verify: false skips verification, for measuring what it costs. Default true. */
  verify?: boolean
}

/** Piece is a verified run of a dataset's bytes. */
export interface Piece {
  offset: number
  bytes: Uint8Array
}

function digestOf (hash: string): Uint8Array {
  let cid: CID
  try {
    cid = CID.parse(hash)
  } catch (err) {
    throw new PapiError(Code.INVALID_ARGUMENT, `hash ${hash}: ${String(err)}`, 'malformed')
  }
  if (!isPapiHash(cid)) {
    throw new PapiError(Code.INVALID_ARGUMENT, `hash ${hash}: not a CIDv1 of DAG-CBOR with a BLAKE3 multihash`, 'malformed')
  }
  return cid.multihash.digest
}

/** isPapiHash reports whether cid names a papi manifest or spec: DAG-CBOR, BLAKE3-256. */
function isPapiHash (cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR && cid.multihash.code === BLAKE3 && cid.multihash.digest.length === 32
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function hashString (digest: Uint8Array): string {
  // A CIDv1 string of DAG-CBOR + BLAKE3, as Go's papi.Hash writes it.
  return CID.createV1(DAG_CBOR, Digest.create(BLAKE3, Uint8Array.from(digest))).toString()
}

function decodeCBOR<T> (b: Uint8Array, what: string): T {
  try {
    return cborg.decode(b) as T
  } catch (err) {
    throw new PapiError(Code.INVALID_ARGUMENT, `${what}: ${String(err)}`, 'malformed')
  }
}

// DAG-CBOR's one tag, 42: a CID as a byte string after a zero byte (the
// identity multibase prefix).
const dagTags: cborg.TagDecoder[] = []
dagTags[CID_TAG] = (decode: cborg.TagDecodeControl): CID => {
  const b = decode()
  if (!(b instanceof Uint8Array) || b.length < 2 || b[0] !== 0) throw new Error('tag 42 is not a byte string of a zero byte and a CID')
  return CID.decode(b.subarray(1))
}

/**
 * decodeDAGCBOR decodes a manifest or a spec, DAG-CBOR: definite lengths,
 * integers and lengths in their shortest form, no duplicate keys, no
 * undefined, and no tag but 42.
 */
function decodeDAGCBOR<T> (b: Uint8Array, what: string): T {
  try {
    return cborg.decode(b, {
      tags: dagTags, strict: true, allowIndefinite: false, allowUndefined: false, allowInfinity: false, allowNaN: false, rejectDuplicateMapKeys: true
    }) as T
  } catch (err) {
    throw new PapiError(Code.INVALID_ARGUMENT, `${what}: ${String(err)}`, 'malformed')
  }
}

/** Manifest is a bundle's manifest, format 2. */
interface Manifest {
  papi: number
  spec: CID
  datasets?: Array<{ name: string, hash: Uint8Array, size: number, unixfs: CID }>
  parent?: Uint8Array
  code?: { hash: Uint8Array, size: number, abi: number, unixfs: CID }
  lineage?: Uint8Array[]
}

function malformed (msg: string): PapiError {
  return new PapiError(Code.INVALID_ARGUMENT, `manifest: ${msg}`, 'malformed')
}

/** checkManifest checks what the client relies on in a decoded manifest. */
function checkManifest (m: Manifest): void {
  if (m === null || typeof m !== 'object') throw malformed('not a map')
  if (m.papi !== MANIFEST_FORMAT) throw malformed(`format ${String(m.papi)}, this version reads ${MANIFEST_FORMAT}`)
  if (!(m.spec instanceof CID) || !isPapiHash(m.spec)) throw malformed('spec is not a CID link to a DAG-CBOR BLAKE3 spec')
  if (m.datasets !== undefined && !Array.isArray(m.datasets)) throw malformed('datasets is not a list')
  for (const d of m.datasets ?? []) {
    if (typeof d?.name !== 'string' || !(d.hash instanceof Uint8Array) || d.hash.length !== 32 || typeof d.size !== 'number' || !(d.unixfs instanceof CID)) {
      throw malformed('a dataset lacks a name, a 32-byte hash, a size or a UnixFS link')
    }
  }
  if (m.parent !== undefined && (!(m.parent instanceof Uint8Array) || m.parent.length !== 32)) throw malformed('parent is not a 32-byte hash')
  if (m.lineage !== undefined && (!Array.isArray(m.lineage) || !m.lineage.every((d) => d instanceof Uint8Array && d.length === 32))) {
    throw malformed('lineage is not a list of 32-byte hashes')
  }
}

/**
 * verifyDescription checks a provider's answer to papi.describe against
 * the dialed digest, as Go's Dial does, and returns the decoded documents.
 */
export function verifyDescription (digest: Uint8Array, description: Uint8Array): { manifest: Manifest, spec: unknown, manifestBytes: Uint8Array, specBytes: Uint8Array } {
  const d = decodeCBOR<{ manifest?: Uint8Array, spec?: Uint8Array }>(description, 'description')
  if (!(d.manifest instanceof Uint8Array) || !(d.spec instanceof Uint8Array)) {
    throw new PapiError(Code.INVALID_ARGUMENT, 'description lacks a manifest or a spec', 'malformed')
  }
  const byBundle = sameBytes(blake3(d.manifest), digest)
  const specDigest = blake3(d.spec)
  if (!byBundle && !sameBytes(specDigest, digest)) {
    throw new PapiError(Code.DATA_LOSS, "provider's answer hashes to neither its manifest nor its spec", 'hash_mismatch')
  }
  const manifest = decodeDAGCBOR<Manifest>(d.manifest, 'manifest')
  if (!(manifest?.spec instanceof CID) || !sameBytes(manifest.spec.multihash.digest, specDigest)) {
    throw new PapiError(Code.DATA_LOSS, "provider's manifest names another spec than the one it sent", 'hash_mismatch')
  }
  checkManifest(manifest)
  return { manifest, spec: decodeDAGCBOR(d.spec, 'spec'), manifestBytes: d.manifest, specBytes: d.spec }
}

/** Session is one /papi/rpc/1.0.0 stream carrying many calls. */
class Session {
  private readonly stream: Stream
  private readonly pending = new Map<number, { resolve: (r: Reply) => void, reject: (e: Error) => void }>()
  private nextID = 1
  private failed?: Error

  constructor (stream: Stream) {
    this.stream = stream
    stream.send(encodeServiceHeader())
    void this.read()
  }

  private async read (): Promise<void> {
    const stream = this.stream
    async function * chunks (): AsyncGenerator<Uint8Array> {
      for await (const c of stream) yield c instanceof Uint8Array ? c : c.subarray()
    }
    let err: Error = new PapiError(Code.UNAVAILABLE, 'session closed by the peer')
    try {
      let header = true
      for await (const m of newDecoder().decodeStream(chunks())) {
        if (header) {
          const h = toHeader(m)
          if (h.error !== '') {
            err = new PapiError(Code.UNAVAILABLE, `session ended: ${h.error}`)
            break
          }
          header = false
          continue
        }
        header = true
        const r = toReply(m)
        const p = this.pending.get(r.i)
        this.pending.delete(r.i)
        p?.resolve(r)
      }
    } catch (e) {
      err = new PapiError(Code.UNAVAILABLE, `session: ${String(e)}`)
    }
    this.fail(err)
  }

  private fail (err: Error): void {
    this.failed ??= err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  get dead (): boolean {
    return this.failed !== undefined
  }

  async call (target: string, method: string, payload: Uint8Array | undefined, opts: CallOptions): Promise<Reply> {
    if (this.failed !== undefined) throw this.failed
    opts.signal?.throwIfAborted()
    const id = this.nextID++
    const reply = new Promise<Reply>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    const d = opts.timeoutMs !== undefined ? Math.round(opts.timeoutMs * 1e6) : undefined
    this.stream.send(encodeCall({ i: id, t: target, m: method, d, p: payload !== undefined && payload.length > 0 ? payload : undefined }))
    const stops: Array<() => void> = []
    const ended = new Promise<never>((_resolve, reject) => {
      const abort = (err: Error): void => {
        this.pending.delete(id)
        // Tell the server, so that its handler stops.
        try { this.stream.send(encodeCall({ i: id, k: 1 })) } catch {}
        reject(err)
      }
      if (opts.signal !== undefined) {
        const onAbort = (): void => abort(new PapiError(Code.CANCELED, String(opts.signal?.reason ?? 'aborted')))
        opts.signal.addEventListener('abort', onAbort, { once: true })
        stops.push(() => opts.signal?.removeEventListener('abort', onAbort))
      }
      if (opts.timeoutMs !== undefined) {
        const t = setTimeout(() => abort(new PapiError(Code.DEADLINE_EXCEEDED, `no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs)
        stops.push(() => clearTimeout(t))
      }
    })
    try {
      return await Promise.race([reply, ended])
    } finally {
      for (const s of stops) s()
    }
  }

  close (): void {
    void this.stream.close().catch(() => {})
  }
}

/**
 * Client calls one bundle at one peer, after verifying the bundle's
 * manifest and spec against the hash it was dialed by.
 */
export class Client {
  /** hash is the bundle hash, which the dialed hash names or whose API it names. */
  readonly hash: string
  /** apiHash names the spec alone. */
  readonly apiHash: string
  /** spec is the API's spec, decoded from CBOR, verified. */
  readonly spec: unknown
  /** datasets are the bundle's datasets, as its verified manifest names them. */
  readonly datasets: DatasetInfo[]
  private readonly conn: Connection
  private readonly target: string
  private session?: Session

  /** @internal */
  constructor (conn: Connection, target: string, described: ReturnType<typeof verifyDescription>) {
    this.conn = conn
    this.target = target
    this.hash = hashString(blake3(described.manifestBytes))
    this.apiHash = hashString(described.manifest.spec.multihash.digest)
    this.spec = described.spec
    this.datasets = (described.manifest.datasets ?? []).map((d) => ({ name: d.name, hash: d.hash, size: Number(d.size), unixfs: d.unixfs }))
  }

  private async sessionNow (): Promise<Session> {
    if (this.session === undefined || this.session.dead) {
      this.session = new Session(await this.conn.newStream(PROTOCOL_RPC))
    }
    return this.session
  }

  /** callBytes calls method with a CBOR request and returns the CBOR response. */
  async callBytes (method: string, payload: Uint8Array | undefined, opts: CallOptions = {}): Promise<Uint8Array> {
    const s = await this.sessionNow()
    const r = await s.call(this.target, method, payload, opts)
    let body = r.p ?? new Uint8Array(0)
    if (r.b !== undefined && r.b.length > 0) body = await this.fetchBody(r.b, opts)
    if (r.c !== 0) {
      let reason: string | undefined
      try {
        const d = cborg.decode(body) as { reason?: string }
        reason = d?.reason
      } catch {}
      throw new PapiError(r.c, r.e, reason)
    }
    return body
  }

  /** call calls method with req, encoded as CBOR, and decodes the response. */
  async call<Req, Resp> (method: string, req: Req, opts: CallOptions = {}): Promise<Resp> {
    return cborg.decode(await this.callBytes(method, cborg.encode(req), opts)) as Resp
  }

  private async fetchBody (token: Uint8Array, opts: CallOptions): Promise<Uint8Array> {
    const st = await this.conn.newStream(PROTOCOL_BODY, { signal: opts.signal })
    try {
      st.send(frame({ b: token }))
      const r = new StreamReader(st)
      const n = await r.uvarint()
      if (n > 4096) throw new PapiError(Code.RESOURCE_EXHAUSTED, `body reply header of ${n} bytes`, 'too_large')
      const rep = cborg.decode(await r.read(n)) as { c?: number, e?: string, s?: number }
      const body = new Uint8Array(rep.s ?? 0)
      await r.readInto(body)
      if ((rep.c ?? 0) !== 0) throw new PapiError(rep.c ?? 0, rep.e ?? '')
      return body
    } finally {
      void st.close().catch(() => {})
    }
  }

  /**
   * fetchDataset yields a dataset's bytes in pieces, each verified against
   * the dataset's BLAKE3 root before it is yielded; at most window pieces
   * are held at once, whatever the dataset's size. A piece that does not
   * verify fails the fetch with a PapiError of code DATA_LOSS, reason
   * "hash_mismatch", and the piece's offset.
   */
  async * fetchDataset (name: string, opts: FetchOptions = {}): AsyncGenerator<Piece> {
    const ds = this.datasets.find((d) => d.name === name)
    if (ds === undefined) throw new PapiError(Code.NOT_FOUND, `the bundle has no dataset ${name}`)
    const st = await this.conn.newStream(PROTOCOL_DATA, { signal: opts.signal })
    const r = new StreamReader(st)
    const answer = async (want: number): Promise<void> => {
      const status = await r.byte()
      const n = await r.uvarint()
      if (status === 1) throw new PapiError(Code.NOT_FOUND, `the peer does not seed ${name}`)
      if (status !== 0) throw new PapiError(Code.UNAVAILABLE, `the peer failed on ${name} (status ${status})`)
      if (n !== want) throw new PapiError(Code.DATA_LOSS, `the peer answered ${n} bytes, asked for ${want}`, 'hash_mismatch')
    }
    try {
      st.send(dataRequest(1, ds.hash, 0, 0))
      const obSize = outboardSize(ds.size)
      await answer(obSize)
      const ob = await r.read(obSize)
      let verifier: PieceVerifier
      try {
        verifier = new PieceVerifier(ob.slice(), ds.size, ds.hash)
      } catch (err) {
        throw new PapiError(Code.DATA_LOSS, `${name}: ${String(err)}`, 'hash_mismatch')
      }
      const window = Math.max(1, opts.window ?? 8)
      let asked = 0
      const ask = (): void => {
        while (asked < ds.size && asked < (verified + window * PIECE_SIZE)) {
          const n = Math.min(PIECE_SIZE, ds.size - asked)
          st.send(dataRequest(2, ds.hash, asked, n))
          asked += n
        }
      }
      let verified = 0
      ask()
      while (verified < ds.size) {
        opts.signal?.throwIfAborted()
        const n = Math.min(PIECE_SIZE, ds.size - verified)
        await answer(n)
        const piece = new Uint8Array(n)
        await r.readInto(piece)
        if (opts.verify !== false && !verifier.verify(verified, piece)) {
          throw new PapiError(Code.DATA_LOSS, `${name}: the piece at offset ${verified} does not match the dataset's hash`, 'hash_mismatch', verified)
        }
        const offset = verified
        verified += n
        ask()
        opts.onProgress?.({ name, verified, total: ds.size })
        yield { offset, bytes: piece }
      }
    } catch (err) {
      st.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
    void st.close().catch(() => {})
  }

  /** fetchDatasetBytes fetches a whole dataset, verified, into memory. */
  async fetchDatasetBytes (name: string, opts: FetchOptions = {}): Promise<Uint8Array> {
    const ds = this.datasets.find((d) => d.name === name)
    if (ds === undefined) throw new PapiError(Code.NOT_FOUND, `the bundle has no dataset ${name}`)
    const out = new Uint8Array(ds.size)
    for await (const p of this.fetchDataset(name, opts)) out.set(p.bytes, p.offset)
    return out
  }

  /** close ends the client's session; the connection stays with the node. */
  close (): void {
    this.session?.close()
  }
}

/**
 * dial connects node to the peer at addr, asks it for the bundle or API
 * named by hash, and verifies the manifest and spec against the hash (BLAKE3)
 * before returning a Client: no call is made to a peer whose answer does
 * not verify.
 */
export async function dial (node: Libp2p, hash: string, addr: string | Multiaddr, opts: CallOptions = {}): Promise<Client> {
  const digest = digestOf(hash)
  const ma = typeof addr === 'string' ? multiaddr(addr) : addr
  let conn: Connection
  try {
    conn = await node.dial(ma, { signal: opts.signal })
  } catch (err) {
    throw new PapiError(Code.UNAVAILABLE, `dial ${ma.toString()}: ${String(err)}`)
  }
  const probe = new Session(await conn.newStream(PROTOCOL_RPC, { signal: opts.signal }))
  try {
    const r = await probe.call(hash, DESCRIBE, undefined, opts)
    if (r.c !== 0) {
      let reason: string | undefined
      try { reason = (cborg.decode(r.p ?? new Uint8Array(0)) as { reason?: string })?.reason } catch {}
      throw new PapiError(r.c, r.e, reason)
    }
    return new Client(conn, hash, verifyDescription(digest, r.p ?? new Uint8Array(0)))
  } finally {
    probe.close()
  }
}
