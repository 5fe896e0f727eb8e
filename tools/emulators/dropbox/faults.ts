/**
 * Fault injection of the Dropbox API emulator: a seeded random draw per request decides whether it is answered
 * with a 429 (with or without `Retry-After`), a 500/503, or a connection reset in the middle of its body; latency
 * and a bandwidth cap apply to every request; write-lock contention makes overlapping commits in one namespace fail
 * with `too_many_write_operations`, as Dropbox's namespace lock does. A scripted rate limit answers one chosen
 * request 429 with `Retry-After` and keeps the account limited for that long, as Dropbox's rate limit does.
 */
import { createRandom } from '../../seeded-random.ts';

/** Faults to inject. Rates are probabilities per request, drawn in the order listed; they add up. */
export interface FaultOptions {
  /** 429 `too_many_requests` with a `Retry-After` header and `retry_after` in the body. */
  rate429?: number;
  /** 429 `too_many_requests` without any retry hint. */
  rate429WithoutRetryAfter?: number;
  /** 500 or 503 (alternating). */
  rate5xx?: number;
  /** The connection is reset once half of the request body (or nothing, for an empty body) has arrived. */
  rateReset?: number;
  /** Added before every request is read. */
  latencyMs?: number;
  /** Request bodies are read at most this fast (per request). */
  bandwidthBytesPerSec?: number;
  /** Commits (upload, finish, finish_batch entries) that overlap in one namespace fail with too_many_write_operations. */
  writeLockContention?: boolean;
  /** How long a commit holds its namespace's write lock when contention is on. @default 25 */
  writeLockHoldMs?: number;
  /** The `Retry-After` the emulator asks for, in seconds (fractions allowed, for fast tests). @default 1 */
  retryAfterSeconds?: number;
  /** Only these routes (`files/upload`, `oauth2/token`, …) get random faults. @default every route */
  routes?: readonly string[];
  /**
   * The `nth` request (1 for the first) to `route`, counted from when these options were set, is answered 429
   * `too_many_requests` with `Retry-After: retryAfterSeconds`, and the account stays rate-limited until that time
   * has passed: every API request meanwhile, on any route, is answered 429 again with the time left. Dropbox applies
   * its rate limits per access token (per linked user) and counts requests sent before the `Retry-After` against the
   * limit (https://developers.dropbox.com/dbx-performance-guide, "API Rate Limits"); that a request sent early is
   * refused is this emulator's stricter reading, so that a client that does not wait shows in the request log.
   */
  rateLimitRequest?: { readonly route: string; readonly nth: number };
  /** Seed of the random draws, for reproducible runs. @default random */
  seed?: number;
}

/** What one request gets. */
export type FaultDecision =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'rate-limit';
      readonly retryAfter: boolean;
      /** The `Retry-After` to answer with, when not the options' `retryAfterSeconds`. */
      readonly retryAfterSeconds?: number;
    }
  | { readonly kind: 'server-error'; readonly status: 500 | 503 }
  | { readonly kind: 'reset' };

/** Draws faults per request from the current {@link FaultOptions}. */
export class FaultInjector {
  #options: FaultOptions = {};
  #random: () => number = Math.random;
  #serverErrors = 0;
  /** Requests to the scripted rate limit's route so far. */
  #scriptedCount = 0;
  /** The account is rate-limited until this time (epoch milliseconds). */
  #limitedUntil = 0;

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  /** Replaces the fault options (and reseeds when a seed is given). */
  set(options: FaultOptions): void {
    this.#options = { ...options };
    this.#random = createRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.#scriptedCount = 0;
    this.#limitedUntil = 0;
  }

  get options(): Readonly<FaultOptions> {
    return this.#options;
  }

  /** The fault for one request to `route`. */
  decide(route: string): FaultDecision {
    const o = this.#options;
    const scripted = this.#decideScripted(route);
    if (scripted !== undefined) return scripted;
    if (o.routes !== undefined && !o.routes.includes(route)) return { kind: 'none' };
    const draw = this.#random();
    let bound = o.rate429 ?? 0;
    if (draw < bound) return { kind: 'rate-limit', retryAfter: true };
    bound += o.rate429WithoutRetryAfter ?? 0;
    if (draw < bound) return { kind: 'rate-limit', retryAfter: false };
    bound += o.rate5xx ?? 0;
    if (draw < bound) {
      this.#serverErrors += 1;
      return { kind: 'server-error', status: this.#serverErrors % 2 === 0 ? 503 : 500 };
    }
    bound += o.rateReset ?? 0;
    if (draw < bound) return { kind: 'reset' };
    return { kind: 'none' };
  }

  /** The scripted rate limit's answer: its chosen request, or any API request while the limit lasts. */
  #decideScripted(route: string): FaultDecision | undefined {
    const script = this.#options.rateLimitRequest;
    if (script === undefined || route.startsWith('oauth2/')) return undefined;
    const now = Date.now();
    if (now < this.#limitedUntil) {
      // Whole seconds, as Dropbox sends them, unless the options ask for fractions (fast tests).
      const left = (this.#limitedUntil - now) / 1000;
      const seconds = Number.isInteger(this.#options.retryAfterSeconds ?? 1) ? Math.ceil(left) : left;
      return { kind: 'rate-limit', retryAfter: true, retryAfterSeconds: seconds };
    }
    if (route !== script.route) return undefined;
    this.#scriptedCount += 1;
    if (this.#scriptedCount !== script.nth) return undefined;
    const seconds = this.#options.retryAfterSeconds ?? 1;
    this.#limitedUntil = now + seconds * 1000;
    return { kind: 'rate-limit', retryAfter: true, retryAfterSeconds: seconds };
  }
}

/** A namespace write lock that either queues commits or, under contention, refuses overlapping ones. */
export class WriteLocks {
  readonly #held = new Map<string, Promise<void>>();

  /**
   * Runs `commit` holding `namespace`'s lock. With `contention`, a commit that finds the lock held returns
   * `'contended'` at once (the caller answers `too_many_write_operations`); without, it waits its turn.
   */
  async run<T>(
    namespace: string,
    contention: boolean,
    holdMs: number,
    commit: () => Promise<T>,
  ): Promise<T | 'contended'> {
    for (;;) {
      const current = this.#held.get(namespace);
      if (current === undefined) break;
      if (contention) return 'contended';
      await current;
    }
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held.set(namespace, held);
    try {
      const result = await commit();
      if (contention && holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
      return result;
    } finally {
      this.#held.delete(namespace);
      release();
    }
  }
}
