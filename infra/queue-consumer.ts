import { type Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props of {@link QueueConsumer}. */
export interface QueueConsumerProps {
  /** The function the queue feeds, with the role the grants go to. */
  readonly fn: lambda.IFunction;
  readonly role: iam.IRole;
  readonly queue: sqs.IQueue;
  /** Where blocked records go at once (`sqs:SendMessage`). */
  readonly deadLetterQueue: sqs.IQueue;
  /** The key both queues are encrypted with. */
  readonly key: kms.IKey;
  readonly batchSize: number;
  /** @default no batching window */
  readonly maxBatchingWindow?: Duration | undefined;
  readonly maxConcurrency: number;
}

/**
 * The queue's event source mapping and the function's queue grants, written out instead of `SqsEventSource`'s so
 * that each is scoped: receive, delete and `ChangeMessageVisibility` (each failed record's retry delay) on the queue;
 * `SendMessage` on the queue (the breaker's requeued copies) and on the DLQ (blocked records); and the queue key
 * only through SQS (`kms:ViaService` = `sqs.<region>.amazonaws.com`, the form the KMS developer guide's condition
 * keys page gives, `<service>.<region>.amazonaws.com`).
 */
export class QueueConsumer extends Construct {
  readonly mapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: QueueConsumerProps) {
    super(scope, id);
    const { role, queue, deadLetterQueue, key } = props;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ConsumeQueue',
        actions: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        resources: [queue.queueArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RequeueAndDeadLetter',
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn, deadLetterQueue.queueArn],
      }),
    );
    // Receiving decrypts; sending (a requeue, a dead letter) needs a data key. Only when SQS asks on our behalf.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseQueueKeyThroughSqs',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    // Feeds the function batches; at most maxConcurrency instances write to one Dropbox namespace at once.
    this.mapping = new lambda.EventSourceMapping(this, 'Mapping', {
      target: props.fn,
      eventSourceArn: queue.queueArn,
      batchSize: props.batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      maxConcurrency: props.maxConcurrency,
      reportBatchItemFailures: true,
    });
  }
}
