import { join } from 'node:path';
import {
  ArnFormat,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  Tags,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/powertools.ts';
import { MAX_RECEIVES } from '../lib/sqs-record.ts';
import { CircuitBreaker, mappingIdParameterName } from './breaker.ts';
import { ExportLedger } from './export-ledger.ts';
import { FUNCTION_BUNDLING, LOCK_FILE, REPO_ROOT } from './function-bundling.ts';
import { acknowledgeNagRule, acknowledgeWildcardResource } from './nag.ts';
import { QueueConsumer } from './queue-consumer.ts';
import { ExportReceipts } from './receipts.ts';
import { ScopedSqsDestination } from './scoped-sqs-destination.ts';
import {
  QUEUE_RETENTION_DAYS,
  resolveDeploymentSettings,
  type SyncDeploymentProps,
  type SyncDeploymentSettings,
} from './stack-settings.ts';
import { alarmNamePrefix, SyncMonitoring } from './sync-monitoring.ts';

export { ESM_REQUIRE_BANNER } from './function-bundling.ts';

/** The function's entry: exports `handler`. */
export const FUNCTION_ENTRY = join(REPO_ROOT, 'functions', 'sync-to-dropbox', 'handler.ts');

/** Props of {@link TicketDropboxSyncStack}: the deployment's props plus the usual stack props. */
export interface TicketDropboxSyncStackProps extends StackProps, SyncDeploymentProps {}

/** The default stack name of an instance. */
export function defaultStackName(instanceName: string): string {
  return `TicketDropboxSync-${instanceName}`;
}

/**
 * One deployment of ticket-dropbox-sync: S3 notifications → SQS (+DLQ) → the `sync-to-dropbox` function, with its
 * settings key, least-privilege role, alarms and dashboard. Props are checked before anything is created.
 */
export class TicketDropboxSyncStack extends Stack {
  readonly settings: SyncDeploymentSettings;
  readonly bucket: s3.IBucket;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly settingsKey: kms.Key;
  readonly messagesKey: kms.Key;
  readonly exportLedger: ExportLedger;
  readonly function: NodejsFunction;
  readonly eventSource: lambda.EventSourceMapping;
  readonly alarmTopic: sns.Topic;
  readonly monitoring: SyncMonitoring;
  readonly receipts: ExportReceipts;
  readonly breaker: CircuitBreaker;

  constructor(scope: Construct, id: string, props: TicketDropboxSyncStackProps = {}) {
    const settings = resolveDeploymentSettings(props);
    super(scope, id, {
      description: `ticket-dropbox-sync (${settings.instanceName}): S3 uploads under ${settings.keyPrefix} copied into Dropbox`,
      ...props,
    });
    // Server access logs by bucket policy: the ACL grant CDK uses otherwise is refused by BucketOwnerEnforced.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    this.settings = settings;
    const { instanceName, keyPrefix, settingsPath } = settings;
    Tags.of(this).add('project', 'ticket-dropbox-sync');
    Tags.of(this).add('ticket-dropbox-sync:instance', instanceName);

    // Encrypts the Dropbox SecureStrings that `connect` writes; retained so they stay readable if the stack goes.
    this.settingsKey = new kms.Key(this, 'SettingsKey', {
      description: `ticket-dropbox-sync ${instanceName}: Dropbox credentials in SSM under ${settingsPath}`,
      alias: `alias/ticket-dropbox-sync/${instanceName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Encrypts the queue, the DLQ and the alarm topic; a customer managed key because S3 and CloudWatch must be
    // granted its use, which the AWS managed keys do not allow.
    this.messagesKey = new kms.Key(this, 'MessagesKey', {
      description: `ticket-dropbox-sync ${instanceName}: queue, dead-letter queue and alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });

    // Holds what failed 5 times, for 14 days (SQS's maximum). A message moved here after its receives keeps its first
    // enqueue time (SQS developer guide, "Setting-up dead-letter queue retention"), so it stays 14 days minus its time
    // in the queue; a blocked record the function sends here itself is a new message and stays the full 14 days.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.messagesKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE_RETENTION_DAYS),
    });

    // Buffers the S3 notifications: retries under our control, a DLQ, and bounded concurrency. Kept 14 days (SQS's
    // maximum) so that records wait out an account-wide outage of up to two weeks while the breaker holds the flow.
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.messagesKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE_RETENTION_DAYS),
      visibilityTimeout: Duration.seconds(settings.queueVisibilityTimeoutSeconds),
      maxMessageSizeBytes: 256 * 1024,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVES },
    });

    this.bucket = settings.existingBucketName
      ? s3.Bucket.fromBucketName(this, 'Bucket', settings.existingBucketName)
      : this.createBucket(settings);

    // ObjectCreated:* exports new uploads; ObjectTagging:Put re-evaluates a file whose status tag changed.
    const destination = new ScopedSqsDestination(this.queue, this.messagesKey);
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix: keyPrefix });
    this.bucket.addEventNotification(s3.EventType.OBJECT_TAGGING_PUT, destination, { prefix: keyPrefix });
    this.acknowledgeNotificationsHandler();

    // What was exported for each object and where (infra/export-ledger.ts).
    this.exportLedger = new ExportLedger(this, 'ExportLedger');

    // The function's logs, with a retention (a log group Lambda creates itself keeps logs forever).
    const logGroup = new logs.LogGroup(this, 'FunctionLogGroup', {
      retention: logRetention(settings.logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The function's own role: no managed policy, every statement below scoped to this deployment.
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `ticket-dropbox-sync ${instanceName}: the sync function`,
    });
    logGroup.grantWrite(role);

    // Copies each qualifying upload into Dropbox (functions/sync-to-dropbox), bundled by esbuild on this machine.
    this.function = new NodejsFunction(this, 'SyncFunction', {
      description: `ticket-dropbox-sync ${instanceName}: S3 to Dropbox`,
      entry: FUNCTION_ENTRY,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memorySize,
      // Large files' chunks wait here between their hashing and their upload call, never in memory.
      ephemeralStorageSize: Size.mebibytes(settings.ephemeralStorageMiB),
      timeout: Duration.seconds(settings.timeoutSeconds),
      role,
      logGroup,
      environment: {
        INSTANCE_NAME: instanceName,
        SETTINGS_PATH: settingsPath,
        SETTINGS_CACHE_TTL_SECONDS: String(settings.settingsCacheTtlSeconds),
        BUCKET_NAME: this.bucket.bucketName,
        KEY_PREFIX: keyPrefix,
        QUEUE_URL: this.queue.queueUrl,
        LEDGER_TABLE: this.exportLedger.table.tableName,
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        EVENT_SOURCE_MAPPING_PARAMETER: mappingIdParameterName(instanceName),
        UPLOAD_CHUNK_MIB: String(settings.uploadChunkMiB),
        UPLOAD_CHUNKS_IN_FLIGHT: String(settings.uploadChunksInFlight),
        UPLOAD_PIECE_STORE: settings.uploadPieceStore,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: FUNCTION_BUNDLING,
    });

    this.grantFunctionReads(role, settings);
    this.exportLedger.grantSyncAccess(role);

    // Receipts on the bus for the ticket system (README "Receipts"), and its role's reads of the ledger.
    this.receipts = new ExportReceipts(this, 'Receipts', {
      fn: this.function,
      eventBus: settings.receiptsEventBus,
      ledgerTable: this.exportLedger.table,
      ledgerReaderRoleArn: settings.ledgerReaderRoleArn,
    });

    // The queue's event source mapping, with scoped queue grants and the queue key through SQS only.
    this.eventSource = new QueueConsumer(this, 'QueueConsumer', {
      fn: this.function,
      role,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      key: this.messagesKey,
      batchSize: settings.batchSize,
      maxBatchingWindow:
        settings.maxBatchingWindowSeconds > 0
          ? Duration.seconds(settings.maxBatchingWindowSeconds)
          : undefined,
      maxConcurrency: settings.maxConcurrency,
    }).mapping;

    // Account-wide failures stop the flow; the probe starts it again once the account is healthy (infra/breaker.ts).
    this.breaker = new CircuitBreaker(this, 'CircuitBreaker', {
      instanceName,
      syncRole: role,
      mapping: this.eventSource,
      table: this.exportLedger.table,
      settingsPath,
      settingsKey: this.settingsKey,
      logRetention: logRetention(settings.logRetentionDays),
    });
    // Where the alarms go; encrypted, and only this instance's alarms may publish.
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `ticket-dropbox-sync ${instanceName} alarms`,
      masterKey: this.messagesKey,
      enforceSSL: true,
    });
    this.grantAlarmsPublish(instanceName);
    if (settings.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
    }

    // Alarms and the dashboard.
    this.monitoring = new SyncMonitoring(this, 'Monitoring', {
      instanceName,
      fn: this.function,
      timeout: Duration.seconds(settings.timeoutSeconds),
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      alarmTopic: this.alarmTopic,
      oldestMessageAgeAlarmSeconds: settings.oldestMessageAgeAlarmSeconds,
    });

    this.addOutputs(settings);
  }

  private createBucket(settings: SyncDeploymentSettings): s3.Bucket {
    let accessLogsBucket: s3.Bucket | undefined;
    if (settings.serverAccessLogs) {
      // Receives the upload bucket's server access logs (S3 delivers them only to an SSE-S3 bucket).
      accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [
          { id: 'ExpireAccessLogs', expiration: Duration.days(settings.accessLogsExpirationDays) },
        ],
      });
    }
    // Where the ticket system uploads: private, TLS only, encrypted, versioned, kept when the stack goes.
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: accessLogsBucket ? 'upload-bucket/' : undefined,
      lifecycleRules: [
        {
          id: 'ExpireOldVersions',
          noncurrentVersionExpiration: Duration.days(settings.noncurrentVersionExpirationDays),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    if (!accessLogsBucket) {
      acknowledgeNagRule(
        bucket,
        'AwsSolutions-S1',
        'Server access logs are turned off by the serverAccessLogs prop; CloudTrail data events can record access instead.',
      );
    }
    return bucket;
  }

  private grantFunctionReads(role: iam.Role, settings: SyncDeploymentSettings): void {
    const objects = this.bucket.arnForObjects(`${settings.keyPrefix}*`);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTicketFiles',
        actions: ['s3:GetObject', 's3:GetObjectTagging'],
        resources: [objects],
      }),
    );
    acknowledgeWildcardResource(
      role,
      objects,
      'The function reads any file under the key prefix, and only there: the wildcard is the prefix itself.',
    );
    // Without ListBucket S3 answers 403 for a missing key instead of 404. Unconditioned: a HeadObject request carries
    // no s3:prefix, so a prefix condition would turn every missing key back into a 403.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingFromForbidden',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
      }),
    );
    if (settings.existingBucketKmsKeyArn) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptTicketFiles',
          actions: ['kms:Decrypt'],
          resources: [settings.existingBucketKmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
        }),
      );
    }

    const instancePath = this.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `ticket-dropbox-sync/${settings.instanceName}`,
    });
    const underInstancePath = `${instancePath}/*`;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSettings',
        actions: ['ssm:GetParametersByPath'],
        resources: [instancePath, underInstancePath],
      }),
    );
    acknowledgeWildcardResource(
      role,
      underInstancePath,
      "The settings are every parameter under the instance's path, read in one GetParametersByPath; nothing outside it.",
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptSettings',
        actions: ['kms:Decrypt'],
        resources: [this.settingsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `ssm.${this.region}.amazonaws.com` } },
      }),
    );
  }

  private grantAlarmsPublish(instanceName: string): void {
    const conditions = {
      ArnLike: {
        'aws:SourceArn': this.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${alarmNamePrefix(instanceName)}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
      StringEquals: { 'aws:SourceAccount': this.account },
    };
    const cloudwatchPrincipal = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowInstanceAlarms',
        principals: [cloudwatchPrincipal],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions,
      }),
    );
    // CloudWatch encrypts the alarm notification with the topic's key.
    this.messagesKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowInstanceAlarmsToEncrypt',
        principals: [cloudwatchPrincipal],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions,
      }),
    );
  }

  private acknowledgeNotificationsHandler(): void {
    // CDK writes bucket notifications with a custom resource whose Lambda (one per stack) it owns.
    const handler = this.node.children.find((child: IConstruct) =>
      child.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (!handler)
      throw new Error('Expected the BucketNotificationsHandler that addEventNotification creates');
    acknowledgeNagRule(
      handler,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "CDK's BucketNotificationsHandler (the custom resource that writes the bucket notifications) logs through this managed policy; CDK does not let its role be configured.",
    );
  }

  private addOutputs(settings: SyncDeploymentSettings): void {
    const outputs: Record<string, { value: string; description: string }> = {
      BucketName: { value: this.bucket.bucketName, description: 'The bucket the ticket system uploads to' },
      KeyPrefix: { value: settings.keyPrefix, description: 'Only keys under this prefix are exported' },
      QueueUrl: { value: this.queue.queueUrl, description: 'The queue of S3 notifications' },
      QueueArn: { value: this.queue.queueArn, description: 'The queue of S3 notifications' },
      DeadLetterQueueUrl: {
        value: this.deadLetterQueue.queueUrl,
        description: 'Records that failed 5 times',
      },
      DeadLetterQueueArn: {
        value: this.deadLetterQueue.queueArn,
        description: 'Records that failed 5 times',
      },
      SettingsPath: { value: settings.settingsPath, description: 'The SSM path of the settings' },
      SettingsKmsKeyId: {
        value: this.settingsKey.keyArn,
        description: 'The KMS key (ARN) of the SecureString settings',
      },
      QueueKmsKeyArn: {
        value: this.messagesKey.keyArn,
        description: 'The KMS key of the queues and the alarm topic (operators sending or redriving need it)',
      },
      LedgerTableName: {
        value: this.exportLedger.table.tableName,
        description: 'The export ledger: what was exported for each object and where (read by the CLI)',
      },
      FunctionName: { value: this.function.functionName, description: 'The sync function' },
      EventSourceMappingId: {
        value: this.eventSource.eventSourceMappingId,
        description: 'The queue-to-function mapping (pause and resume; the circuit breaker disables it)',
      },
      BreakerProbeFunctionName: {
        value: this.breaker.probe.functionName,
        description:
          'The circuit breaker probe, run every 5 minutes: it starts the flow again once the account is healthy',
      },
      AlarmTopicArn: { value: this.alarmTopic.topicArn, description: 'Alarm notifications' },
      DashboardUrl: { value: this.monitoring.dashboardUrl(), description: 'The CloudWatch dashboard' },
      ...(this.receipts.eventBusArn === undefined
        ? {}
        : {
            ReceiptsEventBusArn: {
              value: this.receipts.eventBusArn,
              description: 'The bus the receipts go to (source ticket-dropbox-sync)',
            },
          }),
    };
    for (const [id, output] of Object.entries(outputs)) {
      new CfnOutput(this, id, output);
    }
  }
}

function logRetention(days: number): logs.RetentionDays {
  const retention = Object.values(logs.RetentionDays).find((value) => value === days);
  if (typeof retention !== 'number') throw new Error(`No CloudWatch Logs retention of ${days} days`);
  return retention;
}
