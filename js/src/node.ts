// A js-libp2p node set up as papi's Go peers expect: Noise, yamux, and
// dials to private and loopback addresses allowed, which a page on a local
// network needs and js-libp2p refuses by default.

import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'

// js-libp2p 3 uses Promise.withResolvers, which Node has from version 22
// on; Debian's Node is 20. The shim is the one the proposal specifies.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> () {
      let resolve!: (v: T | PromiseLike<T>) => void
      let reject!: (e?: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

/** NodeOptions are the transports to dial over, e.g. [tcp()] in Node, [webRTCDirect(), webTransport()] in a page. */
export interface NodeOptions {
  transports: NonNullable<Libp2pOptions['transports']>
}

/** createNode starts a js-libp2p node that dials papi peers and listens on nothing. */
export async function createNode (opts: NodeOptions): Promise<Libp2p> {
  return await createLibp2p({
    transports: opts.transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
}
