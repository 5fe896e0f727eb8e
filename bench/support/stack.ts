/**
 * The benchmarks' local stack: the project's own (tools/local/stack.ts: s3rver behind the notifying proxy, the SSM,
 * SQS and Dropbox emulators) without its poller, since the bench runs the function in child processes of its own,
 * plus the clients and small helpers the scenarios share.
 */
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { SQSRecord } from 'aws-lambda';
import {
  createS3Client,
  createSqsClient,
  createSsmClient,
  uploadSendOptions,
} from '../../lib/aws/clients.ts';
import { countQueued, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import { ledgerId } from '../../lib/ledger.ts';
import type { DropboxEmulator } from '../../tools/emulators/dropbox/server.ts';
import { EMULATOR_CLIENT_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { type LocalStack, startLocalStack } from '../../tools/local/stack.ts';

/** How long the function caches its settings in the bench: the stack's default. */
export const SETTINGS_TTL_SECONDS = 60;

/** The bench's stack and what the scenarios use of it. */
export interface BenchStack {
  readonly stack: LocalStack;
  readonly dir: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
  readonly dropbox: DropboxEmulator;
  /** A Dropbox client of the emulator's test app, for checking what was exported. */
  readonly dropboxClient: DropboxClient;
  readonly bucket: string;
  /** The environment of a function process on this stack. */
  functionEnv(overrides?: Readonly<Record<string, string>>): Record<string, string>;
  setSetting(name: string, value: string): Promise<void>;
  putObject(
    key: string,
    body: Buffer | Readable,
    size: number,
    metadata: Record<string, string>,
  ): Promise<void>;
  /**
   * Forgets the object's export in the export ledger, so that the next sync exports it again (to the run's own base
   * folder) instead of finding it already exported: each measured run starts from an object never exported.
   */
  forgetExport(key: string): Promise<void>;
  /** Receives (and deletes) up to `count` notifications: the SQS records the function would get. */
  takeRecords(count: number): Promise<SQSRecord[]>;
  /** Messages in the queue (waiting or in flight) and in the dead-letter queue. */
  depth(): Promise<{ queue: number; dlq: number }>;
  close(): Promise<void>;
}

/**
 * Where the stack keeps its data: memory-backed /dev/shm when the machine has one with room for the scenarios' few
 * GiB, else the temporary folder. The emulators' own disk writes (s3rver's object, the Dropbox emulator's session
 * pieces and committed files) are then not what the scenarios measure; Dropbox's servers are not this disk.
 */
async function pickDataRoot(): Promise<string> {
  try {
    const space = await statfs('/dev/shm');
    if (space.bavail * space.bsize >= 6 * 1024 ** 3) return '/dev/shm';
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
  }
  return tmpdir();
}

/** Starts the stack in a fresh temporary folder. */
export async function startBenchStack(): Promise<BenchStack> {
  const dir = await mkdtemp(join(await pickDataRoot(), 'tds-bench-'));
  // The ledger in memory: DynamoDB's servers are not this machine's LevelDB on a shared disk either.
  const stack = await startLocalStack({
    dir,
    poll: false,
    settingsTtlSeconds: SETTINGS_TTL_SECONDS,
    ledger: 'memory',
  });
  if (stack.dropbox === undefined) throw new Error('the bench needs the embedded Dropbox emulator');
  const env = stack.env;
  const s3 = createS3Client({ env });
  const sqs = createSqsClient({ env });
  const ssm = createSsmClient({ env });
  const { outputs } = stack;
  const ledgerClient = new DynamoDBClient({
    endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
    region: outputs.Region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const dropboxClient = new DropboxClient({
    credentials: EMULATOR_CLIENT_CREDENTIALS,
    endpointUrl: env.DROPBOX_ENDPOINT_URL,
  });
  return {
    stack,
    dir,
    s3,
    sqs,
    ssm,
    dropbox: stack.dropbox,
    dropboxClient,
    bucket: outputs.BucketName,
    functionEnv(overrides = {}) {
      const inherited: Record<string, string> = {};
      for (const [name, value] of Object.entries(process.env))
        if (value !== undefined) inherited[name] = value;
      return {
        ...inherited,
        ...env,
        // The function's JSON log lines (one per file) are not the bench's output; warnings and errors stay on.
        POWERTOOLS_LOG_LEVEL: 'WARN',
        POWERTOOLS_METRICS_DISABLED: 'true',
        ...overrides,
      };
    },
    async setSetting(name, value) {
      await ssm.send(
        new PutParameterCommand({
          Name: `${outputs.SettingsPath}${name}`,
          Value: value,
          Type: 'String',
          Overwrite: true,
        }),
      );
    },
    async putObject(key, body, size, metadata) {
      await s3.send(
        new PutObjectCommand({
          Bucket: outputs.BucketName,
          Key: key,
          Body: body,
          ContentLength: size,
          Metadata: metadata,
        }),
        uploadSendOptions(size, env),
      );
    },
    async forgetExport(key) {
      await ledgerClient.send(
        new DeleteItemCommand({
          TableName: outputs.LedgerTableName,
          Key: { id: { S: ledgerId(outputs.BucketName, key) } },
        }),
      );
    },
    async takeRecords(count) {
      const records: SQSRecord[] = [];
      while (records.length < count) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: outputs.QueueUrl,
            MaxNumberOfMessages: Math.min(10, count - records.length),
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        if (Messages.length === 0) throw new Error(`expected ${count} notifications, got ${records.length}`);
        for (const message of Messages) {
          records.push({
            messageId: message.MessageId ?? '',
            receiptHandle: message.ReceiptHandle ?? '',
            body: message.Body ?? '',
            attributes: {
              ApproximateReceiveCount: '1',
              SentTimestamp: String(Date.now()),
              SenderId: 'bench',
              ApproximateFirstReceiveTimestamp: String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: message.MD5OfBody ?? '',
            eventSource: 'aws:sqs',
            eventSourceARN: outputs.QueueArn,
            awsRegion: outputs.Region,
          });
        }
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: outputs.QueueUrl,
            Entries: Messages.map((message, index) => ({
              Id: `m${index}`,
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
      }
      return records;
    },
    async depth() {
      const [queue, dlq] = await Promise.all([
        readQueueDepth(sqs, outputs.QueueUrl),
        readQueueDepth(sqs, outputs.DeadLetterQueueUrl),
      ]);
      return { queue: countQueued(queue), dlq: countQueued(dlq) };
    },
    async close() {
      ledgerClient.destroy();
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
