/**
 * Helpers of the bad-input corpus: the function's log lines and metrics recorded (for the skips that happen before
 * any object is read, which have no outcome), and raw message bodies pushed through the real queue.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { runtimeDeps } from '../../functions/sync-to-dropbox/handler.ts';
import type { SyncLog, SyncMetrics } from '../../lib/observability.ts';
import { processQueueRecord, type RecordDeps } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import type { Harness } from '../support/harness.ts';

/** One log line the sync wrote. */
export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** What one record did, as the sync reported it. */
export interface RecordReport {
  readonly outcomes: SyncOutcome[];
  /** The failure the record was reported with, if any. */
  readonly error: unknown;
  readonly lines: LogLine[];
  /** `FilesSkipped` reason codes, in order. */
  readonly skipped: string[];
  /** `RecordsFailed` kinds, in order. */
  readonly failed: string[];
}

/**
 * Runs one SQS message body through {@link processQueueRecord} with the function's real adapters (pointed at the
 * harness's local stack) and a recording log and metrics. The queue is not involved: see {@link sendBody}.
 */
export async function processBody(
  harness: Harness,
  body: string,
  messageId = 'corpus-message',
): Promise<RecordReport> {
  const lines: LogLine[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  const record =
    (level: LogLine['level']) =>
    (message: string, ...attributes: Record<string, unknown>[]): void => {
      lines.push({ level, message, attributes: Object.assign({}, ...attributes) });
    };
  const log: SyncLog = { info: record('info'), warn: record('warn'), error: record('error') };
  const metrics: SyncMetrics = {
    exported: () => undefined,
    skipped: (code) => skipped.push(code),
    failed: (kind) => failed.push(kind),
    warned: () => undefined,
  };
  const {
    logger: _logger,
    metrics: _metrics,
    ...handlerDeps
  } = runtimeDeps({
    env: { ...process.env, ...harness.stack.env, SETTINGS_CACHE_TTL_SECONDS: '0', QUEUE_URL: '' },
  });
  const deps: RecordDeps = {
    ...handlerDeps,
    log,
    metrics,
    // No queue message behind this record: nothing to defer.
    retries: {
      deferRetry: async () => undefined,
      requeue: async () => undefined,
      deadLetter: async () => undefined,
    },
  };
  let outcomes: SyncOutcome[] = [];
  let error: unknown;
  try {
    outcomes = await processQueueRecord({ messageId, receiptHandle: 'none', body }, deps);
  } catch (failure) {
    if (!(failure instanceof Error)) throw failure;
    error = failure;
  }
  return { outcomes, error, lines, skipped, failed };
}

/** Sends a raw body to the sync queue, as S3 (or anything with `sqs:SendMessage`) would. */
export async function sendBody(harness: Harness, body: string): Promise<void> {
  await harness.sqs.send(
    new SendMessageCommand({ QueueUrl: harness.stack.outputs.QueueUrl, MessageBody: body }),
  );
}

/** The ticket metadata most corpus objects carry: a print file with aliases. */
export const PRINT = { 'ticket-type': 'print', 'publication-alias': 'Daily', 'issue-alias': 'Dec' } as const;
