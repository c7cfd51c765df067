// The client's errors: one class with a `code` for everything that is not a denial, and a
// denial with the gateway's reason, so callers branch on `instanceof` and a string.
import type { DenialReason, RequestId } from '../../../src/wire/contract.js';

/**
 * `code` is the gateway's own (an error frame's: NOT_FOUND, VALIDATION_FAILED…) or the
 * client's: UNAUTHORIZED (token refused), FORBIDDEN (access revoked, origin refused),
 * ACCOUNT_GONE, TIMEOUT, ABORTED, CLOSED (close() was called).
 */
export class MinutegateError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MinutegateError';
  }
}

/** The gateway said no to an authorization: `reason` says why. */
export class DeniedError extends Error {
  constructor(
    readonly reason: DenialReason,
    readonly requestId: RequestId,
  ) {
    super(`authorization denied: ${reason}`);
    this.name = 'DeniedError';
  }
}
