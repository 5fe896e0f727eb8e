/**
 * Does locally what Lambda's SQS event source mapping does: receives batches, invokes the handler with an
 * SQS event, deletes what succeeded and leaves what `batchItemFailures` names (and everything, when the handler
 * throws) to come back after its visibility timeout.
 */
import { existsSync } from 'node:fs';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorMessage } from '../../lib/errors.ts';
import { sleep } from '../../lib/retry.ts';

/** The handler's shape, as the function exports it. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/** Options of {@link startPoller}. */
export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: SqsHandler;
  /** @default 10 */
  readonly batchSize?: number;
  /** Long-poll wait of each receive. @default 1 */
  readonly waitTimeSeconds?: number;
  /** Pollers running at once (the event source's concurrency). @default 1 */
  readonly concurrency?: number;
  /** The function timeout the handler's context reports. @default 900000 */
  readonly functionTimeoutMs?: number;
  /** No receive happens while this file exists (`ticket-dropbox-sync pause` on the local stack). */
  readonly pauseFile?: string | undefined;
  readonly region?: string;
  readonly onError?: (error: unknown) => void;
}

/** A running poller. */
export interface Poller {
  /** Batches handled so far. */
  readonly batches: number;
  /** True while no batch is being handled. */
  readonly idle: boolean;
  stop(): Promise<void>;
}

/**
 * The Lambda record the event source mapping makes of a received message: its system attributes where it was
 * received with them, else defaults.
 */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function lambdaContext(timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'sync-to-dropbox-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:sync-to-dropbox-local',
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/local/sync-to-dropbox',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Starts `concurrency` poll loops; each handles one batch at a time, as one Lambda instance would. */
export function startPoller(options: PollerOptions): Poller {
  const controller = new AbortController();
  const region = options.region ?? 'us-east-1';
  let batches = 0;
  let busy = 0;

  const paused = (): boolean => options.pauseFile !== undefined && existsSync(options.pauseFile);

  /**
   * Makes received messages visible again at once: a batch received while a pause began is not handed to the
   * handler (the pause holds from the moment `pause` returns). Each such receive counts toward the queue's
   * maxReceiveCount, as an invocation would; it happens at most once per pause.
   */
  const giveBack = async (messages: readonly Message[]): Promise<void> => {
    await options.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle ?? '',
          VisibilityTimeout: 0,
        })),
      }),
    );
  };

  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        if (paused()) {
          await sleep(500, controller.signal);
          continue;
        }
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: controller.signal },
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) continue;
        // The receive long-polls: a pause may have begun meanwhile. Checked right before invoking.
        if (paused()) {
          await giveBack(messages);
          continue;
        }
        busy += 1;
        try {
          const event: SQSEvent = {
            Records: messages.map((message) => toSqsRecord(message, options.queueArn, region)),
          };
          let failed = new Set(event.Records.map((record) => record.messageId));
          try {
            const response = await options.handler(
              event,
              lambdaContext(options.functionTimeoutMs ?? 900_000),
            );
            failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
          } catch (error) {
            // As Lambda does: a handler that throws fails the whole batch, which comes back after its visibility timeout.
            options.onError?.(error);
          }
          const done = event.Records.filter((record) => !failed.has(record.messageId));
          if (done.length > 0) {
            await options.sqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: options.queueUrl,
                Entries: done.map((record, index) => ({
                  Id: String(index),
                  ReceiptHandle: record.receiptHandle,
                })),
              }),
            );
          }
          batches += 1;
        } finally {
          busy -= 1;
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError?.(new Error(`poller: ${errorMessage(error)}`, { cause: error }));
        await sleep(1000, controller.signal).catch(() => undefined);
      }
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 1 }, () => loop());
  return {
    get batches() {
      return batches;
    },
    get idle() {
      return busy === 0;
    },
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}
