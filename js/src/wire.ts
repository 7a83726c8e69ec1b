// The framing of papi's three stream protocols (docs/wire.md).

import { Decoder, Encoder } from '@msgpack/msgpack'
import type { Stream } from '@libp2p/interface'
import * as cborg from 'cborg'

export const PROTOCOL_RPC = '/papi/rpc/1.0.0'
export const PROTOCOL_BODY = '/papi/body/1.0.0'
export const PROTOCOL_DATA = '/papi/data/1.0.0'
export const SERVICE = { Name: 'PapiRPC', Method: 'Session' }

/** Call is a message of a session, client to server. */
export interface Call {
  i: number
  k?: number
  t?: string
  m?: string
  d?: number
  p?: Uint8Array
}

/** Reply answers a Call; byte fields are bytes whatever msgpack type carried them. */
export interface Reply {
  i: number
  c: number
  e: string
  p?: Uint8Array
  b?: Uint8Array
  s: number
}

const encoder = new Encoder({ ignoreUndefined: true })

/** encodeCall writes a Call as the Go peer reads it: payload as msgpack bin. */
export function encodeCall (c: Call): Uint8Array {
  return encoder.encode(c)
}

export function encodeServiceHeader (): Uint8Array {
  return encoder.encode(SERVICE)
}

const text = new TextDecoder()

function asText (v: unknown): string {
  if (v instanceof Uint8Array) return text.decode(v)
  return typeof v === 'string' ? v : ''
}

function asBytes (v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v
  if (typeof v === 'string') return new TextEncoder().encode(v)
  return undefined
}

function asNumber (v: unknown): number {
  if (typeof v === 'bigint') return Number(v)
  return typeof v === 'number' ? v : 0
}

/**
 * newDecoder reads msgpack with str kept as bytes: gorpc's codec writes Go
 * []byte as str, and a payload is CBOR, not text.
 */
export function newDecoder (): Decoder {
  return new Decoder({ rawStrings: true, useBigInt64: false })
}

/** toReply reads a decoded Reply map. */
export function toReply (m: unknown): Reply {
  const o = (m ?? {}) as Record<string, unknown>
  return { i: asNumber(o.i), c: asNumber(o.c), e: asText(o.e), p: asBytes(o.p), b: asBytes(o.b), s: asNumber(o.s) }
}

/** toHeader reads a gorpc Response header: the error that ends a session, if any. */
export function toHeader (m: unknown): { error: string } {
  const o = (m ?? {}) as Record<string, unknown>
  return { error: asText(o.Error) }
}

export function uvarint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** frame is a body protocol frame: uvarint length, canonical CBOR. */
export function frame (v: unknown): Uint8Array {
  const b = cborg.encode(v)
  return concat(uvarint(b.length), b)
}

/** dataRequest asks for a dataset's outboard (kind 1) or a range of it (kind 2). */
export function dataRequest (kind: number, digest: Uint8Array, offset: number, length: number): Uint8Array {
  return concat(Uint8Array.of(kind), digest, uvarint(offset), uvarint(length))
}

/** StreamReader reads exact byte counts from a libp2p stream. */
export class StreamReader {
  private readonly it: AsyncIterator<Uint8Array | { subarray: () => Uint8Array }>
  private buf: Uint8Array = new Uint8Array(0)

  constructor (stream: Stream) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | { subarray: () => Uint8Array }>
  }

  private async fill (): Promise<void> {
    const { done, value } = await this.it.next()
    if (done === true) throw new Error('stream ended')
    const chunk = value instanceof Uint8Array ? value : value.subarray()
    this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk)
  }

  /** read returns the next n bytes. */
  async read (n: number): Promise<Uint8Array> {
    while (this.buf.length < n) await this.fill()
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  /** readInto reads exactly dst.length bytes into dst, with no copy of the whole. */
  async readInto (dst: Uint8Array): Promise<void> {
    let off = 0
    while (off < dst.length) {
      if (this.buf.length === 0) await this.fill()
      const n = Math.min(this.buf.length, dst.length - off)
      dst.set(this.buf.subarray(0, n), off)
      this.buf = this.buf.subarray(n)
      off += n
    }
  }

  async byte (): Promise<number> {
    return (await this.read(1))[0]
  }

  async uvarint (): Promise<number> {
    let n = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      const b = await this.byte()
      n += (b & 0x7f) * mul
      if (b < 0x80) return n
      mul *= 0x80
    }
    throw new Error('uvarint too long')
  }
}
