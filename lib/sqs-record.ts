/**
 * One SQS record of the sync queue: its body is an S3 notification. Turns every S3 event in it into an outcome
 * (exported or skipped with a reason) or a failure that the queue retries after a delay of its own.
 */
import type { CommitGroup } from './commit-group.ts';
import { errorMessage, isAbortError, isSyncError } from './errors.ts';
import type { InvocationDeadlines } from './invocation.ts';
import type { SyncLog, SyncMetrics } from './observability.ts';
import { backoffDelayMs, nextDelayMs } from './retry.ts';
import { MalformedEventError, parseS3Message } from './s3-event.ts';
import { type SyncDeps, type SyncOutcome, syncObjectEvent } from './sync.ts';

/** The fields of an SQS record the sync reads. */
export interface QueueRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** The queue's ARN, as Lambda's event source mapping sets it. */
  readonly eventSourceARN?: string | undefined;
  readonly attributes?: { readonly ApproximateReceiveCount?: string | undefined } | undefined;
}

/** Puts a failed record back on the queue after a delay of its own (`ChangeMessageVisibility`). */
export interface RetryScheduler {
  /** `signal` bounds the call (the invocation's final deadline). */
  deferRetry(record: QueueRecord, delaySeconds: number, signal?: AbortSignal): Promise<void>;
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
}

/** Backoff of a transient failure between queue receives: 10 s doubling, up to 15 minutes. */
export const TRANSIENT_BACKOFF = { baseMs: 10_000, capMs: 15 * 60_000 } as const;
/** Backoff of an account-wide failure: minutes, since every record would fail the same way. */
export const ACCOUNT_BACKOFF = { baseMs: 5 * 60_000, capMs: 15 * 60_000 } as const;
/** A record stopped by the function's deadline is tried again soon. */
const ABORTED_RETRY_SECONDS = 5;
/** SQS's upper bound for a visibility timeout. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

/** A failed S3 event, as reported to {@link RecordDeps.onFailure}. */
export interface RecordFailure {
  readonly messageId: string;
  readonly bucket: string;
  readonly key: string;
  readonly kind: string;
  readonly code: string;
  readonly message: string;
  readonly retryInSeconds: number;
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
      : nextDelayMs(attempt, isSyncError(error) ? error.retryAfterMs : undefined, {
          ...TRANSIENT_BACKOFF,
          random,
        });
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
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
  for (const event of parsed.records) {
    const started = Date.now();
    try {
      const outcome = await syncObjectEvent(event, deps, signal, deadlines?.final);
      logOutcome(deps, outcome, record.messageId, Date.now() - started);
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
      const code = kind === 'aborted' ? 'deadline' : isSyncError(error) ? error.code : 'unexpected-error';
      const delaySeconds = retryDelaySeconds(
        signal?.aborted ? signal.reason : error,
        receiveCount,
        deps.random,
      );
      deps.metrics.failed(kind);
      deps.log.error('failed', {
        messageId: record.messageId,
        bucket: event.bucket,
        key: event.key,
        eventName: event.eventName,
        decision: 'failed',
        kind,
        reason: code,
        reasonMessage: errorMessage(error),
        receiveCount,
        retryInSeconds: delaySeconds,
        durationMs: Date.now() - started,
      });
      deps.onFailure?.({
        messageId: record.messageId,
        bucket: event.bucket,
        key: event.key,
        kind,
        code,
        message: errorMessage(error),
        retryInSeconds: delaySeconds,
      });
      try {
        await deps.retries.deferRetry(record, delaySeconds, deadlines?.final);
      } catch (deferError) {
        // The record still fails and comes back after the queue's own visibility timeout.
        deps.log.warn('could not set the retry delay', {
          messageId: record.messageId,
          error: errorMessage(deferError),
        });
      }
      throw new RecordFailedError(`${event.key}: ${code}`, { kind, code, delaySeconds, cause: error });
    }
  }
  return outcomes;
}
