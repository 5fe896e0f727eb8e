import { redactSecrets } from './redact.ts';

/**
 * How a failed record is treated (DESIGN.md "Errors").
 * - `permanent`: what the rules and S3 decide (object gone, superseded, not an S3 event): logged as a skip with its
 *   reason and counted, never retried (the record is done). Never a Dropbox refusal.
 * - `transient`: the record fails and the queue retries it with backoff, then the DLQ.
 * - `account`: every record would fail the same way until a person or time fixes it (revoked token, an app that
 *   lost access, full Dropbox, invalid settings, not connected): the circuit breaker stops the flow, the record
 *   waits in the queue without counting toward the DLQ, and the account-wide alarm fires.
 * - `blocked`: Dropbox refused this one file for a reason the rules did not foresee (a path conflict, a malformed
 *   path, a name the sanitiser missed): the record goes to the DLQ at once with its reason, and an alarm fires;
 *   `redrive` after the fix exports it.
 */
export type FailureKind = 'permanent' | 'transient' | 'account' | 'blocked';

/** Options of a {@link SyncError}. */
export interface SyncErrorOptions {
  readonly kind: FailureKind;
  /** Stable machine-readable code, used in logs and metrics (`dropbox-rate-limited`, `invalid-settings`, …). */
  readonly code: string;
  /** The delay the remote side asked for (Dropbox `Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number | undefined;
  /**
   * The failure clears by itself within this many milliseconds (another instance's claim on the object ends): the
   * record is tried again sooner, with the queue's backoff, but never later than this.
   */
  readonly retryByMs?: number | undefined;
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
  readonly retryByMs: number | undefined;

  constructor(message: string, options: SyncErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'SyncError';
    this.kind = options.kind;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
    this.retryByMs = options.retryByMs;
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

/**
 * A readable message for any thrown value, as it may be kept (a log line, the ledger, a DLQ attribute, CLI output):
 * an SDK error's message can quote a remote body, so credentials in it are redacted.
 */
export function errorMessage(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}
