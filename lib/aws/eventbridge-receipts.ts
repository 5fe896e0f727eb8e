/**
 * Receipts through Amazon EventBridge: `PutEvents` to one bus, as few calls as its limits allow, and the entries
 * that fail retried with the project's one retry policy (lib/retry.ts).
 *
 * PutEvents facts this follows (Amazon EventBridge API Reference and User Guide):
 * - at most 10 entries a call (API_PutEvents, `Entries`: "Maximum number of 10 items");
 * - "the total entry size must be less than 256KB", each entry sized as the user guide's "Calculating PutEvents event
 *   entry size" says (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html);
 * - a call can succeed with some entries failed: `FailedEntryCount` and, per failed entry, `ErrorCode` /
 *   `ErrorMessage`; "You must detect unsuccessful entries and include them in a subsequent call" (eb-putevents.html).
 *   PutEventsResultEntry names `InternalFailure` and `ThrottlingException` as the retryable codes; the others
 *   (`AccessDeniedException`, `InvalidArgument`, `MalformedDetail`, …) fail the same way again at once.
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { errorMessage, isAbortError, SyncError } from '../errors.ts';
import type { ReceiptSender, ReceiptSendResult } from '../ports.ts';
import { RECEIPT_SOURCE, type Receipt } from '../receipts.ts';
import { type BackoffOptions, withRetry } from '../retry.ts';

/** Entries a `PutEvents` call may hold. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** The documented bound of a call's total entry size: "less than 256KB". */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;
/** The size "Calculating PutEvents event entry size" counts for a `Time` parameter. */
const TIME_BYTES = 14;
/** The per-entry error codes PutEventsResultEntry documents as retryable. */
const RETRYABLE_ENTRY_CODES = new Set(['InternalFailure', 'ThrottlingException']);
/** Whole-call errors worth another try: throttling and the service's own failures. */
const RETRYABLE_CALL_ERRORS = new Set([
  'ThrottlingException',
  'InternalException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** How the adapter retries the entries that failed, within one invocation. */
export interface ReceiptRetryOptions extends BackoffOptions {
  /** Tries in all, the first included. */
  readonly maxAttempts: number;
}

/** The default: 4 tries over about 1.5 s at most, short enough to leave the record's own retry to the queue. */
export const DEFAULT_RECEIPT_RETRY: ReceiptRetryOptions = { maxAttempts: 4, baseMs: 100, capMs: 800 };

/** Options of {@link createEventBridgeReceiptSender}. */
export interface EventBridgeReceiptsOptions {
  /** A client with a request timeout, and no retries of its own (the adapter retries). */
  readonly client: EventBridgeClient;
  /** The name or ARN of the bus. */
  readonly eventBusName: string;
  readonly retry?: Partial<ReceiptRetryOptions>;
  /** Told before each retry (a log line). */
  readonly onRetry?: (info: { attempt: number; delayMs: number; pending: number; reason: string }) => void;
}

/** The `PutEventsRequestEntry` of a receipt. */
export function toPutEventsEntry(receipt: Receipt, eventBusName: string): PutEventsRequestEntry {
  const { detail } = receipt;
  return {
    Source: RECEIPT_SOURCE,
    DetailType: receipt.detailType,
    Detail: JSON.stringify(detail),
    // The time of the state change, so that every send of one receipt carries the same `time`.
    Time: new Date(detail.time),
    EventBusName: eventBusName,
    // The S3 object's ARN, which rules can match on (`resources`).
    Resources: [`arn:aws:s3:::${detail.bucket}/${detail.key}`],
  };
}

/** The size of an entry as "Calculating PutEvents event entry size" computes it (EventBusName does not count). */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  const utf8 = (value: string | undefined): number =>
    value === undefined ? 0 : Buffer.byteLength(value, 'utf8');
  return (
    (entry.Time === undefined ? 0 : TIME_BYTES) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + utf8(resource), 0)
  );
}

/**
 * Splits entries (by index) into calls, in order: at most {@link PUT_EVENTS_MAX_ENTRIES} each and a total size below
 * {@link PUT_EVENTS_MAX_BYTES}. An entry too large on its own gets a call of its own (which the service refuses).
 */
export function planPutEventsCalls(sizes: readonly number[], indexes: readonly number[]): number[][] {
  const calls: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const index of indexes) {
    const size = sizes[index] ?? 0;
    if (
      current.length > 0 &&
      (current.length >= PUT_EVENTS_MAX_ENTRIES || bytes + size >= PUT_EVENTS_MAX_BYTES)
    ) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function httpStatusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return metadata?.httpStatusCode;
}

/** Whether a failed `PutEvents` call is worth another try. */
function isRetryableCallError(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false;
  if (RETRYABLE_CALL_ERRORS.has(errorName(error))) return true;
  const status = httpStatusOf(error);
  if (status === undefined) return !isAbortError(error) || errorName(error) === 'TimeoutError';
  return status === 429 || status >= 500;
}

/** Entries still to send after a try, with the last reason each one failed. */
class EntriesNotSentError extends Error {
  readonly reasons: ReadonlyMap<number, string>;

  constructor(reasons: ReadonlyMap<number, string>) {
    super(`${reasons.size} receipt(s) not accepted by PutEvents yet`);
    this.name = 'EntriesNotSentError';
    this.reasons = reasons;
  }
}

/**
 * The error of a receipt that could not be sent: transient, since the export it reports is done and recorded, and
 * the record's retry sends only the receipt.
 */
function notSent(reason: string): SyncError {
  return new SyncError(`The receipt could not be sent to EventBridge: ${reason}`, {
    kind: 'transient',
    code: 'receipt-not-sent',
  });
}

/** A {@link ReceiptSender} over EventBridge `PutEvents` to one bus. */
export function createEventBridgeReceiptSender(options: EventBridgeReceiptsOptions): ReceiptSender {
  const retry: ReceiptRetryOptions = { ...DEFAULT_RECEIPT_RETRY, ...options.retry };
  return {
    async send(receipts, signal) {
      const entries = receipts.map((receipt) => toPutEventsEntry(receipt, options.eventBusName));
      const sizes = entries.map(putEventsEntrySize);
      const results: (ReceiptSendResult | undefined)[] = receipts.map(() => undefined);
      const fail = (index: number, message: string): void => {
        results[index] = { sent: false, error: notSent(message) };
      };
      let pending = receipts.map((_, index) => index);

      const tryOnce = async (): Promise<void> => {
        const reasons = new Map<number, string>();
        for (const call of planPutEventsCalls(sizes, pending)) {
          signal?.throwIfAborted();
          try {
            const output = await options.client.send(
              new PutEventsCommand({ Entries: call.map((index) => entries[index] ?? {}) }),
              { abortSignal: signal },
            );
            call.forEach((index, position) => {
              const result = output.Entries?.[position];
              if (result?.EventId !== undefined && result.ErrorCode === undefined) {
                results[index] = { sent: true, eventId: result.EventId };
              } else if (result?.ErrorCode !== undefined && !RETRYABLE_ENTRY_CODES.has(result.ErrorCode)) {
                fail(index, `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`);
              } else {
                reasons.set(index, `${result?.ErrorCode ?? 'no result'}: ${result?.ErrorMessage ?? ''}`);
              }
            });
          } catch (error) {
            const reason = `${errorName(error)}: ${errorMessage(error)}`;
            if (!isRetryableCallError(error, signal)) {
              for (const index of call) fail(index, reason);
            } else {
              for (const index of call) reasons.set(index, reason);
            }
          }
        }
        pending = [...reasons.keys()];
        if (reasons.size > 0) throw new EntriesNotSentError(reasons);
      };

      try {
        await withRetry(tryOnce, {
          ...retry,
          signal,
          classify: (error) => ({ retry: error instanceof EntriesNotSentError }),
          onRetry: (error, attempt, delayMs) =>
            options.onRetry?.({
              attempt,
              delayMs,
              pending: pending.length,
              reason: error instanceof EntriesNotSentError ? ([...error.reasons.values()][0] ?? '') : '',
            }),
        });
      } catch (error) {
        const reasons = error instanceof EntriesNotSentError ? error.reasons : undefined;
        const fallback = signal?.aborted ? 'the invocation reached its deadline' : errorMessage(error);
        results.forEach((result, index) => {
          if (result === undefined) fail(index, reasons?.get(index) ?? fallback);
        });
      }
      return results.map((result) => result ?? { sent: false, error: notSent('no result') });
    },
  };
}
