/**
 * The time an abort signal is due to fire, for signals that stand for a deadline (the invocation's). A signal says
 * only whether it fired; a call that is asked to wait (Dropbox's `Retry-After`, a backoff) needs to know whether the
 * wait fits before the deadline, or whether to give up at once and let the queue bring the record back later.
 */

const deadlines = new WeakMap<AbortSignal, number>();

/** Records that `signal` fires at `at` (epoch milliseconds) at the latest, and returns it. */
export function withDeadline(signal: AbortSignal, at: number): AbortSignal {
  const known = deadlines.get(signal);
  deadlines.set(signal, known === undefined ? at : Math.min(known, at));
  return signal;
}

/** When `signal` fires at the latest (epoch milliseconds), or `undefined` when it has no known deadline. */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal === undefined ? undefined : deadlines.get(signal);
}

/** Milliseconds left before `signal`'s deadline (0 once passed), or `undefined` without a known deadline. */
export function remainingMs(signal: AbortSignal | undefined, now: number = Date.now()): number | undefined {
  const at = deadlineOf(signal);
  return at === undefined ? undefined : Math.max(0, at - now);
}

/**
 * `AbortSignal.any` that keeps the earliest deadline of its signals: the combined signal fires no later than that.
 * `undefined` entries are left out; with none left, the result is `undefined`.
 */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  const combined = AbortSignal.any(present);
  const known = present.map(deadlineOf).filter((at): at is number => at !== undefined);
  if (known.length > 0) withDeadline(combined, Math.min(...known));
  return combined;
}
