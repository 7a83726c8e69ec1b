// The client in headless Chromium (Debian's, never a downloaded one),
// driven by playwright-core: over WebRTC-direct and over WebTransport the
// page dials a Go peer, verifies, calls, gets a precondition error with its
// code, fetches a dataset, and catches a lying peer's piece by its offset.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { startFixture } from './fixture.js'

const browserPath = process.env.PAPI_CHROMIUM ?? '/usr/bin/chromium'
const missing = !existsSync(browserPath)
if (missing && process.env.PAPI_REQUIRE_BROWSER) throw new Error(`no browser at ${browserPath}, and PAPI_REQUIRE_BROWSER is set`)

let fx, browser, server, url

before(async () => {
  if (missing) return
  fx = await startFixture(['-listen', '/ip4/127.0.0.1/udp/0/webrtc-direct,/ip4/127.0.0.1/udp/0/quic-v1/webtransport'])
  const bundled = await build({ entryPoints: [new URL('./browser/page.js', import.meta.url).pathname], bundle: true, format: 'esm', platform: 'browser', write: false, minify: true })
  const js = bundled.outputFiles[0].contents
  server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end(js)
      return
    }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><meta charset="utf-8"><title>papi</title><script type="module" src="/page.js"></script>')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${server.address().port}/`
  // A fresh profile each run: playwright gives it as --user-data-dir.
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'papi-chromium-')), {
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
})

after(async () => {
  await browser?.close()
  server?.close()
  fx?.stop()
})

for (const transport of ['webrtc-direct', 'webtransport']) {
  test(`a page over ${transport}`, { skip: missing && `no browser at ${browserPath}` }, async (t) => {
    const pick = (addrs) => addrs.find((a) => a.includes(`/${transport}/`))
    const page = await browser.newPage()
    await page.goto(url)
    await page.waitForFunction(() => typeof window.papiRun === 'function')
    const out = await page.evaluate((args) => window.papiRun(args), { hash: fx.hash, honest: pick(fx.honest), liar: pick(fx.liar) })
    await page.close()
    assert.equal(out.error, undefined, out.error)
    assert.equal(out.hash, fx.hash)
    assert.deepEqual(out.nearest, ['bcn-1', 'bcn-2'])
    assert.deepEqual(out.precondition, { code: 3, reason: 'precondition', isPapi: true })
    assert.equal(out.size, fx.pattern_size)
    assert.ok(out.contentOK)
    assert.equal(out.progress.at(-1), fx.pattern_size)
    assert.deepEqual(out.lie, { code: 15, reason: 'hash_mismatch', offset: fx.corrupt_piece })
    t.diagnostic(`${transport}: dialed and verified in ${out.connectMs.toFixed(0)} ms`)
  })
}
