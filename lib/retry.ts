/**
 * The project's one retry policy: exponential backoff with full jitter, capped, honouring a server's
 * `Retry-After` in full when it gave one. Used by the Dropbox uploader (in-call retries) and by the sync function
 * (per-record queue visibility delays). A wait never runs past the deadline of the call's signal (lib/deadline.ts):
 * the call gives up instead, and the queue brings the record back after the delay.
 */
import { deadlineOf } from './deadline.ts';

/** Shape of an exponential backoff. */
export interface BackoffOptions {
  /** Delay scale of the first retry, in milliseconds. */
  readonly baseMs: number;
  /** Upper bound of any single delay, in milliseconds. */
  readonly capMs: number;
  /** Source of randomness in [0, 1), a seam for tests. @default Math.random */
  readonly random?: () => number;
}

/**
 * Full-jitter backoff: a uniform delay in [base/2, min(cap, base × 2^attempt)].
 * `attempt` is 0 for the first retry. The lower bound of base/2 keeps a retry from firing at once.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt));
  const floor = Math.min(ceiling, options.baseMs / 2);
  return Math.round(floor + random() * (ceiling - floor));
}

/**
 * The delay before the next try: the server's `Retry-After` when it gave one, in full (the cap bounds only our own
 * backoff: Dropbox asks that no request is repeated before its `Retry-After` has passed, and counts early retries
 * against the limit, https://developers.dropbox.com/dbx-performance-guide "API Rate Limits"), else
 * {@link backoffDelayMs}.
 */
export function nextDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.ceil(retryAfterMs);
  }
  return backoffDelayMs(attempt, options);
}

/**
 * Parses an HTTP `Retry-After` value (delta-seconds or an HTTP date) into milliseconds.
 * Returns `undefined` when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What {@link withRetry} asks of each failure. */
export interface RetryDecision {
  readonly retry: boolean;
  /** The server's requested delay, when it gave one. */
  readonly retryAfterMs?: number | undefined;
}

/** Options of {@link withRetry}. */
export interface RetryOptions extends BackoffOptions {
  /** Tries in all, the first included. */
  readonly maxAttempts: number;
  readonly classify: (error: unknown) => RetryDecision;
  readonly signal?: AbortSignal | undefined;
  /** Called before each wait, for logs and counters. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, a failure is classified as not retryable, or the tries run out. A failure whose wait
 * would end after the deadline of `signal` (lib/deadline.ts) is thrown at once: waiting could only end in the
 * deadline's abort, and the error keeps the server's `Retry-After` for the queue's delay.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      const decision = options.classify(error);
      if (!decision.retry || attempt + 1 >= options.maxAttempts || options.signal?.aborted) throw error;
      const delayMs = nextDelayMs(attempt, decision.retryAfterMs, options);
      const deadline = deadlineOf(options.signal);
      if (deadline !== undefined && Date.now() + delayMs >= deadline) throw error;
      options.onRetry?.(error, attempt + 1, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

/**
 * A "not before" time shared by every call to one server: after a `Retry-After`, no call of any caller starts
 * before it has passed. Dropbox applies its rate limit per access token (per linked user or team) and its write
 * lock per namespace, and counts a request sent early against the limit again
 * (https://developers.dropbox.com/dbx-performance-guide, "API Rate Limits"), so one Dropbox client (one token, one
 * path root) holds back its parallel chunk sends, its batch commits and every other record's calls together.
 */
export class NotBefore {
  #at = 0;

  /** The time (epoch milliseconds) before which no call starts; in the past when there is none. */
  get at(): number {
    return this.#at;
  }

  /** Moves the time out to `now + delayMs`; never earlier than it already is. */
  defer(delayMs: number, now: number = Date.now()): void {
    if (Number.isFinite(delayMs) && delayMs > 0) this.#at = Math.max(this.#at, now + Math.ceil(delayMs));
  }

  /** Milliseconds still to wait (0 when the time has passed). */
  waitMs(now: number = Date.now()): number {
    return Math.max(0, this.#at - now);
  }

  /**
   * Resolves once the time has passed (it may move later meanwhile: the wait goes on). When the wait would end after
   * the deadline of `signal`, it throws `tooLong(waitMs)` at once instead; an abort rejects with the signal's reason.
   */
  async wait(signal: AbortSignal | undefined, tooLong: (waitMs: number) => Error): Promise<void> {
    for (let waitMs = this.waitMs(); waitMs > 0; waitMs = this.waitMs()) {
      const deadline = deadlineOf(signal);
      if (deadline !== undefined && Date.now() + waitMs >= deadline) throw tooLong(waitMs);
      await sleep(waitMs, signal);
    }
  }
}
