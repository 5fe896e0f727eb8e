/**
 * A local Amazon SQS (standard queues) speaking AWS JSON 1.0 exactly as `@aws-sdk/client-sqs` ≥ 3.446 sends it
 * (`POST /`, `X-Amz-Target: AmazonSQS.<Operation>`, `application/x-amz-json-1.0`), for tests and the local stack.
 *
 * ```ts
 * const sqs = await startSqsEmulator({ queues: [{ name: 'dlq' },
 *   { name: 'work', redrive: { deadLetterQueueName: 'dlq', maxReceiveCount: 5 } }] });
 * const client = new SQSClient({ endpoint: sqs.url, region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 * Requests are not authenticated. Errors carry `__type`, `message` and the `x-amzn-query-error` header as SQS sends
 * them, so the SDK raises its modelled classes (`QueueDoesNotExist`, …). Targets it does not implement, such as
 * `StartMessageMoveTask`, get AWS's `UnknownOperationException` (a redrive then falls back to receive/send/delete).
 *
 * Emulator-only: `GetQueueAttributes` also answers `ApproximateAgeOfOldestMessage` (seconds) when asked for it by
 * name, since AWS offers that only as a CloudWatch metric; `All` returns exactly AWS's attributes.
 */
import { createRandom } from '../../seeded-random.ts';
import {
  AwsJsonError,
  BodyTooLargeError,
  type CallRecord,
  type JsonObject,
  readNumber,
  readObjectList,
  readObjectMap,
  readString,
  readStringList,
  readStringMap,
  startAwsJsonServer,
} from '../http.ts';
import {
  batchEntryIdsNotDistinct,
  batchRequestTooLong,
  emptyBatchRequest,
  invalidAttributeName,
  invalidAttributeValue,
  invalidBatchEntryId,
  invalidParameterValue,
  missingParameter,
  purgeQueueInProgress,
  queueDoesNotExist,
  queueNameExists,
  tooManyEntriesInBatchRequest,
} from './errors.ts';
import {
  checkBodyCharacters,
  entryFailure,
  md5OfMessageAttributes,
  readMessageAttributes,
  selectMessageAttributes,
} from './message-attributes.ts';
import { MAX_VISIBILITY_SECONDS, Queue, type RedrivePolicy } from './queue.ts';

/** A queue to create at start. */
export interface QueueDefinition {
  readonly name: string;
  /** @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** @default 345600 (4 days) */
  readonly messageRetentionSeconds?: number;
  /** Moves a message to `deadLetterQueueName` when a receive would exceed `maxReceiveCount`. */
  readonly redrive?: { readonly deadLetterQueueName: string; readonly maxReceiveCount: number };
}

/** Faults the emulator injects, to test consumers against SQS's standard-queue guarantees. */
export interface SqsFaults {
  /** Probability (0..1) that a delivered message is delivered once more later (at-least-once). @default 0 */
  readonly redeliverRate?: number;
  /** Deliver visible messages in random order instead of sent order. @default false */
  readonly reorder?: boolean;
  /** Seed of the faults' pseudo-random choices, for reproducible runs. */
  readonly seed?: number;
}

/** A running SQS emulator. */
export interface SqsEmulator {
  /** The endpoint origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT/ACCOUNT/NAME`, as `GetQueueUrl` answers. */
  queueUrl(name: string): string;
  /** `arn:aws:sqs:REGION:ACCOUNT:NAME`. */
  queueArn(name: string): string;
  close(): Promise<void>;
  /** Every request served, in order (`action` is the operation name). */
  readonly calls: CallRecord[];
  /** Replaces the injected faults. */
  setFaults(faults: SqsFaults): void;
}

/** Options of {@link startSqsEmulator}. */
export interface SqsEmulatorOptions {
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  readonly queues: readonly QueueDefinition[];
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  readonly faults?: SqsFaults;
}

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_BATCH_ENTRIES = 10;
const MAX_WAIT_SECONDS = 20;
const MAX_DELAY_SECONDS = 900;
const PURGE_INTERVAL_MS = 60_000;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** Default attributes of a new standard queue, as `GetQueueAttributes` shows them. */
const DEFAULT_ATTRIBUTES: Readonly<Record<string, string>> = {
  VisibilityTimeout: '30',
  MessageRetentionPeriod: '345600',
  MaximumMessageSize: '1048576',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  SqsManagedSseEnabled: 'true',
};

/** Settable attributes and their allowed integer ranges (`undefined`: free text). */
const SETTABLE_ATTRIBUTES: Readonly<Record<string, readonly [number, number] | undefined>> = {
  VisibilityTimeout: [0, MAX_VISIBILITY_SECONDS],
  MessageRetentionPeriod: [60, 1_209_600],
  MaximumMessageSize: [1024, 1_048_576],
  DelaySeconds: [0, MAX_DELAY_SECONDS],
  ReceiveMessageWaitTimeSeconds: [0, MAX_WAIT_SECONDS],
  RedrivePolicy: undefined,
  RedriveAllowPolicy: undefined,
  Policy: undefined,
  KmsMasterKeyId: undefined,
  KmsDataKeyReusePeriodSeconds: [60, 86_400],
  SqsManagedSseEnabled: undefined,
};

const READ_ONLY_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
];
/** Not an SQS attribute: CloudWatch's metric of that name, answered only when asked for by name. */
const AGE_OF_OLDEST_MESSAGE = 'ApproximateAgeOfOldestMessage';
const MESSAGE_SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
];

function integerIn(value: number | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidParameterValue(
      `Value ${value} for parameter ${field} is invalid. Reason: Must be between ${min} and ${max}, if provided.`,
    );
  }
  return value;
}

function requireString(input: JsonObject, field: string): string {
  const value = readString(input, field);
  if (value === undefined) throw missingParameter(field);
  return value;
}

/** Starts an SQS emulator on 127.0.0.1 with `options.queues` created. */
export async function startSqsEmulator(options: SqsEmulatorOptions): Promise<SqsEmulator> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const queues = new Map<string, Queue>();
  let origin = '';
  let faults: SqsFaults = {};
  let random: () => number = Math.random;

  const arnOf = (name: string): string => `arn:aws:sqs:${region}:${accountId}:${name}`;
  const urlOf = (name: string): string => `${origin}/${accountId}/${name}`;
  const setFaults = (next: SqsFaults): void => {
    faults = { ...next };
    random = next.seed === undefined ? Math.random : createRandom(next.seed);
  };
  setFaults(options.faults ?? {});

  const queueByArn = (arn: string): Queue | undefined => {
    const name = arn.split(':').at(-1) ?? '';
    const queue = queues.get(name);
    return queue?.arn === arn ? queue : undefined;
  };

  const queueFromUrl = (input: JsonObject): Queue => {
    const raw = requireString(input, 'QueueUrl');
    let path: string;
    try {
      path = new URL(raw).pathname;
    } catch (error) {
      if (error instanceof TypeError) throw queueDoesNotExist();
      throw error;
    }
    const [account, name, ...rest] = path.split('/').filter((segment) => segment !== '');
    const queue = name === undefined ? undefined : queues.get(name);
    if (queue === undefined || account !== accountId || rest.length > 0) throw queueDoesNotExist();
    return queue;
  };

  /** Validates and normalises queue attributes given to `CreateQueue` / `SetQueueAttributes`. */
  const normaliseAttributes = (given: Readonly<Record<string, string>>): Record<string, string> => {
    const normalised: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
      if (!(name in SETTABLE_ATTRIBUTES)) throw invalidAttributeName(name);
      const range = SETTABLE_ATTRIBUTES[name];
      if (range !== undefined) {
        const number = Number(value);
        if (!/^\d+$/.test(value) || number < range[0] || number > range[1]) throw invalidAttributeValue(name);
      }
      if (name === 'RedrivePolicy' && value !== '') {
        normalised[name] = JSON.stringify(parseRedrivePolicy(value));
        continue;
      }
      normalised[name] = value;
    }
    return normalised;
  };

  const parseRedrivePolicy = (value: string): RedrivePolicy => {
    const invalid = (reason: string): AwsJsonError =>
      invalidParameterValue(`Value ${value} for parameter RedrivePolicy is invalid. Reason: ${reason}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      if (error instanceof SyntaxError) throw invalid('Redrive policy is not a valid JSON map.');
      throw error;
    }
    const policy = parsed as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    const maxReceiveCount = Number(policy.maxReceiveCount);
    if (typeof policy.deadLetterTargetArn !== 'string') throw invalid('Dead-letter target ARN is missing.');
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw invalid('Invalid value for maxReceiveCount: must be between 1 and 1000.');
    }
    if (queueByArn(policy.deadLetterTargetArn) === undefined)
      throw invalid('Dead letter target does not exist.');
    return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount };
  };

  const createQueue = (name: string, given: Readonly<Record<string, string>>): Queue => {
    if (!QUEUE_NAME.test(name)) {
      throw invalidParameterValue(
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    const requested = normaliseAttributes(given);
    const existing = queues.get(name);
    if (existing !== undefined) {
      // Idempotent when every attribute given matches the existing queue's value.
      const same = Object.entries(requested).every(([key, value]) => existing.attributes[key] === value);
      if (!same) throw queueNameExists(name);
      return existing;
    }
    const attributes = { ...DEFAULT_ATTRIBUTES, ...requested };
    const queue = new Queue({ name, arn: arnOf(name), url: urlOf(name), attributes, now: Date.now() });
    queues.set(name, queue);
    return queue;
  };

  const receiveOnce = (queue: Queue, maxMessages: number, visibility: number) =>
    queue.receive({
      maxMessages,
      visibilityTimeoutSeconds: visibility,
      now: Date.now(),
      order: (count) => {
        const indexes = Array.from({ length: count }, (_, index) => index);
        if (faults.reorder) {
          for (let index = indexes.length - 1; index > 0; index -= 1) {
            const other = Math.floor(random() * (index + 1));
            [indexes[index], indexes[other]] = [indexes[other] ?? other, indexes[index] ?? index];
          }
        }
        return indexes;
      },
      duplicate: () => (faults.redeliverRate ?? 0) > 0 && random() < (faults.redeliverRate ?? 0),
      deadLetterQueue: queueByArn,
    });

  const checkBatch = (entries: readonly JsonObject[] | undefined, entryShape: string): JsonObject[] => {
    if (entries === undefined || entries.length === 0) throw emptyBatchRequest(entryShape);
    if (entries.length > MAX_BATCH_ENTRIES) throw tooManyEntriesInBatchRequest(entries.length);
    const seen = new Set<string>();
    for (const entry of entries) {
      const id = requireString(entry, 'Id');
      if (!BATCH_ENTRY_ID.test(id)) throw invalidBatchEntryId();
      if (seen.has(id)) throw batchEntryIdsNotDistinct(id);
      seen.add(id);
    }
    return [...entries];
  };

  /** Validates one message to send and stores it. */
  const sendOne = (queue: Queue, input: JsonObject) => {
    const body = readString(input, 'MessageBody');
    if (body === undefined || body === '') throw missingParameter('MessageBody');
    checkBodyCharacters(body);
    const delaySeconds = integerIn(readNumber(input, 'DelaySeconds'), 'DelaySeconds', 0, MAX_DELAY_SECONDS);
    const { attributes, bytes } = readMessageAttributes(readObjectMap(input, 'MessageAttributes'));
    const size = Buffer.byteLength(body, 'utf8') + bytes;
    if (size > queue.maximumMessageSize) {
      throw invalidParameterValue(
        `One or more parameters are invalid. Reason: Message must be shorter than ${queue.maximumMessageSize} bytes.`,
      );
    }
    const sent = queue.send({ body, messageAttributes: attributes, delaySeconds, now: Date.now() });
    return {
      MessageId: sent.messageId,
      MD5OfMessageBody: sent.md5OfBody,
      ...(sent.md5OfMessageAttributes === undefined
        ? {}
        : { MD5OfMessageAttributes: sent.md5OfMessageAttributes }),
    };
  };

  const operations: Record<
    string,
    (input: JsonObject, signal: AbortSignal) => Promise<JsonObject> | JsonObject
  > = {
    CreateQueue: (input) => {
      const name = requireString(input, 'QueueName');
      const queue = createQueue(name, readStringMap(input, 'Attributes') ?? {});
      return { QueueUrl: queue.url };
    },
    GetQueueUrl: (input) => {
      const queue = queues.get(requireString(input, 'QueueName'));
      if (queue === undefined) throw queueDoesNotExist();
      return { QueueUrl: queue.url };
    },
    ListQueues: (input) => {
      const prefix = readString(input, 'QueueNamePrefix') ?? '';
      const maxResults = integerIn(readNumber(input, 'MaxResults'), 'MaxResults', 1, 1000);
      const after = readString(input, 'NextToken');
      const names = [...queues.keys()]
        .filter((name) => name.startsWith(prefix) && (after === undefined || name > after))
        .sort();
      const page = maxResults === undefined ? names : names.slice(0, maxResults);
      const last = page.at(-1);
      return {
        QueueUrls: page.map(urlOf),
        ...(maxResults !== undefined && names.length > page.length && last !== undefined
          ? { NextToken: last }
          : {}),
      };
    },
    DeleteQueue: (input) => {
      queues.delete(queueFromUrl(input).name);
      return {};
    },
    GetQueueAttributes: (input) => {
      const queue = queueFromUrl(input);
      const requested = readStringList(input, 'AttributeNames') ?? [];
      const now = Date.now();
      const counts = queue.counts(now);
      const all: Record<string, string> = {
        ...queue.attributes,
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(counts.visible),
        ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
        ApproximateNumberOfMessagesDelayed: String(counts.delayed),
        CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
        LastModifiedTimestamp: String(Math.floor(queue.lastModifiedAt / 1000)),
      };
      const selected: Record<string, string> = {};
      for (const name of requested) {
        if (name === 'All') Object.assign(selected, all);
        else if (name === AGE_OF_OLDEST_MESSAGE) selected[name] = String(counts.oldestAgeSeconds);
        else if (name in all) selected[name] = all[name] ?? '';
        else if (!(name in SETTABLE_ATTRIBUTES) && !READ_ONLY_ATTRIBUTES.includes(name)) {
          throw invalidAttributeName(name);
        }
      }
      return Object.keys(selected).length === 0 ? {} : { Attributes: selected };
    },
    SetQueueAttributes: (input) => {
      const queue = queueFromUrl(input);
      const given = readStringMap(input, 'Attributes');
      if (given === undefined) throw missingParameter('Attributes');
      const normalised = normaliseAttributes(given);
      const next = { ...queue.attributes, ...normalised };
      if (normalised.RedrivePolicy === '') delete next.RedrivePolicy;
      queue.attributes = next;
      queue.lastModifiedAt = Date.now();
      return {};
    },
    PurgeQueue: (input) => {
      const queue = queueFromUrl(input);
      const now = Date.now();
      if (queue.lastPurgeAt !== undefined && now - queue.lastPurgeAt < PURGE_INTERVAL_MS) {
        throw purgeQueueInProgress(queue.name);
      }
      queue.purge(now);
      return {};
    },
    SendMessage: (input) => sendOne(queueFromUrl(input), input),
    SendMessageBatch: (input) => {
      const queue = queueFromUrl(input);
      const entries = checkBatch(readObjectList(input, 'Entries'), 'SendMessageBatchRequestEntry');
      const total = entries.reduce(
        (sum, entry) => sum + Buffer.byteLength(readString(entry, 'MessageBody') ?? '', 'utf8'),
        0,
      );
      if (total > queue.maximumMessageSize) throw batchRequestTooLong(queue.maximumMessageSize);
      const successful: JsonObject[] = [];
      const failed: JsonObject[] = [];
      for (const entry of entries) {
        const id = requireString(entry, 'Id');
        try {
          successful.push({ Id: id, ...sendOne(queue, entry) });
        } catch (error) {
          failed.push(entryFailure(id, error));
        }
      }
      return { Successful: successful, Failed: failed };
    },
    ReceiveMessage: async (input, signal) => {
      const queue = queueFromUrl(input);
      const maxMessages =
        integerIn(readNumber(input, 'MaxNumberOfMessages'), 'MaxNumberOfMessages', 1, MAX_BATCH_ENTRIES) ?? 1;
      const waitSeconds =
        integerIn(readNumber(input, 'WaitTimeSeconds'), 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS) ??
        queue.receiveWaitSeconds;
      const visibility =
        integerIn(readNumber(input, 'VisibilityTimeout'), 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS) ??
        queue.visibilityTimeoutSeconds;
      const systemNames = [
        ...(readStringList(input, 'AttributeNames') ?? []),
        ...(readStringList(input, 'MessageSystemAttributeNames') ?? []),
      ];
      const attributeNames = readStringList(input, 'MessageAttributeNames') ?? [];
      const deadline = Date.now() + waitSeconds * 1000;
      let deliveries = receiveOnce(queue, maxMessages, visibility);
      // Long polling: answer as soon as a message is receivable, or empty at the deadline.
      while (deliveries.length === 0 && !signal.aborted && Date.now() < deadline) {
        const now = Date.now();
        const wake = Math.min(deadline, queue.nextAvailableAt(now) ?? deadline);
        await queue.waitForChange(wake - now, signal);
        if (signal.aborted) break;
        deliveries = receiveOnce(queue, maxMessages, visibility);
      }
      if (deliveries.length === 0) return {};
      const wantAll = systemNames.includes('All');
      return {
        Messages: deliveries.map((delivery) => {
          const attributes = Object.fromEntries(
            MESSAGE_SYSTEM_ATTRIBUTES.filter((name) => wantAll || systemNames.includes(name)).map((name) => [
              name,
              delivery.systemAttributes[name] ?? '',
            ]),
          );
          const messageAttributes = selectMessageAttributes(delivery.messageAttributes, attributeNames);
          return {
            MessageId: delivery.messageId,
            ReceiptHandle: delivery.receiptHandle,
            MD5OfBody: delivery.md5OfBody,
            Body: delivery.body,
            ...(Object.keys(attributes).length === 0 ? {} : { Attributes: attributes }),
            ...(messageAttributes === undefined
              ? {}
              : {
                  MessageAttributes: messageAttributes,
                  MD5OfMessageAttributes: md5OfMessageAttributes(messageAttributes),
                }),
          };
        }),
      };
    },
    DeleteMessage: (input) => {
      queueFromUrl(input).delete(requireString(input, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch: (input) => {
      const queue = queueFromUrl(input);
      const entries = checkBatch(readObjectList(input, 'Entries'), 'DeleteMessageBatchRequestEntry');
      const successful: JsonObject[] = [];
      const failed: JsonObject[] = [];
      for (const entry of entries) {
        const id = requireString(entry, 'Id');
        try {
          queue.delete(requireString(entry, 'ReceiptHandle'));
          successful.push({ Id: id });
        } catch (error) {
          failed.push(entryFailure(id, error));
        }
      }
      return { Successful: successful, Failed: failed };
    },
    ChangeMessageVisibility: (input) => {
      const queue = queueFromUrl(input);
      const handle = requireString(input, 'ReceiptHandle');
      const seconds = readNumber(input, 'VisibilityTimeout');
      if (seconds === undefined) throw missingParameter('VisibilityTimeout');
      integerIn(seconds, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS);
      queue.changeVisibility(handle, seconds, Date.now());
      return {};
    },
    ChangeMessageVisibilityBatch: (input) => {
      const queue = queueFromUrl(input);
      const entries = checkBatch(
        readObjectList(input, 'Entries'),
        'ChangeMessageVisibilityBatchRequestEntry',
      );
      const successful: JsonObject[] = [];
      const failed: JsonObject[] = [];
      for (const entry of entries) {
        const id = requireString(entry, 'Id');
        try {
          const seconds =
            integerIn(
              readNumber(entry, 'VisibilityTimeout'),
              'VisibilityTimeout',
              0,
              MAX_VISIBILITY_SECONDS,
            ) ?? 0;
          queue.changeVisibility(requireString(entry, 'ReceiptHandle'), seconds, Date.now());
          successful.push({ Id: id });
        } catch (error) {
          failed.push(entryFailure(id, error));
        }
      }
      return { Successful: successful, Failed: failed };
    },
  };

  const server = await startAwsJsonServer({
    targetPrefix: TARGET_PREFIX,
    contentType: CONTENT_TYPE,
    maxRequestBytes: MAX_REQUEST_BYTES,
    operations,
    port: options.port,
    describeError: (error) => {
      if (error instanceof BodyTooLargeError) return batchRequestTooLong(error.limitBytes);
      const message = error instanceof Error ? error.message : String(error);
      return new AwsJsonError('com.amazonaws.sqs#InternalError', message, {
        status: 500,
        queryError: 'InternalError;Receiver',
      });
    },
  });
  origin = server.url;

  for (const definition of [...options.queues].sort(
    (a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined),
  )) {
    const attributes: Record<string, string> = {};
    if (definition.visibilityTimeoutSeconds !== undefined) {
      attributes.VisibilityTimeout = String(definition.visibilityTimeoutSeconds);
    }
    if (definition.messageRetentionSeconds !== undefined) {
      attributes.MessageRetentionPeriod = String(definition.messageRetentionSeconds);
    }
    if (definition.redrive !== undefined) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arnOf(definition.redrive.deadLetterQueueName),
        maxReceiveCount: definition.redrive.maxReceiveCount,
      });
    }
    try {
      createQueue(definition.name, attributes);
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  return {
    url: origin,
    calls: server.calls,
    queueUrl: urlOf,
    queueArn: arnOf,
    setFaults,
    close: () => server.close(),
  };
}
