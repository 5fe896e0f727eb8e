/**
 * The local stack: the whole flow on one machine with no AWS or Dropbox account. s3rver behind a notifying proxy,
 * the SSM and SQS emulators, the Dropbox emulator (or any Dropbox-compatible origin, or the real Dropbox), the
 * poller, and the function's own handler.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { createHandler, runtimeDeps } from '../../functions/sync-to-dropbox/handler.ts';
import { createSqsClient, createSsmClient } from '../../lib/aws/clients.ts';
import { MAX_RECEIVES, type RecordFailure } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import {
  type DropboxEmulator,
  EMULATOR_CREDENTIALS,
  type FaultOptions,
  startDropboxEmulator,
} from '../emulators/dropbox/server.ts';
import {
  type DeliveredEvent,
  type EventBridgeEmulator,
  type EventBridgeFaults,
  startEventBridgeEmulator,
} from '../emulators/events/server.ts';
import { type LocalS3, startLocalS3 } from '../emulators/s3/server.ts';
import { type SqsEmulator, type SqsFaults, startSqsEmulator } from '../emulators/sqs/server.ts';
import { type SsmEmulator, startSsmEmulator } from '../emulators/ssm/server.ts';
import { type LocalLedger, startLocalLedger } from './ledger.ts';
import { type Poller, startPoller } from './poller.ts';
import { type ProbeLoop, startProbeLoop } from './probe-loop.ts';

/** The same names as the CloudFormation stack's outputs, plus what only the local stack has. */
export interface LocalOutputs {
  readonly BucketName: string;
  readonly QueueUrl: string;
  readonly QueueArn: string;
  readonly DeadLetterQueueUrl: string;
  readonly DeadLetterQueueArn: string;
  readonly SettingsPath: string;
  readonly SettingsKmsKeyId: string;
  readonly FunctionName: string;
  readonly EventSourceMappingId: string;
  readonly KeyPrefix: string;
  /** The export ledger's table (the stack's output of the same name); it holds the breaker's control item too. */
  readonly LedgerTableName: string;
  readonly Local: true;
  readonly PauseFile: string;
  readonly Region: string;
  readonly Endpoints: {
    readonly s3: string;
    readonly ssm: string;
    readonly sqs: string;
    readonly dynamodb: string;
    readonly dropbox?: string;
    readonly events: string;
  };
  /** The bus the function sends its receipts to (the account's default bus, as in a deployment by default). */
  readonly ReceiptsEventBus: string;
  /** Every receipt the local EventBridge accepted, one event per line. */
  readonly ReceiptsFile: string;
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Data folder (`.local`): s3/, dropbox/, ledger/, ssm.json, outputs.json, paused. */
  readonly dir: string;
  /** @default 'default' */
  readonly instance?: string;
  /** Run the poller and the handler. @default true */
  readonly poll?: boolean;
  /**
   * Run the circuit breaker's probe every this many seconds, as EventBridge Scheduler does in AWS (`0`: not at all).
   * @default 300 when polling (the deployed schedule's 5 minutes), else 0
   */
  readonly breakerProbeSeconds?: number;
  /** Pollers at once. @default 2 */
  readonly pollers?: number;
  /**
   * A Dropbox-compatible origin to use instead of starting the emulator (with the emulator's test credentials).
   * `null` means the real Dropbox (credentials from `DROPBOX_APP_KEY` / `DROPBOX_REFRESH_TOKEN` /
   * `DROPBOX_APP_SECRET`). @default process.env.DROPBOX_ENDPOINT_URL, else an embedded emulator
   */
  readonly dropboxEndpointUrl?: string | null;
  readonly dropboxFaults?: FaultOptions;
  /** Where dynalite keeps the export ledger: on disk under `<dir>/ledger`, or in memory. @default 'disk' */
  readonly ledger?: 'disk' | 'memory';
  readonly sqsFaults?: SqsFaults;
  readonly eventsFaults?: EventBridgeFaults;
  /** Settings written to SSM at start when absent (relative names: `export-by-status`, …). */
  readonly initialSettings?: Readonly<Record<string, string>>;
  /** How long the function caches settings. @default 2 */
  readonly settingsTtlSeconds?: number;
  /** The function's Logger (default: Powertools' JSON lines on stdout, as in Lambda). */
  readonly logger?: Logger;
  readonly onOutcome?: (outcome: SyncOutcome, messageId: string) => void;
  readonly onFailure?: (failure: RecordFailure) => void;
  readonly onError?: (error: unknown) => void;
  /** Told when the S3 proxy could not send an object's notification. @default a line on stderr */
  readonly onNotifyError?: (error: unknown, bucket: string, key: string) => void;
  /** Told of every receipt the local EventBridge accepted. */
  readonly onReceipt?: (event: DeliveredEvent) => void;
  /** Fixed ports (0 = any free port). */
  readonly ports?: {
    readonly s3?: number;
    readonly ssm?: number;
    readonly sqs?: number;
    readonly dynamodb?: number;
    readonly dropbox?: number;
    readonly events?: number;
  };
}

/** A running local stack. */
export interface LocalStack {
  readonly outputs: LocalOutputs;
  /** The environment a process needs to use this stack (endpoints, dummy credentials, region, names). */
  readonly env: Readonly<Record<string, string>>;
  readonly s3: LocalS3;
  readonly ssm: SsmEmulator;
  readonly sqs: SqsEmulator;
  readonly events: EventBridgeEmulator;
  readonly ledger: LocalLedger;
  readonly dropbox: DropboxEmulator | undefined;
  readonly poller: Poller | undefined;
  /** The breaker's probe run on an interval, when it runs. */
  readonly probe: ProbeLoop | undefined;
  close(): Promise<void>;
}

const REGION = 'us-east-1';

type SsmClient = ReturnType<typeof createSsmClient>;

async function putIfAbsent(ssm: SsmClient, name: string, value: string, secure: boolean): Promise<void> {
  try {
    await ssm.send(new GetParameterCommand({ Name: name }));
  } catch (error) {
    if (!(error instanceof ParameterNotFound)) throw error;
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: value,
        Type: secure ? 'SecureString' : 'String',
        Overwrite: false,
      }),
    );
  }
}

/** The parameter's value, or `undefined` when it is not set. */
async function readParameter(ssm: SsmClient, name: string): Promise<string | undefined> {
  try {
    const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return answer.Parameter?.Value;
  } catch (error) {
    if (error instanceof ParameterNotFound) return undefined;
    throw error;
  }
}

/** Removes the parameter with its history (the SSM file keeps every version), when it is set. */
async function deleteParameter(ssm: SsmClient, name: string): Promise<void> {
  try {
    await ssm.send(new DeleteParameterCommand({ Name: name }));
  } catch (error) {
    if (!(error instanceof ParameterNotFound)) throw error;
  }
}

/** Writes the parameter in place of any earlier value, that value's history included. */
async function replaceParameter(ssm: SsmClient, name: string, value: string, secure: boolean): Promise<void> {
  await deleteParameter(ssm, name);
  await ssm.send(
    new PutParameterCommand({ Name: name, Value: value, Type: secure ? 'SecureString' : 'String' }),
  );
}

/**
 * Stores the Dropbox credentials of this run. The real Dropbox: the ones given in the environment, in place of any
 * earlier ones (an earlier run's emulator credentials, which Dropbox refuses), and no app secret unless one is given.
 * The emulator or another origin: what is stored stays when it is the emulator's app (its test credentials, or a
 * `connect --local` token), else an earlier real run's credentials are replaced by the emulator's, so that the
 * emulator never receives them and the local SSM file keeps no trace of them.
 */
async function storeDropboxCredentials(
  ssm: SsmClient,
  settingsPath: string,
  target: 'emulator' | 'real',
): Promise<void> {
  const names = {
    appKey: `${settingsPath}dropbox/app-key`,
    appSecret: `${settingsPath}dropbox/app-secret`,
    refreshToken: `${settingsPath}dropbox/refresh-token`,
  };
  if (target === 'real') {
    const { DROPBOX_APP_KEY, DROPBOX_REFRESH_TOKEN, DROPBOX_APP_SECRET } = process.env;
    if (!DROPBOX_APP_KEY || !DROPBOX_REFRESH_TOKEN) {
      throw new Error('The real Dropbox needs DROPBOX_APP_KEY and DROPBOX_REFRESH_TOKEN in the environment');
    }
    // The app key first: once it is not the emulator's, the next default start replaces all three, so a switch cut
    // short never leaves a real token beside the emulator's key.
    await replaceParameter(ssm, names.appKey, DROPBOX_APP_KEY, false);
    await replaceParameter(ssm, names.refreshToken, DROPBOX_REFRESH_TOKEN, true);
    if (DROPBOX_APP_SECRET) await replaceParameter(ssm, names.appSecret, DROPBOX_APP_SECRET, true);
    else await deleteParameter(ssm, names.appSecret);
    return;
  }
  const storedAppKey = await readParameter(ssm, names.appKey);
  if (storedAppKey !== undefined && storedAppKey !== EMULATOR_CREDENTIALS.appKey) {
    // The app key last: it is what tells a real app's credentials apart, so a switch cut short is done again in full
    // at the next start rather than leaving the real token and secret beside the emulator's key.
    await replaceParameter(ssm, names.appSecret, EMULATOR_CREDENTIALS.appSecret, true);
    await replaceParameter(ssm, names.refreshToken, EMULATOR_CREDENTIALS.refreshToken, true);
    await replaceParameter(ssm, names.appKey, EMULATOR_CREDENTIALS.appKey, false);
    return;
  }
  await putIfAbsent(ssm, names.appKey, EMULATOR_CREDENTIALS.appKey, false);
  await putIfAbsent(ssm, names.appSecret, EMULATOR_CREDENTIALS.appSecret, true);
  await putIfAbsent(ssm, names.refreshToken, EMULATOR_CREDENTIALS.refreshToken, true);
}

/**
 * Starts the local stack. It sets the AWS SDK's variables (endpoints, dummy credentials, region) in this process's
 * environment, since the SDK reads credentials from there; `env` holds the same for child processes.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dir = resolve(options.dir);
  const instance = options.instance ?? 'default';
  const bucket = 'ticket-files';
  const keyPrefix = 'tickets/';
  const queueName = `ticket-dropbox-sync-${instance}`;
  const dlqName = `${queueName}-dlq`;
  const settingsPath = `/ticket-dropbox-sync/${instance}/`;
  const ledgerTable = `ticket-dropbox-sync-${instance}-ledger`;
  const pauseFile = join(dir, 'paused');
  mkdirSync(join(dir, 's3'), { recursive: true });
  mkdirSync(join(dir, 'dropbox'), { recursive: true });

  const started: { close(): Promise<void> }[] = [];
  try {
    const ssm = await startSsmEmulator({
      port: options.ports?.ssm ?? 0,
      file: join(dir, 'ssm.json'),
      region: REGION,
    });
    started.push(ssm);
    const sqs = await startSqsEmulator({
      port: options.ports?.sqs ?? 0,
      region: REGION,
      queues: [
        { name: dlqName, messageRetentionSeconds: 14 * 24 * 3600 },
        {
          name: queueName,
          // At least the poller's function timeout (900 s), as AWS requires of an event source's queue: a batch
          // still being handled (a 5 GiB upload takes minutes here) must not come back to another poller meanwhile.
          visibilityTimeoutSeconds: 900,
          messageRetentionSeconds: 4 * 24 * 3600,
          redrive: { deadLetterQueueName: dlqName, maxReceiveCount: MAX_RECEIVES },
        },
      ],
      faults: options.sqsFaults,
    });
    started.push(sqs);
    const receiptsFile = join(dir, 'receipts.jsonl');
    const events = await startEventBridgeEmulator({
      port: options.ports?.events ?? 0,
      file: receiptsFile,
      region: REGION,
      faults: options.eventsFaults,
      onEvent: options.onReceipt,
    });
    started.push(events);
    const ledger = await startLocalLedger({
      path: options.ledger === 'memory' ? undefined : join(dir, 'ledger'),
      tableName: ledgerTable,
      port: options.ports?.dynamodb ?? 0,
      region: REGION,
    });
    started.push(ledger);

    let dropbox: DropboxEmulator | undefined;
    let dropboxUrl: string | undefined;
    if (options.dropboxEndpointUrl === null) {
      dropboxUrl = undefined;
    } else if (options.dropboxEndpointUrl ?? process.env.DROPBOX_ENDPOINT_URL) {
      dropboxUrl = options.dropboxEndpointUrl ?? process.env.DROPBOX_ENDPOINT_URL;
    } else {
      dropbox = await startDropboxEmulator({
        port: options.ports?.dropbox ?? 0,
        root: join(dir, 'dropbox'),
        faults: options.dropboxFaults,
      });
      started.push(dropbox);
      dropboxUrl = dropbox.url;
    }

    const env: Record<string, string> = {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_ENDPOINT_URL_SQS: sqs.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
      RECEIPTS_EVENT_BUS: 'default',
      AWS_ENDPOINT_URL_DYNAMODB: ledger.url,
      LEDGER_TABLE: ledgerTable,
      // The breaker stops the poller as it disables the event source mapping in AWS.
      FLOW_PAUSE_FILE: pauseFile,
      INSTANCE_NAME: instance,
      SETTINGS_PATH: settingsPath,
      QUEUE_URL: sqs.queueUrl(queueName),
      DEAD_LETTER_QUEUE_URL: sqs.queueUrl(dlqName),
      BUCKET_NAME: bucket,
      KEY_PREFIX: keyPrefix,
      SETTINGS_CACHE_TTL_SECONDS: String(options.settingsTtlSeconds ?? 2),
      POWERTOOLS_METRICS_DISABLED: 'true',
      TICKET_DROPBOX_SYNC_LOCAL: dir,
    };
    if (dropboxUrl) env.DROPBOX_ENDPOINT_URL = dropboxUrl;
    Object.assign(process.env, env);

    const sqsClient = createSqsClient({ env });
    const s3 = await startLocalS3({
      port: options.ports?.s3 ?? 0,
      directory: join(dir, 's3'),
      buckets: [bucket],
      prefix: keyPrefix,
      onNotifyError: options.onNotifyError,
      notify: async (body) => {
        await sqsClient.send(
          new SendMessageCommand({ QueueUrl: sqs.queueUrl(queueName), MessageBody: body }),
        );
      },
    });
    started.push(s3);
    env.AWS_ENDPOINT_URL_S3 = s3.url;
    process.env.AWS_ENDPOINT_URL_S3 = s3.url;

    const ssmClient = createSsmClient({ env });
    for (const [name, value] of Object.entries(options.initialSettings ?? {})) {
      await putIfAbsent(ssmClient, `${settingsPath}${name}`, value, false);
    }
    await storeDropboxCredentials(ssmClient, settingsPath, dropbox || dropboxUrl ? 'emulator' : 'real');

    const outputs: LocalOutputs = {
      BucketName: bucket,
      QueueUrl: sqs.queueUrl(queueName),
      QueueArn: sqs.queueArn(queueName),
      DeadLetterQueueUrl: sqs.queueUrl(dlqName),
      DeadLetterQueueArn: sqs.queueArn(dlqName),
      SettingsPath: settingsPath,
      SettingsKmsKeyId: 'alias/ticket-dropbox-sync-local',
      FunctionName: 'sync-to-dropbox-local',
      EventSourceMappingId: 'local-poller',
      KeyPrefix: keyPrefix,
      LedgerTableName: ledgerTable,
      Local: true,
      PauseFile: pauseFile,
      Region: REGION,
      Endpoints: {
        s3: s3.url,
        ssm: ssm.url,
        sqs: sqs.url,
        events: events.url,
        dynamodb: ledger.url,
        ...(dropboxUrl ? { dropbox: dropboxUrl } : {}),
      },
      ReceiptsEventBus: 'default',
      ReceiptsFile: receiptsFile,
    };
    writeFileSync(join(dir, 'outputs.json'), `${JSON.stringify(outputs, null, 2)}\n`);

    let poller: Poller | undefined;
    if (options.poll ?? true) {
      const handler = createHandler(
        runtimeDeps({
          env: { ...process.env, ...env },
          onOutcome: options.onOutcome,
          onFailure: options.onFailure,
          logger: options.logger,
        }),
      );
      poller = startPoller({
        sqs: sqsClient,
        queueUrl: outputs.QueueUrl,
        queueArn: outputs.QueueArn,
        handler: (event, context) => handler(event, context),
        concurrency: options.pollers ?? 2,
        pauseFile: outputs.PauseFile,
        region: REGION,
        onError: options.onError,
      });
    }
    const probeSeconds = options.breakerProbeSeconds ?? ((options.poll ?? true) ? 300 : 0);
    const probe =
      probeSeconds > 0
        ? startProbeLoop({
            env: { ...process.env, ...env },
            intervalMs: probeSeconds * 1000,
            onError: options.onError,
          })
        : undefined;

    return {
      outputs,
      env,
      s3,
      ssm,
      sqs,
      events,
      ledger,
      dropbox,
      poller,
      probe,
      async close() {
        await probe?.stop();
        await poller?.stop();
        for (const part of started.reverse()) await part.close();
      },
    };
  } catch (error) {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    throw error;
  }
}
