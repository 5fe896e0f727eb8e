/**
 * Fault injection of the Dropbox API emulator: a seeded random draw per request decides whether it is answered
 * with a 429 (with or without `Retry-After`), a 500/503, or a connection reset in the middle of its body; latency
 * and a bandwidth cap apply to every request; write-lock contention makes overlapping commits in one namespace fail
 * with `too_many_write_operations`, as Dropbox's namespace lock does.
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
  /** Seed of the random draws, for reproducible runs. @default random */
  seed?: number;
}

/** What one request gets. */
export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'rate-limit'; readonly retryAfter: boolean }
  | { readonly kind: 'server-error'; readonly status: 500 | 503 }
  | { readonly kind: 'reset' };

/** Draws faults per request from the current {@link FaultOptions}. */
export class FaultInjector {
  #options: FaultOptions = {};
  #random: () => number = Math.random;
  #serverErrors = 0;

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  /** Replaces the fault options (and reseeds when a seed is given). */
  set(options: FaultOptions): void {
    this.#options = { ...options };
    this.#random = createRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  get options(): Readonly<FaultOptions> {
    return this.#options;
  }

  /** The fault for one request to `route`. */
  decide(route: string): FaultDecision {
    const o = this.#options;
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
