/**
 * How a failed record is treated.
 * - `permanent`: logged with its reason and counted, never retried (the record is done).
 * - `transient`: the record fails and the queue retries it with backoff, then the DLQ.
 * - `account`: every record would fail the same way (revoked token, full Dropbox, invalid settings):
 *   the record fails with a long backoff and the account-wide alarm metric is raised.
 */
export type FailureKind = 'permanent' | 'transient' | 'account';

/** Options of a {@link SyncError}. */
export interface SyncErrorOptions {
  readonly kind: FailureKind;
  /** Stable machine-readable code, used in logs and metrics (`dropbox-rate-limited`, `invalid-settings`, …). */
  readonly code: string;
  /** The delay the remote side asked for (Dropbox `Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

/**
 * The one error type the sync path classifies failures with. Adapters translate SDK and HTTP errors into it;
 * its message never carries a secret or file content.
 */
export class SyncError extends Error {
  readonly kind: FailureKind;
  readonly code: string;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: SyncErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'SyncError';
    this.kind = options.kind;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Narrows an unknown error to a {@link SyncError}. */
export function isSyncError(error: unknown): error is SyncError {
  return error instanceof SyncError;
}

/** True for errors raised because an `AbortSignal` fired. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** A readable message for any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
