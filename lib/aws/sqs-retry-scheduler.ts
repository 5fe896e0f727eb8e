/** The {@link RetryScheduler} port on SQS `ChangeMessageVisibility`. */
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueRecord, RetryScheduler } from '../sqs-record.ts';

/** The queue URL of an SQS queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`), for when the URL is not configured. */
export function queueUrlFromArn(arn: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  if (!partition || !region || !account || !name) throw new Error(`Not an SQS queue ARN: ${arn}`);
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/**
 * Defers a failed record's next receive by changing its visibility timeout. The queue is `queueUrl` when given,
 * else the one the record came from.
 */
export function createSqsRetryScheduler(sqs: SQSClient, queueUrl: string | undefined): RetryScheduler {
  return {
    async deferRetry(record: QueueRecord, delaySeconds, signal) {
      const url = queueUrl ?? (record.eventSourceARN ? queueUrlFromArn(record.eventSourceARN) : undefined);
      if (!url) throw new Error('No queue URL: set QUEUE_URL');
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: delaySeconds,
        }),
        { abortSignal: signal },
      );
    },
  };
}
