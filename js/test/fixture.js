// Starts the Go peer of test/fixture (built from this repository with the
// go command) and returns what it printed. It stops when the test process
// closes its standard input.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
let binary

function build () {
  if (binary === undefined) {
    binary = join(mkdtempSync(join(tmpdir(), 'papi-fixture-')), 'fixture')
    execFileSync('go', ['build', '-o', binary, './js/test/fixture'], { cwd: repo, stdio: 'inherit' })
  }
  return binary
}

export async function startFixture (args = []) {
  const child = spawn(build(), args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`fixture exited ${code} before it printed`)))
  })
  return { ...JSON.parse(first), stop: () => { child.stdin.end(); child.kill() } }
}

export function patterned (n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (7 * i + 3) & 0xff
  return b
}
