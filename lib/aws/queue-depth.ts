/** How many messages a queue holds, read the same way by the CLI, the local stack and the tests. */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** The depth of one queue. */
export interface QueueDepth {
  /** Messages ready to be received. */
  readonly visible: number;
  /** Messages received and not yet deleted (being processed, or waiting out a retry delay). */
  readonly inFlight: number;
  readonly delayed: number;
}

function count(value: string | undefined): number {
  const parsed = Number(value ?? '0');
  return Number.isFinite(parsed) ? parsed : 0;
}

/** Reads a queue's approximate depth. */
export async function readQueueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const attributes = result.Attributes ?? {};
  return {
    visible: count(attributes.ApproximateNumberOfMessages),
    inFlight: count(attributes.ApproximateNumberOfMessagesNotVisible),
    delayed: count(attributes.ApproximateNumberOfMessagesDelayed),
  };
}

/** Messages in a queue, waiting or in flight (received and not yet deleted). */
export function countQueued(depth: QueueDepth): number {
  return depth.visible + depth.inFlight + depth.delayed;
}
