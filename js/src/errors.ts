// Error codes as papi's Go peers send them: gRPC's numbers, snake_case names.

/** Code names papi's error codes; the numbers are the ones on the wire. */
export const Code = {
  OK: 0,
  CANCELED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16
} as const

const names = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k.toLowerCase()]))

/** codeName is a code's snake_case name, as Go's papi.Code.String writes it. */
export function codeName (code: number): string {
  return names[code] ?? `code_${code}`
}

/**
 * PapiError is every error a call or a fetch fails with: the code, its
 * name, and the reason when the error is an instance of one of papi's
 * sentinels (such as "precondition" or "hash_mismatch"), so that a page
 * tests for what a Go caller tests with errors.Is.
 */
export class PapiError extends Error {
  readonly code: number
  readonly codeName: string
  readonly reason?: string
  /** offset is where a dataset failed to verify, for a "hash_mismatch" of a piece. */
  readonly offset?: number

  constructor (code: number, message: string, reason?: string, offset?: number) {
    super(message === '' ? codeName(code) : `${codeName(code)}: ${message}`)
    this.name = 'PapiError'
    this.code = code
    this.codeName = codeName(code)
    this.reason = reason
    this.offset = offset
  }
}
