import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * An S3 notification destination for a KMS-encrypted queue whose grants to `s3.amazonaws.com` carry both
 * `aws:SourceArn` (the bucket) and `aws:SourceAccount`, on the queue policy and on the key policy alike.
 * CDK's own `SqsDestination` conditions only the queue policy, and only on the bucket ARN.
 */
export class ScopedSqsDestination implements s3.IBucketNotificationDestination {
  private readonly queue: sqs.Queue;
  private readonly key: kms.Key;

  constructor(queue: sqs.Queue, key: kms.Key) {
    this.queue = queue;
    this.key = key;
  }

  /** Adds the grants for `bucket` and names the queue as the destination. */
  bind(_scope: Construct, bucket: s3.IBucketRef): s3.BucketNotificationDestinationConfig {
    const account = Stack.of(this.queue).account;
    const conditions = {
      ArnLike: { 'aws:SourceArn': bucket.bucketRef.bucketArn },
      StringEquals: { 'aws:SourceAccount': account },
    };
    const s3Principal = new iam.ServicePrincipal('s3.amazonaws.com');
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBucketNotifications',
        principals: [s3Principal],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions,
      }),
    );
    // S3 encrypts each notification with the queue's key, and checks it can when the configuration is saved.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBucketNotificationsToEncrypt',
        principals: [s3Principal],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions,
      }),
    );
    return {
      arn: this.queue.queueArn,
      type: s3.BucketNotificationDestinationType.QUEUE,
      // S3 validates the destination when the notification is saved: the policies must exist by then.
      dependencies: [this.queue, this.key],
    };
  }
}
