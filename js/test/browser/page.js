// What the browser test runs in the page: the client over WebRTC-direct
// or WebTransport, against the Go fixture.
import { createNode, dial, PapiError } from '../../dist/index.js'
import { webRTCDirect } from '@libp2p/webrtc'
import { webTransport } from '@libp2p/webtransport'

window.papiRun = async ({ hash, honest, liar }) => {
  const node = await createNode({ transports: [webRTCDirect(), webTransport()] })
  const out = {}
  try {
    const t0 = performance.now()
    const c = await dial(node, hash, honest)
    out.connectMs = performance.now() - t0
    out.hash = c.hash
    out.nearest = (await c.call('Nearest', { lat: 41.39, lon: 2.17, limit: 2 })).stations.map((s) => s.id)
    try {
      await c.call('Nearest', { lat: 41.39, lon: 2.17 })
    } catch (err) {
      out.precondition = { code: err.code, reason: err.reason, isPapi: err instanceof PapiError }
    }
    const progress = []
    const data = await c.fetchDatasetBytes('pattern', { onProgress: (p) => progress.push(p.verified) })
    out.size = data.length
    let ok = true
    for (let i = 5; i < data.length; i++) if (data[i] !== ((7 * (i - 5) + 3) & 0xff)) { ok = false; break }
    out.contentOK = ok
    out.progress = progress
    const l = await dial(node, hash, liar)
    try {
      for await (const _ of l.fetchDataset('pattern')) { /* until the bad piece */ }
    } catch (err) {
      out.lie = { code: err.code, reason: err.reason, offset: err.offset }
    }
  } catch (err) {
    out.error = String(err?.stack ?? err)
  } finally {
    await node.stop()
  }
  return out
}
