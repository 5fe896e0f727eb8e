/**
 * The circuit breaker of account-wide failures (DESIGN.md "Errors"). An account-wide failure (a revoked token, a
 * full Dropbox, invalid settings, not connected, …) would fail every record the same way, so the first one opens the
 * breaker: the flow stops taking records (the event source mapping is disabled; locally the poller pauses), and
 * the records wait in the queue. A scheduled probe checks the account and starts the flow again once it is healthy;
 * `connect`, `config set` and `resume` start it at once.
 *
 * Who holds the flow is one control item (the {@link FlowControlStore}, the ledger table's item `control#flow`):
 * `breaker` (since when, why) or `operator` (`pause`), or nobody. The probe only ever releases a hold the breaker
 * made, never an operator's. The flow itself is switched by the {@link FlowSwitch} (the mapping's `Enabled`).
 *
 * Races are settled by the item's trip count: every trip adds one, and the probe releases the hold only if no trip
 * happened since it looked, after it switched the flow back on. So the flow is never left off with nobody holding it
 * (which would look like an operator's pause and never be started again by the probe).
 */
import { errorMessage } from './errors.ts';

/** Why the breaker opens: an account-wide failure of one record. */
export interface BreakerTrip {
  readonly code: string;
  readonly message: string;
  /** `s3://bucket/key` of the event that failed. */
  readonly object: string;
}

/** The circuit breaker as the records see it: an account-wide failure opens it, which stops the flow. */
export interface CircuitBreaker {
  /** Opens the breaker (idempotent) and stops the flow; `signal` bounds the calls. */
  trip(trip: BreakerTrip, signal?: AbortSignal): Promise<void>;
}

/** Who holds the flow stopped. */
export type FlowHolder = 'none' | 'breaker' | 'operator';

/** What the probe found last. */
export interface ProbeResult {
  /** `healthy`, `unhealthy` (the account-wide failure persists) or `unknown` (the check itself failed). */
  readonly status: 'healthy' | 'unhealthy' | 'unknown';
  readonly code: string;
  readonly message: string;
}

/** The control item: who holds the flow, since when and why. */
export interface FlowControl {
  readonly holder: FlowHolder;
  /** When the current hold began (ISO 8601). */
  readonly since?: string | undefined;
  /** Why the breaker opened (the first account-wide failure). */
  readonly reason?: { readonly code: string; readonly message: string; readonly object?: string | undefined };
  /** Trips so far (every account-wide failure that reached the breaker); the probe's race guard. */
  readonly trips: number;
  /** Who changed the item last (`function`, `probe`, `cli resume`, …) and when. */
  readonly updatedBy?: string | undefined;
  readonly updatedAt?: string | undefined;
  /** The probe's last look. */
  readonly lastProbe?: (ProbeResult & { readonly at: string }) | undefined;
}

/** The store of the control item. Every call is bounded by `signal`. */
export interface FlowControlStore {
  read(signal?: AbortSignal): Promise<FlowControl>;
  /**
   * Counts a trip and, when nobody holds the flow, makes the breaker its holder (since `at`, for `trip`'s reason).
   * Returns the item after the change (its holder may be an operator, who keeps the hold), and whether this trip
   * is the one that opened the breaker.
   */
  trip(trip: BreakerTrip, at: Date, signal?: AbortSignal): Promise<{ control: FlowControl; opened: boolean }>;
  /**
   * Releases the breaker's hold, only if the breaker still holds the flow with exactly `trips` trips (the probe's
   * guard against a trip it has not seen). Returns false when the condition did not hold.
   */
  releaseBreaker(trips: number, by: string, at: Date, signal?: AbortSignal): Promise<boolean>;
  /** Sets the holder whoever held it: `operator` (`pause`) or `none` (`resume`, `connect`, `config set`). */
  setHolder(holder: 'operator' | 'none', by: string, at: Date, signal?: AbortSignal): Promise<void>;
  /** Records the probe's look. */
  recordProbe(result: ProbeResult, at: Date, signal?: AbortSignal): Promise<void>;
}

/** Turns the flow of records on or off: the event source mapping, or the local poller's pause. */
export interface FlowSwitch {
  /**
   * Idempotent; `note` says why, where the switch can keep it (the local pause file). Resolves with the switch's own
   * state after the call when it has one (Lambda's mapping `State`: `Disabling`, `Enabling`, …).
   */
  setEnabled(enabled: boolean, note: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** What the breaker reports to logs and metrics. */
export interface BreakerEvents {
  /** The breaker opened (this call made it the holder). */
  opened?(control: FlowControl): void;
  /** The breaker could not stop the flow; the records still wait in the queue, each requeued with a delay. */
  failed?(error: unknown): void;
}

/** Options of {@link createCircuitBreaker}. */
export interface CircuitBreakerOptions {
  readonly store: FlowControlStore;
  readonly flow: FlowSwitch;
  readonly events?: BreakerEvents;
  readonly now?: () => Date;
}

/** The note the flow switch keeps while the breaker holds the flow. */
export function describeBreakerHold(control: FlowControl): string {
  const reason =
    control.reason === undefined
      ? 'an account-wide failure'
      : `${control.reason.code}: ${control.reason.message}`;
  return `paused by the breaker since ${control.since ?? '?'}: ${reason}`;
}

/**
 * The function's breaker: a trip opens it and stops the flow. Concurrent trips of one instance share one call, so a
 * batch of records that all fail the same way costs one store update and one switch.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const now = options.now ?? (() => new Date());
  let inflight: Promise<void> | undefined;
  const run = async (trip: BreakerTrip, signal: AbortSignal | undefined): Promise<void> => {
    const { control, opened } = await options.store.trip(trip, now(), signal);
    // An operator's pause stands as it is; the breaker neither takes it over nor lifts it.
    if (control.holder !== 'breaker') return;
    if (opened) options.events?.opened?.(control);
    await options.flow.setEnabled(false, describeBreakerHold(control), signal);
  };
  return {
    trip(trip, signal) {
      inflight ??= run(trip, signal)
        .catch((error: unknown) => {
          options.events?.failed?.(error);
          throw error;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
  };
}

/** Checks the account the way the flow would use it: settings, token refresh, space. Never throws. */
export type AccountCheck = (signal?: AbortSignal) => Promise<ProbeResult>;

/** What one probe run did. */
export interface ProbeOutcome {
  readonly holder: FlowHolder;
  /** `none` (nothing to do), `kept` (still unhealthy, or unknown), `released` (the flow runs again). */
  readonly action: 'none' | 'kept' | 'released';
  readonly result?: ProbeResult | undefined;
}

/** Options of {@link runProbe}. */
export interface ProbeOptions {
  readonly store: FlowControlStore;
  readonly flow: FlowSwitch;
  readonly checkAccount: AccountCheck;
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
}

/**
 * One probe run: when the breaker holds the flow, checks the account; when it is healthy, switches the flow back on
 * and then releases the hold (guarded by the trip count). An operator's pause is never touched.
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeOutcome> {
  const now = options.now ?? (() => new Date());
  const { store, flow, signal } = options;
  const control = await store.read(signal);
  if (control.holder !== 'breaker') return { holder: control.holder, action: 'none' };
  const result = await options.checkAccount(signal);
  await store.recordProbe(result, now(), signal);
  if (result.status !== 'healthy') return { holder: 'breaker', action: 'kept', result };
  // On first, then released: a failure in between leaves the breaker holding a running flow, which the next run
  // (or the next trip) puts right; the other order could leave the flow off with nobody holding it.
  await flow.setEnabled(true, 'started again by the probe: the account is healthy', signal);
  const released = await store.releaseBreaker(control.trips, 'probe', now(), signal);
  if (!released) {
    // A record tripped the breaker since the probe looked: it stopped the flow again, or is about to.
    return { holder: 'breaker', action: 'kept', result };
  }
  return { holder: 'none', action: 'released', result };
}

/**
 * Starts the flow at once for a person who fixed the cause (`connect`, `config set`) or asked for it (`resume`):
 * the flow is switched on, then nobody holds it. With `onlyBreaker`, an operator's pause stays (`connect` and
 * `config set` lift the breaker's hold, not a pause someone made on purpose).
 * @returns the holder before the call.
 */
export async function releaseFlow(
  store: FlowControlStore,
  flow: FlowSwitch,
  by: string,
  options: { readonly onlyBreaker: boolean; readonly now?: () => Date; readonly signal?: AbortSignal },
): Promise<FlowHolder> {
  const now = options.now ?? (() => new Date());
  const control = await store.read(options.signal);
  if (options.onlyBreaker && control.holder !== 'breaker') return control.holder;
  await flow.setEnabled(true, `started again by ${by}`, options.signal);
  await store.setHolder('none', by, now(), options.signal);
  return control.holder;
}

/** A one-line description of a probe result, for logs and `status`. */
export function describeProbe(result: ProbeResult): string {
  return result.status === 'healthy' ? 'healthy' : `${result.status}: ${result.code}: ${result.message}`;
}

/** A probe result for an error the check itself hit. */
export function unknownResult(error: unknown): ProbeResult {
  return { status: 'unknown', code: 'probe-error', message: errorMessage(error) };
}
