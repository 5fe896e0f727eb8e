/**
 * Lambda `sync-to-dropbox`: SQS batches of S3 notifications → Dropbox. Wiring only: middleware first, handler last;
 * the work is in lib/sqs-record.ts and lib/sync.ts.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  createDynamoDbClient,
  createEventBridgeClient,
  createLazySqsClient,
  createS3Client,
  createSsmClient,
} from '../../lib/aws/clients.ts';
import { createDynamoDbLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { createDynamoDbReceiptLedger } from '../../lib/aws/dynamodb-receipts.ts';
import {
  createEventBridgeReceiptSender,
  type ReceiptRetryOptions,
} from '../../lib/aws/eventbridge-receipts.ts';
import { flowControlStoreFromEnv, flowSwitchFromEnv } from '../../lib/aws/flow-control-env.ts';
import { createS3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { createSettingsLoader } from '../../lib/aws/settings-store.ts';
import { createSqsRetryScheduler } from '../../lib/aws/sqs-retry-scheduler.ts';
import { type CircuitBreaker, createCircuitBreaker, describeBreakerHold } from '../../lib/breaker.ts';
import { CommitGroup } from '../../lib/commit-group.ts';
import { DEFAULT_UPLOAD_TUNING, getDropboxClient, type UploadTuning } from '../../lib/dropbox/client.ts';
import { errorMessage } from '../../lib/errors.ts';
import { answerBy, BatchProgress, createInvocationDeadlines } from '../../lib/invocation.ts';
import type { ReceiptLedger, ReceiptSender } from '../../lib/ports.ts';
import { createLogger, createMetrics, createSyncMetrics } from '../../lib/powertools.ts';
import { ReceiptBatch } from '../../lib/receipt-batch.ts';
import { processQueueRecord, type RecordDeps, type RecordFailure } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';

/** Everything the handler needs; `runtimeDeps()` builds it from the environment. */
export interface HandlerDeps extends Omit<RecordDeps, 'log' | 'metrics'> {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Time kept back before the Lambda timeout for the records' bookkeeping (lib/invocation.ts). @default 10000 */
  readonly deadlineMarginMs?: number;
  /** The small files of one batch commit together (one `finish_batch_v2`) rather than one by one. @default true */
  readonly batchCommits?: boolean;
  /** Where receipts go (`RECEIPTS_EVENT_BUS`), and where the ledger records them; without a sender, none is sent. */
  readonly receiptSender?: ReceiptSender | undefined;
  readonly receiptMarks?: ReceiptLedger | undefined;
}

/** Options of {@link runtimeDeps}. */
export interface RuntimeOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly onOutcome?: (outcome: SyncOutcome, messageId: string) => void;
  readonly onFailure?: (failure: RecordFailure) => void;
  /** Overrides of the uploader's tuning (tests shorten the in-call retries). */
  readonly uploadTuning?: Partial<UploadTuning>;
  /** Sends the Dropbox client's requests (tests observe them). @default the client's node:http transport */
  readonly dropboxFetch?: typeof fetch;
  /** The Logger to use instead of a new one (the local stack's readable view). */
  readonly logger?: Logger;
  /** Overrides of the receipts' in-call retries. */
  readonly receiptRetry?: Partial<ReceiptRetryOptions>;
}

function numberFrom(value: string | undefined, fallback: number, minimum = 1): number {
  const parsed = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(parsed) && parsed >= minimum
    ? parsed
    : fallback;
}

/**
 * The circuit breaker (lib/breaker.ts) when the environment configures its store and switch; without one, an
 * account-wide failure still requeues its record (never the DLQ), only the flow does not stop.
 */
function breakerFromEnv(
  env: NodeJS.ProcessEnv,
  ssm: ReturnType<typeof createSsmClient>,
  logger: Logger,
  metrics: Metrics,
): CircuitBreaker | undefined {
  const store = flowControlStoreFromEnv(env);
  const flow = flowSwitchFromEnv(env, ssm);
  if (store === undefined || flow === undefined) return undefined;
  return createCircuitBreaker({
    store,
    flow,
    events: {
      opened: (control) => {
        metrics.addMetric('BreakerOpen', MetricUnit.Count, 1);
        logger.error('circuit breaker opened: the flow stops', { breaker: describeBreakerHold(control) });
      },
      failed: (error) =>
        logger.error('the circuit breaker could not stop the flow', { error: errorMessage(error) }),
    },
  });
}

/** Builds the handler's dependencies from the environment (AWS clients created once, reused while warm). */
export function runtimeDeps(options: RuntimeOptions = {}): HandlerDeps {
  const env = options.env ?? process.env;
  const instance = env.INSTANCE_NAME ?? 'default';
  const settingsPath = env.SETTINGS_PATH ?? `/ticket-dropbox-sync/${instance}/`;
  const logger = options.logger ?? createLogger(instance);
  const metrics = createMetrics(instance, logger);
  const ssm = createSsmClient({ env });
  const settings = createSettingsLoader({
    ssm,
    path: settingsPath,
    ttlMs: numberFrom(env.SETTINGS_CACHE_TTL_SECONDS, 60, 0) * 1000,
  });
  const mib = 1024 * 1024;
  const dynamodb = createDynamoDbClient({ env });
  const receiptsBus = env.RECEIPTS_EVENT_BUS?.trim();
  return {
    logger,
    metrics,
    objects: createS3ObjectStore(createS3Client({ env }), {
      bucket: env.BUCKET_NAME || undefined,
      keyPrefix: env.KEY_PREFIX || undefined,
    }),
    ledger: createDynamoDbLedger({
      client: dynamodb,
      tableName: env.LEDGER_TABLE ?? '',
    }),
    receiptSender: receiptsBus
      ? createEventBridgeReceiptSender({
          client: createEventBridgeClient({ env }),
          eventBusName: receiptsBus,
          retry: options.receiptRetry,
          onRetry: (info) => logger.warn('receipt retry', { ...info }),
        })
      : undefined,
    receiptMarks: createDynamoDbReceiptLedger({ client: dynamodb, tableName: env.LEDGER_TABLE ?? '' }),
    loadSettings: (signal) => settings.load(signal),
    dropboxFor: (credentials) =>
      getDropboxClient({
        credentials,
        endpointUrl: env.DROPBOX_ENDPOINT_URL,
        upload: {
          chunkBytes: numberFrom(env.UPLOAD_CHUNK_MIB, DEFAULT_UPLOAD_TUNING.chunkBytes / mib) * mib,
          chunksInFlight: numberFrom(env.UPLOAD_CHUNKS_IN_FLIGHT, DEFAULT_UPLOAD_TUNING.chunksInFlight),
          pieceStore: env.UPLOAD_PIECE_STORE?.trim().toLowerCase() === 'reread' ? 'reread' : 'spool',
          spoolDir: env.UPLOAD_SPOOL_DIR || undefined,
          ...options.uploadTuning,
        },
        onRetry: (info) => logger.warn('dropbox retry', { ...info }),
        ...(options.dropboxFetch === undefined ? {} : { fetch: options.dropboxFetch }),
      }),
    // SQS is on the failure paths only (retry delays, requeues, dead letters): its SDK loads on first use.
    retries: createSqsRetryScheduler(createLazySqsClient({ env }), {
      queueUrl: env.QUEUE_URL || undefined,
      deadLetterQueueUrl: env.DEAD_LETTER_QUEUE_URL || undefined,
    }),
    accountDelaySeconds:
      env.ACCOUNT_RETRY_DELAY_SECONDS === undefined
        ? undefined
        : numberFrom(env.ACCOUNT_RETRY_DELAY_SECONDS, 300, 0),
    breaker: breakerFromEnv(env, ssm, logger, metrics),
    onOutcome: options.onOutcome,
    onFailure: options.onFailure,
    deadlineMarginMs: numberFrom(env.DEADLINE_MARGIN_MS, 10_000),
    batchCommits: env.UPLOAD_BATCH_COMMITS?.trim().toLowerCase() !== 'off',
  };
}

/** Builds the middy handler around `deps` (tests and the local stack pass their own). */
export function createHandler(deps: HandlerDeps) {
  const recordDeps: RecordDeps = { ...deps, log: deps.logger, metrics: createSyncMetrics(deps.metrics) };
  const margin = deps.deadlineMarginMs ?? 10_000;
  // middy's early timeout would throw, failing the whole batch: the handler answers by its own final deadline.
  return middy<SQSEvent, SQSBatchResponse, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .handler(async (event, context) => {
      const remaining = context.getRemainingTimeInMillis?.() ?? 15 * 60_000;
      const deadlines = createInvocationDeadlines(remaining, margin);
      deps.metrics.addMetric('RecordsReceived', MetricUnit.Count, event.Records.length);
      const ids = event.Records.map((record) => record.messageId);
      const progress = new BatchProgress(ids);
      const processor = new BatchProcessor(EventType.SQS);
      // Records run in parallel; those with a small file commit it together, once all of them got that far.
      const batchDeps: RecordDeps = {
        ...recordDeps,
        // A claim on an object in the export ledger never outlives this invocation.
        invocationEndsAt: Date.now() + remaining,
        ...(deps.batchCommits === false
          ? {}
          : { commitGroup: new CommitGroup(ids, { commitSignal: deadlines.final }) }),
        // The receipts of the invocation's records go out together (lib/receipt-batch.ts).
        ...(deps.receiptSender === undefined || deps.receiptMarks === undefined
          ? {}
          : {
              receipts: {
                batch: new ReceiptBatch(deps.receiptSender),
                marks: deps.receiptMarks,
                readRecord: (id: string, signal?: AbortSignal) => deps.ledger.read(id, signal),
              },
            }),
      };
      const processing = processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const outcomes = await processQueueRecord(record, batchDeps, deadlines);
          progress.markDone(record.messageId);
          return outcomes;
        },
        processor,
        { context, throwOnFullBatchFailure: false },
      ).catch((error: unknown) => {
        // Never the whole batch: whatever went wrong around the records, the ones done stay done.
        deps.logger.error('batch processing failed', { error: errorMessage(error) });
        return progress.answer();
      });
      return answerBy(processing, deadlines.final, () => progress.answer());
    });
}

export const handler = createHandler(runtimeDeps());
