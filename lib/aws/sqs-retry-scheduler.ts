/**
 * The {@link RetryScheduler} port on SQS: `ChangeMessageVisibility` for a retry delay, `SendMessage` of a fresh copy
 * for a requeue (the breaker's), and `SendMessage` to the dead-letter queue for a blocked record.
 */
import type { MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';
import {
  type DeadLetterReason,
  MAX_DELAY_SECONDS,
  type QueueRecord,
  REQUEUES_ATTRIBUTE,
  type RetryScheduler,
  requeueCount,
} from '../sqs-record.ts';

/** The queue URL of an SQS queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`), for when the URL is not configured. */
export function queueUrlFromArn(arn: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  if (!partition || !region || !account || !name) throw new Error(`Not an SQS queue ARN: ${arn}`);
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/** The attribute names a dead-lettered message carries its failure in. */
export const FAILURE_ATTRIBUTES = {
  kind: 'tds-failure-kind',
  code: 'tds-failure-code',
  message: 'tds-failure-message',
  object: 'tds-failure-object',
  at: 'tds-failed-at',
} as const;

/** SQS allows 10 message attributes: the copy keeps the record's own, leaving room for ours. */
const MAX_COPIED_ATTRIBUTES = 4;
/** A reason's sentence is cut here in its attribute (the body stays whole). */
const MAX_REASON_LENGTH = 1000;

/** The record's own string and number attributes, minus ours, as `SendMessage` takes them. */
function copyAttributes(record: QueueRecord): Record<string, MessageAttributeValue> {
  const copied: Record<string, MessageAttributeValue> = {};
  const ours = new Set<string>([REQUEUES_ATTRIBUTE, ...Object.values(FAILURE_ATTRIBUTES)]);
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (Object.keys(copied).length >= MAX_COPIED_ATTRIBUTES) break;
    if (ours.has(name) || value.stringValue === undefined) continue;
    if (value.dataType.startsWith('String') || value.dataType.startsWith('Number')) {
      copied[name] = { DataType: value.dataType, StringValue: value.stringValue };
    }
  }
  return copied;
}

function text(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value === '' ? '-' : value };
}

/** Options of {@link createSqsRetryScheduler}. */
export interface SqsRetrySchedulerOptions {
  /** The sync queue; else the one each record came from. */
  readonly queueUrl?: string | undefined;
  /** The dead-letter queue (`DEAD_LETTER_QUEUE_URL`); without it, blocked records fail and reach it after 5 receives. */
  readonly deadLetterQueueUrl?: string | undefined;
}

/**
 * The {@link RetryScheduler} on an SQS client, or on a function that makes one on first use
 * (`createLazySqsClient`): every call here is on a failure path, so the SDK's commands are loaded when one is made.
 */
export function createSqsRetryScheduler(
  client: SQSClient | (() => Promise<SQSClient>),
  options: SqsRetrySchedulerOptions = {},
): RetryScheduler {
  const { queueUrl, deadLetterQueueUrl } = options;
  const sqs = async () => ({
    client: typeof client === 'function' ? await client() : client,
    commands: await import('@aws-sdk/client-sqs'),
  });
  const urlOf = (record: QueueRecord): string => {
    const url = queueUrl ?? (record.eventSourceARN ? queueUrlFromArn(record.eventSourceARN) : undefined);
    if (!url) throw new Error('No queue URL: set QUEUE_URL');
    return url;
  };
  return {
    async deferRetry(record, delaySeconds, signal) {
      const { client, commands } = await sqs();
      await client.send(
        new commands.ChangeMessageVisibilityCommand({
          QueueUrl: urlOf(record),
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: delaySeconds,
        }),
        { abortSignal: signal },
      );
    },

    async requeue(record, delaySeconds, signal) {
      const { client, commands } = await sqs();
      await client.send(
        new commands.SendMessageCommand({
          QueueUrl: urlOf(record),
          MessageBody: record.body,
          DelaySeconds: Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.round(delaySeconds))),
          MessageAttributes: {
            ...copyAttributes(record),
            [REQUEUES_ATTRIBUTE]: { DataType: 'Number', StringValue: String(requeueCount(record) + 1) },
          },
        }),
        { abortSignal: signal },
      );
    },

    async deadLetter(record, reason: DeadLetterReason, signal) {
      if (!deadLetterQueueUrl) throw new Error('No dead-letter queue URL: set DEAD_LETTER_QUEUE_URL');
      const { client, commands } = await sqs();
      await client.send(
        new commands.SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: record.body,
          MessageAttributes: {
            ...copyAttributes(record),
            [FAILURE_ATTRIBUTES.kind]: text(reason.kind),
            [FAILURE_ATTRIBUTES.code]: text(reason.code),
            [FAILURE_ATTRIBUTES.message]: text(reason.message.slice(0, MAX_REASON_LENGTH)),
            [FAILURE_ATTRIBUTES.object]: text(reason.object),
            [FAILURE_ATTRIBUTES.at]: text(new Date().toISOString()),
          },
        }),
        { abortSignal: signal },
      );
    },
  };
}
