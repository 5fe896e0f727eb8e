/**
 * One SQS record of the sync queue: its body is an S3 notification. Turns every S3 event in it into an outcome
 * (exported or skipped with a reason) or a failure, routed by its kind (lib/errors.ts):
 * - `transient` (and a record stopped by the deadline): the record fails and comes back after a delay of its own
 *   (`ChangeMessageVisibility`), then, after 5 receives, moves to the DLQ;
 * - `blocked`: the message goes to the DLQ at once with its reason in message attributes, and the record is done;
 * - `account`: the circuit breaker opens (the flow stops), and a fresh copy of the message goes back on the queue
 *   while the record is reported done: the copy's receive count starts again, so an account-wide failure never
 *   counts toward the DLQ, however long it lasts.
 */
import type { BreakerTrip, CircuitBreaker } from './breaker.ts';
import type { CommitGroup } from './commit-group.ts';
import { errorMessage, isAbortError, isSyncError } from './errors.ts';
import type { InvocationDeadlines } from './invocation.ts';
import { ledgerId } from './ledger.ts';
import type { SyncLog, SyncMetrics } from './observability.ts';
import { type ReceiptDeps, sendPendingReceipt, sendReceiptAfterFailure } from './receipt-delivery.ts';
import { backoffDelayMs, nextDelayMs } from './retry.ts';
import { MalformedEventError, parseS3Message, type S3ObjectEvent } from './s3-event.ts';
import { type SyncDeps, type SyncOutcome, syncObjectEvent } from './sync.ts';

/** A message attribute as Lambda's event source mapping passes it. */
export interface QueueMessageAttribute {
  readonly dataType: string;
  readonly stringValue?: string | undefined;
}

/** The fields of an SQS record the sync reads. */
export interface QueueRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** The queue's ARN, as Lambda's event source mapping sets it. */
  readonly eventSourceARN?: string | undefined;
  readonly attributes?: { readonly ApproximateReceiveCount?: string | undefined } | undefined;
  readonly messageAttributes?: Readonly<Record<string, QueueMessageAttribute>> | undefined;
}

/** Why a message goes to the DLQ at once: its failure, in message attributes beside the body. */
export interface DeadLetterReason {
  readonly kind: string;
  readonly code: string;
  readonly message: string;
  /** `s3://bucket/key` of the event that failed. */
  readonly object: string;
}

/**
 * Where a failed record goes next, on its queue. Every call is bounded by `signal` (the invocation's final deadline).
 */
export interface RetryScheduler {
  /** The record comes back after `delaySeconds` (`ChangeMessageVisibility`); this receive counts toward the DLQ. */
  deferRetry(record: QueueRecord, delaySeconds: number, signal?: AbortSignal): Promise<void>;
  /**
   * A fresh copy of the record's message goes to the queue, received no sooner than `delaySeconds` (at most 900,
   * SQS's `DelaySeconds` limit); the caller then reports the record done. The copy's receive count starts at 0.
   */
  requeue(record: QueueRecord, delaySeconds: number, signal?: AbortSignal): Promise<void>;
  /** The record's message goes to the dead-letter queue now, its reason in message attributes. */
  deadLetter(record: QueueRecord, reason: DeadLetterReason, signal?: AbortSignal): Promise<void>;
}

/** What {@link processQueueRecord} needs. */
export interface RecordDeps extends SyncDeps {
  readonly log: SyncLog;
  readonly metrics: SyncMetrics;
  readonly retries: RetryScheduler;
  /** Told of every outcome, for the local stack's live view. */
  readonly onOutcome?: ((outcome: SyncOutcome, messageId: string) => void) | undefined;
  /** Told of every failed record, for the local stack's live view and tests. */
  readonly onFailure?: ((failure: RecordFailure) => void) | undefined;
  readonly random?: () => number;
  /**
   * The invocation's commit group (one member per record): the record's small files commit together with the
   * others' in one batch. Without it, each file commits on its own.
   */
  readonly commitGroup?: CommitGroup | undefined;
  /** Opened by an account-wide failure. Without it, such records are still requeued, never dead-lettered. */
  readonly breaker?: CircuitBreaker | undefined;
  /**
   * The delay of a requeued copy after an account-wide failure, in seconds: fixed, instead of
   * {@link ACCOUNT_BACKOFF} (`ACCOUNT_RETRY_DELAY_SECONDS`, which tests shorten).
   */
  readonly accountDelaySeconds?: number | undefined;
  /** Receipts (lib/receipt-delivery.ts): without them, none is sent. */
  readonly receipts?: ReceiptDeps | undefined;
}

/** Backoff of a transient failure between queue receives: 10 s doubling, up to 15 minutes. */
export const TRANSIENT_BACKOFF = { baseMs: 10_000, capMs: 15 * 60_000 } as const;
/**
 * Backoff of a record that met another instance's claim on its object: 10 s doubling, up to a minute, since a claim
 * is usually released seconds after the record gave up waiting for it, long before it expires.
 */
export const CLAIM_BACKOFF = { baseMs: 10_000, capMs: 60_000 } as const;
/** The queue's redrive policy (`maxReceiveCount`): a message that failed this many receives goes to the DLQ. */
export const MAX_RECEIVES = 5;
/** Backoff of an account-wide failure: minutes, since every record would fail the same way. */
export const ACCOUNT_BACKOFF = { baseMs: 5 * 60_000, capMs: 15 * 60_000 } as const;
/** A record stopped by the function's deadline is tried again soon. */
const ABORTED_RETRY_SECONDS = 5;
/** SQS's upper bound for a visibility timeout. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
/** SQS's upper bound for a message's `DelaySeconds`. */
export const MAX_DELAY_SECONDS = 900;
/** The message attribute that counts a message's requeues after account-wide failures. */
export const REQUEUES_ATTRIBUTE = 'tds-requeues';

/** A failed S3 event, as reported to {@link RecordDeps.onFailure}. */
export interface RecordFailure {
  readonly messageId: string;
  readonly bucket: string;
  readonly key: string;
  readonly kind: string;
  readonly code: string;
  readonly message: string;
  readonly retryInSeconds: number;
  /**
   * What happened to the record: `retry` (it comes back and counts a receive), `dead-letter` (the DLQ now) or
   * `requeue` (a fresh copy waits in the queue while the breaker is open).
   */
  readonly route: 'retry' | 'dead-letter' | 'requeue';
}

/** The error a failed record is reported with. */
export class RecordFailedError extends Error {
  readonly kind: string;
  readonly code: string;
  readonly delaySeconds: number;

  constructor(
    message: string,
    options: { kind: string; code: string; delaySeconds: number; cause: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = 'RecordFailedError';
    this.kind = options.kind;
    this.code = options.code;
    this.delaySeconds = options.delaySeconds;
  }
}

/** The delay before a failed record is received again, in whole seconds. */
export function retryDelaySeconds(
  error: unknown,
  receiveCount: number,
  random: () => number = Math.random,
): number {
  if (isAbortError(error)) return ABORTED_RETRY_SECONDS;
  const attempt = Math.max(0, receiveCount - 1);
  const ms =
    isSyncError(error) && error.kind === 'account'
      ? backoffDelayMs(attempt, { ...ACCOUNT_BACKOFF, random })
      : isSyncError(error) && error.retryByMs !== undefined
        ? byDeadlineDelayMs(attempt, receiveCount, error.retryByMs, random)
        : nextDelayMs(attempt, isSyncError(error) ? error.retryAfterMs : undefined, {
            ...TRANSIENT_BACKOFF,
            random,
          });
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * The delay of a failure that clears by itself within `retryByMs` (another instance's claim): the claim backoff,
 * capped there; from the receive before the last on, `retryByMs` itself, so that the record's last receive comes
 * after the claim ended and it never reaches the DLQ behind a long upload.
 */
function byDeadlineDelayMs(
  attempt: number,
  receiveCount: number,
  retryByMs: number,
  random: () => number,
): number {
  if (receiveCount >= MAX_RECEIVES - 1) return retryByMs;
  return Math.min(retryByMs, backoffDelayMs(attempt, { ...CLAIM_BACKOFF, random }));
}

function logOutcome(deps: RecordDeps, outcome: SyncOutcome, messageId: string, durationMs: number): void {
  const attributes = {
    messageId,
    bucket: outcome.bucket,
    key: outcome.key,
    eventName: outcome.eventName,
    size: outcome.size,
    decision: outcome.decision,
    reason: outcome.reason.code,
    reasonMessage: outcome.reason.message,
    dropboxPath: outcome.dropboxPath,
    versionId: outcome.versionId,
    ledgerState: outcome.state,
    stateChanged: outcome.stateChanged,
    bytes: outcome.bytes,
    durationMs,
    warnings: outcome.warnings.map((warning) => warning.code),
  };
  for (const warning of outcome.warnings) {
    deps.metrics.warned(warning.code);
    deps.log.warn(warning.message, { messageId, key: outcome.key, warning: warning.code });
  }
  if (outcome.decision === 'exported') {
    deps.metrics.exported(outcome.bytes);
    deps.log.info('exported', attributes);
  } else {
    deps.metrics.skipped(outcome.reason.code);
    deps.log.info('skipped', attributes);
  }
  deps.onOutcome?.(outcome, messageId);
}

/**
 * Processes one record. Resolves with its outcomes when every S3 event in it is exported or skipped; rejects with a
 * {@link RecordFailedError} after scheduling the record's retry when any of them failed. The work stops at
 * `deadlines.work`; the retry delay is set before `deadlines.final`.
 */
export async function processQueueRecord(
  record: QueueRecord,
  deps: RecordDeps,
  deadlines?: InvocationDeadlines,
): Promise<SyncOutcome[]> {
  const member = deps.commitGroup?.member(record.messageId);
  try {
    return await processMessage(record, member === undefined ? deps : { ...deps, batch: member }, deadlines);
  } finally {
    // The group commits once every record still running has queued a commit or finished: this one has finished.
    member?.leave();
  }
}

async function processMessage(
  record: QueueRecord,
  deps: RecordDeps,
  deadlines: InvocationDeadlines | undefined,
): Promise<SyncOutcome[]> {
  const signal = deadlines?.work;
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
  let parsed: ReturnType<typeof parseS3Message>;
  try {
    parsed = parseS3Message(record.messageId, record.body);
  } catch (error) {
    if (!(error instanceof MalformedEventError)) throw error;
    deps.metrics.skipped(error.code);
    deps.log.warn('skipped', {
      messageId: record.messageId,
      decision: 'skipped',
      reason: error.code,
      reasonMessage: error.message,
    });
    return [];
  }
  if (parsed.kind === 'skip') {
    deps.metrics.skipped(parsed.reason.code);
    deps.log.info('skipped', {
      messageId: record.messageId,
      decision: 'skipped',
      reason: parsed.reason.code,
      reasonMessage: parsed.reason.message,
    });
    return [];
  }
  for (const ignored of parsed.ignored) {
    deps.metrics.skipped(ignored.reason.code);
    deps.log.info('skipped', {
      messageId: record.messageId,
      key: ignored.key,
      eventName: ignored.eventName,
      decision: 'skipped',
      reason: ignored.reason.code,
      reasonMessage: ignored.reason.message,
    });
  }

  const outcomes: SyncOutcome[] = [];
  let blocked: EventFailure | undefined;
  const receiptContext = {
    log: deps.log,
    member: deps.batch,
    messageId: record.messageId,
    signal: deadlines?.final ?? signal,
  };
  for (const event of parsed.records) {
    const started = Date.now();
    try {
      const outcome = await syncObjectEvent(event, deps, signal, deadlines?.final);
      logOutcome(deps, outcome, record.messageId, Date.now() - started);
      if (deps.receipts !== undefined) {
        // After the ledger settled the event; a receipt not sent fails the record, whose retry sends only it.
        await sendPendingReceipt(outcome.record, deps.receipts, receiptContext);
      }
      outcomes.push(outcome);
    } catch (error) {
      if (isSyncError(error) && error.kind === 'permanent') {
        const outcome: SyncOutcome = {
          bucket: event.bucket,
          key: event.key,
          eventName: event.eventName,
          decision: 'skipped',
          reason: { code: error.code, message: error.message },
          dropboxPath: null,
          bytes: 0,
          warnings: [],
          stateChanged: false,
          at: new Date().toISOString(),
        };
        logOutcome(deps, outcome, record.messageId, Date.now() - started);
        outcomes.push(outcome);
        continue;
      }
      const kind =
        isAbortError(error) || signal?.aborted ? 'aborted' : isSyncError(error) ? error.kind : 'transient';
      const failure: EventFailure = {
        event,
        error,
        kind,
        code: kind === 'aborted' ? 'deadline' : isSyncError(error) ? error.code : 'unexpected-error',
        durationMs: Date.now() - started,
      };
      if (kind === 'blocked') {
        // The ledger recorded the block: its receipt goes out now (best effort; the record goes to the DLQ anyway).
        if (deps.receipts !== undefined) {
          await sendReceiptAfterFailure(ledgerId(event.bucket, event.key), deps.receipts, receiptContext);
        }
        // The message's other events still run: they export now, and again harmlessly after a redrive.
        blocked ??= failure;
        continue;
      }
      if (kind === 'account' && (await requeueAccountWide(record, failure, deps, deadlines))) return outcomes;
      if (
        receiveCount >= MAX_RECEIVES &&
        isSyncError(error) &&
        error.retryByMs !== undefined &&
        (await requeueCopy(record, failure, deps, deadlines, delayOfCopy(error, receiveCount, deps)))
      ) {
        // A failure that clears by itself (another instance's claim) never reaches the DLQ: on the last receive a
        // fresh copy waits out the claim instead, as an account-wide failure's copy waits out the breaker.
        return outcomes;
      }
      await failWithRetry(record, failure, receiveCount, deps, deadlines);
    }
  }
  if (blocked !== undefined && !(await deadLetterBlocked(record, blocked, deps, deadlines))) {
    await failWithRetry(record, blocked, receiveCount, deps, deadlines);
  }
  return outcomes;
}

/** One S3 event that failed, with its classification. */
interface EventFailure {
  readonly event: S3ObjectEvent;
  readonly error: unknown;
  readonly kind: string;
  readonly code: string;
  readonly durationMs: number;
}

function describeObject(event: S3ObjectEvent): string {
  return `s3://${event.bucket}/${event.key}`;
}

function reportFailure(
  record: QueueRecord,
  failure: EventFailure,
  deps: RecordDeps,
  route: RecordFailure['route'],
  retryInSeconds: number,
  extra: Record<string, unknown> = {},
): void {
  const { event, kind, code, error } = failure;
  deps.metrics.failed(kind);
  deps.log.error(route === 'dead-letter' ? 'blocked' : 'failed', {
    messageId: record.messageId,
    bucket: event.bucket,
    key: event.key,
    eventName: event.eventName,
    decision: route === 'dead-letter' ? 'blocked' : 'failed',
    kind,
    reason: code,
    reasonMessage: errorMessage(error),
    route,
    retryInSeconds,
    durationMs: failure.durationMs,
    ...extra,
  });
  deps.onFailure?.({
    messageId: record.messageId,
    bucket: event.bucket,
    key: event.key,
    kind,
    code,
    message: errorMessage(error),
    retryInSeconds,
    route,
  });
}

/** The record fails and comes back after its own delay; this receive counts toward the DLQ. Always throws. */
async function failWithRetry(
  record: QueueRecord,
  failure: EventFailure,
  receiveCount: number,
  deps: RecordDeps,
  deadlines: InvocationDeadlines | undefined,
): Promise<never> {
  const delaySeconds = retryDelaySeconds(
    deadlines?.work.aborted ? deadlines.work.reason : failure.error,
    receiveCount,
    deps.random,
  );
  reportFailure(record, failure, deps, 'retry', delaySeconds, { receiveCount });
  try {
    await deps.retries.deferRetry(record, delaySeconds, deadlines?.final);
  } catch (deferError) {
    // The record still fails and comes back after the queue's own visibility timeout.
    deps.log.warn('could not set the retry delay', {
      messageId: record.messageId,
      error: errorMessage(deferError),
    });
  }
  throw new RecordFailedError(`${failure.event.key}: ${failure.code}`, {
    kind: failure.kind,
    code: failure.code,
    delaySeconds,
    cause: failure.error,
  });
}

/**
 * A refusal the rules did not foresee: the message goes to the DLQ now, with its reason. Returns false when it could
 * not be sent there (the record then fails as usual and reaches the DLQ after its receives).
 */
async function deadLetterBlocked(
  record: QueueRecord,
  failure: EventFailure,
  deps: RecordDeps,
  deadlines: InvocationDeadlines | undefined,
): Promise<boolean> {
  try {
    await deps.retries.deadLetter(
      record,
      {
        kind: failure.kind,
        code: failure.code,
        message: errorMessage(failure.error),
        object: describeObject(failure.event),
      },
      deadlines?.final,
    );
  } catch (sendError) {
    deps.log.warn('could not send the blocked record to the dead-letter queue', {
      messageId: record.messageId,
      error: errorMessage(sendError),
    });
    return false;
  }
  reportFailure(record, failure, deps, 'dead-letter', 0);
  return true;
}

/** How many times this message was requeued after account-wide failures (its copies carry the count). */
export function requeueCount(record: QueueRecord): number {
  const value = Number(record.messageAttributes?.[REQUEUES_ATTRIBUTE]?.stringValue ?? '0');
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** The delay of a requeued copy: minutes, growing with its requeues, within SQS's `DelaySeconds` limit. */
export function accountDelaySeconds(
  record: QueueRecord,
  deps: Pick<RecordDeps, 'accountDelaySeconds' | 'random'>,
): number {
  if (deps.accountDelaySeconds !== undefined) return Math.min(MAX_DELAY_SECONDS, deps.accountDelaySeconds);
  const ms = backoffDelayMs(requeueCount(record), { ...ACCOUNT_BACKOFF, random: deps.random });
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * An account-wide failure: the breaker opens, and a fresh copy of the message waits in the queue while the record
 * is reported done, so that the failure never counts toward the DLQ. Returns false when the copy could not be sent
 * (the record then fails as usual, with the account-wide backoff).
 */
async function requeueAccountWide(
  record: QueueRecord,
  failure: EventFailure,
  deps: RecordDeps,
  deadlines: InvocationDeadlines | undefined,
): Promise<boolean> {
  const trip: BreakerTrip = {
    code: failure.code,
    message: errorMessage(failure.error),
    object: describeObject(failure.event),
  };
  try {
    await deps.breaker?.trip(trip, deadlines?.final);
  } catch (tripError) {
    // The copy below still keeps the record out of the DLQ; the alarm fires on the failure's metric.
    deps.log.error('could not open the circuit breaker', {
      messageId: record.messageId,
      error: errorMessage(tripError),
    });
  }
  return requeueCopy(record, failure, deps, deadlines, accountDelaySeconds(record, deps));
}

/** The delay of the fresh copy of a record whose failure clears by itself: its retry delay, within `DelaySeconds`. */
function delayOfCopy(error: unknown, receiveCount: number, deps: Pick<RecordDeps, 'random'>): number {
  return Math.min(MAX_DELAY_SECONDS, retryDelaySeconds(error, receiveCount, deps.random));
}

/**
 * Sends a fresh copy of the message to the queue, `delaySeconds` later, and reports the record done: its receive
 * count starts again. Returns false when the copy could not be sent (the record then fails as usual).
 */
async function requeueCopy(
  record: QueueRecord,
  failure: EventFailure,
  deps: RecordDeps,
  deadlines: InvocationDeadlines | undefined,
  delaySeconds: number,
): Promise<boolean> {
  try {
    await deps.retries.requeue(record, delaySeconds, deadlines?.final);
  } catch (sendError) {
    deps.log.warn('could not requeue the record', {
      messageId: record.messageId,
      error: errorMessage(sendError),
    });
    return false;
  }
  reportFailure(record, failure, deps, 'requeue', delaySeconds, { requeues: requeueCount(record) + 1 });
  return true;
}
