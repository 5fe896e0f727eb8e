/**
 * A local stack for integration tests, driven step by step: nothing polls in the background; `drain()` does what
 * the event source mapping does (receive, invoke the real handler, delete what succeeded) until the queue has
 * nothing visible, so each test decides when events are processed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DeleteParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHandler, type HandlerDeps, runtimeDeps } from '../../functions/sync-to-dropbox/handler.ts';
import {
  createDynamoDbClient,
  createS3Client,
  createSqsClient,
  createSsmClient,
} from '../../lib/aws/clients.ts';
import { createDynamoDbLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { countQueued, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import type { ProbeOutcome } from '../../lib/breaker.ts';
import { DropboxClient, getDropboxClient, type UploadTuning } from '../../lib/dropbox/client.ts';
import { type LedgerRecord, ledgerId } from '../../lib/ledger.ts';
import type { ExportLedger } from '../../lib/ports.ts';
import type { RecordFailure } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import { EMULATOR_CLIENT_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { toSqsRecord } from '../../tools/local/poller.ts';
import { type ProbeLoop, startProbeLoop } from '../../tools/local/probe-loop.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../tools/local/stack.ts';

/** A failed record of a drained batch. */
export interface DrainedFailure {
  readonly messageId: string;
  readonly receiptHandle: string;
}

/** The sync function's handler, as {@link Harness.instance} builds another one. */
export type SyncHandler = ReturnType<typeof createHandler>;

/** The harness around one local stack. */
export interface Harness {
  readonly stack: LocalStack;
  /** The stack's data folder. */
  readonly dir: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
  readonly dropbox: DropboxClient;
  /** The stack's export ledger, through the function's own adapter. */
  readonly ledger: ExportLedger;
  readonly outcomes: SyncOutcome[];
  readonly failures: RecordFailure[];
  put(key: string, body: string | Buffer, metadata?: Record<string, string>, tagging?: string): Promise<void>;
  tag(key: string, tags: Record<string, string>): Promise<void>;
  remove(key: string): Promise<void>;
  /** The ledger record of the object `key` in the stack's bucket. */
  record(key: string): Promise<LedgerRecord | null>;
  setSetting(name: string, value: string | undefined): Promise<void>;
  /**
   * Processes every visible message through the real handler; returns the messages whose last receive failed, each
   * once with its latest receipt handle (a retry delay that runs out during the drain gets a message again). Like the
   * event source mapping, it takes nothing while the flow is paused (the pause file), unless `ignorePause`.
   */
  drain(options?: {
    batchSize?: number;
    remainingMs?: number;
    ignorePause?: boolean;
  }): Promise<DrainedFailure[]>;
  /** Whether the flow is paused (the pause file the breaker and `pause` write). */
  paused(): boolean;
  /** Runs the circuit breaker's probe once, with the probe function's own handler. */
  probe(): Promise<ProbeOutcome>;
  /** Receives every visible message (they stay in flight) as the records Lambda would pass. */
  receive(): Promise<SQSRecord[]>;
  /**
   * Runs `records` through `handler` (default: the harness's) as one invocation, deletes the messages it reported
   * done, and returns the ones it reported failed.
   */
  invoke(
    records: readonly SQSRecord[],
    options?: { readonly handler?: SyncHandler; readonly remainingMs?: number },
  ): Promise<DrainedFailure[]>;
  /** Sends a message body to the sync queue, as S3 (or the CLI's backfill) would. */
  send(body: string): Promise<void>;
  /**
   * Another instance of the function, as a second Lambda instance would run it: its own Dropbox client (tokens,
   * rate limits) and upload tuning; its outcomes and failures go to the harness's lists. `override` changes its
   * dependencies (an S3 store that fails on cue, …).
   */
  instance(options?: {
    readonly uploadTuning?: Partial<UploadTuning>;
    readonly override?: (deps: HandlerDeps) => HandlerDeps;
  }): SyncHandler;
  /** Makes failed records visible again at once (what their retry delay would do later). */
  redeliver(failures: readonly DrainedFailure[]): Promise<void>;
  /** Messages in the queue (visible + in flight) and in the DLQ. */
  depth(): Promise<{ queue: number; dlq: number }>;
  close(): Promise<void>;
}

/** Starts a harness on a fresh local stack in a temporary folder. */
export async function startHarness(
  options: Partial<LocalStackOptions> & {
    readonly settings?: Record<string, string>;
    /** More of the function's environment (`UPLOAD_BATCH_COMMITS`, `AWS_REQUEST_TIMEOUT_MS`, …). */
    readonly functionEnv?: Record<string, string>;
  } = {},
): Promise<Harness> {
  // The function's JSON log lines would drown the test report; outcomes and failures are asserted instead.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  // A folder of the caller's (a restart on the same data) is kept; a fresh one is removed on close.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tds-'));
  // The stack sets its endpoints in process.env; they are put back on close, so that the next harness of the same
  // test file starts its own emulators instead of reaching for this one's (closed) Dropbox endpoint.
  const savedEnv = { ...process.env };
  const stack = await startLocalStack({
    ...options,
    dir,
    poll: false,
    initialSettings: options.settings,
    ledger: options.ledger ?? (options.dir === undefined ? 'memory' : 'disk'),
  });
  const outcomes: SyncOutcome[] = [];
  const failures: RecordFailure[] = [];
  // An account-wide failure requeues its record at once (the breaker's pause holds it back), not minutes later.
  const env = {
    ...process.env,
    ...stack.env,
    SETTINGS_CACHE_TTL_SECONDS: '0',
    ACCOUNT_RETRY_DELAY_SECONDS: '0',
    ...options.functionEnv,
  };
  const handler = createHandler(
    runtimeDeps({
      env,
      onOutcome: (outcome) => outcomes.push(outcome),
      onFailure: (failure) => failures.push(failure),
      uploadTuning: { maxAttempts: 2, backoffBaseMs: 5, backoffCapMs: 20 },
      receiptRetry: { baseMs: 5, capMs: 20 },
    }),
  );
  const s3 = createS3Client({ env: stack.env });
  const sqs = createSqsClient({ env: stack.env });
  const ssm = createSsmClient({ env: stack.env });
  const dropbox = getDropboxClient({
    credentials: EMULATOR_CLIENT_CREDENTIALS,
    endpointUrl: stack.env.DROPBOX_ENDPOINT_URL,
  });
  const { outputs } = stack;
  const ledger = createDynamoDbLedger({
    client: createDynamoDbClient({ env: stack.env }),
    tableName: outputs.LedgerTableName,
  });
  let probeLoop: ProbeLoop | undefined;
  const context = (remainingMs: number): Context => {
    const deadline = Date.now() + remainingMs;
    return {
      functionName: 'sync-to-dropbox-test',
      awsRequestId: crypto.randomUUID(),
      getRemainingTimeInMillis: () => deadline - Date.now(),
    } as Context;
  };

  const invoke = async (
    records: readonly SQSRecord[],
    invokeOptions: { readonly handler?: SyncHandler; readonly remainingMs?: number } = {},
  ): Promise<DrainedFailure[]> => {
    const event: SQSEvent = { Records: [...records] };
    const response = await (invokeOptions.handler ?? handler)(
      event,
      context(invokeOptions.remainingMs ?? 900_000),
    );
    const failedIds = new Set((response?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
    const done = records.filter((record) => !failedIds.has(record.messageId));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: outputs.QueueUrl,
          Entries: done.map((record, index) => ({ Id: `m${index}`, ReceiptHandle: record.receiptHandle })),
        }),
      );
    }
    return records
      .filter((record) => failedIds.has(record.messageId))
      .map((record) => ({ messageId: record.messageId, receiptHandle: record.receiptHandle }));
  };
  const receiveBatch = async (max: number): Promise<SQSRecord[]> => {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: outputs.QueueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return (received.Messages ?? []).map((message) => toSqsRecord(message, outputs.QueueArn, 'us-east-1'));
  };

  const harness: Harness = {
    stack,
    dir,
    s3,
    sqs,
    ssm,
    dropbox,
    ledger,
    outcomes,
    failures,
    async put(key, body, metadata = {}, tagging) {
      await s3.send(
        new PutObjectCommand({
          Bucket: outputs.BucketName,
          Key: key,
          Body: body,
          Metadata: metadata,
          Tagging: tagging,
        }),
      );
    },
    async tag(key, tags) {
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: outputs.BucketName,
          Key: key,
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
    },
    async remove(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: outputs.BucketName, Key: key }));
    },
    record(key) {
      return ledger.read(ledgerId(outputs.BucketName, key));
    },
    async setSetting(name, value) {
      const Name = `${outputs.SettingsPath}${name}`;
      if (value === undefined) await ssm.send(new DeleteParameterCommand({ Name })).catch(() => undefined);
      else await ssm.send(new PutParameterCommand({ Name, Value: value, Type: 'String', Overwrite: true }));
    },
    async drain(drainOptions = {}) {
      // By message: a message whose retry delay ran out while the drain went on is received again, and only its
      // latest receipt handle is valid (SQS's ChangeMessageVisibility refuses an earlier one), or it succeeded.
      const failed = new Map<string, DrainedFailure>();
      for (;;) {
        if (drainOptions.ignorePause !== true && existsSync(outputs.PauseFile)) return [...failed.values()];
        const records = await receiveBatch(drainOptions.batchSize ?? 10);
        if (records.length === 0) return [...failed.values()];
        for (const record of records) failed.delete(record.messageId);
        for (const failure of await invoke(records, { remainingMs: drainOptions.remainingMs })) {
          failed.set(failure.messageId, failure);
        }
      }
    },
    paused() {
      return existsSync(outputs.PauseFile);
    },
    probe() {
      probeLoop ??= startProbeLoop({ env, intervalMs: 24 * 3600 * 1000 });
      return probeLoop.runOnce();
    },
    async receive() {
      const records: SQSRecord[] = [];
      for (;;) {
        const batch = await receiveBatch(10);
        if (batch.length === 0) return records;
        records.push(...batch);
      }
    },
    invoke,
    async send(body) {
      await sqs.send(new SendMessageCommand({ QueueUrl: outputs.QueueUrl, MessageBody: body }));
    },
    instance(instanceOptions = {}) {
      const deps = runtimeDeps({
        env,
        onOutcome: (outcome) => outcomes.push(outcome),
        onFailure: (failure) => failures.push(failure),
      });
      const own = new DropboxClient({
        credentials: EMULATOR_CLIENT_CREDENTIALS,
        endpointUrl: stack.env.DROPBOX_ENDPOINT_URL,
        upload: { maxAttempts: 2, backoffBaseMs: 5, backoffCapMs: 20, ...instanceOptions.uploadTuning },
      });
      const withOwnClient: HandlerDeps = { ...deps, dropboxFor: () => own };
      return createHandler(instanceOptions.override?.(withOwnClient) ?? withOwnClient);
    },
    async redeliver(failed) {
      for (const failure of failed) {
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: outputs.QueueUrl,
            ReceiptHandle: failure.receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    },
    async depth() {
      return {
        queue: countQueued(await readQueueDepth(sqs, outputs.QueueUrl)),
        dlq: countQueued(await readQueueDepth(sqs, outputs.DeadLetterQueueUrl)),
      };
    },
    async close() {
      await probeLoop?.stop();
      await stack.close();
      for (const name of Object.keys(stack.env)) {
        const saved = savedEnv[name];
        if (saved === undefined) delete process.env[name];
        else process.env[name] = saved;
      }
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Every file under `folder` in Dropbox, as `path → size`, sorted. */
export async function dropboxTree(dropbox: DropboxClient, folder: string): Promise<Record<string, number>> {
  const files = await dropbox.listFolder(folder, { recursive: true });
  return Object.fromEntries(
    [...files]
      .sort((a, b) => a.pathDisplay.localeCompare(b.pathDisplay))
      .map((file) => [file.pathDisplay, file.size]),
  );
}
