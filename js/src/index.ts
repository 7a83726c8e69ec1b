// papi's JavaScript client: dial a papi API by hash, verify it, call it,
// and fetch its datasets verified piece by piece. See docs/wire.md.

export { dial, verifyDescription, Client } from './client.js'
export type { CallOptions, FetchOptions, Progress, Piece, DatasetInfo } from './client.js'
export { createNode } from './node.js'
export type { NodeOptions } from './node.js'
export { Code, codeName, PapiError } from './errors.js'
export { PieceVerifier, PIECE_SIZE, blake3, outboardSize } from './bao.js'
