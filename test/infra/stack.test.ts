import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TicketDropboxSyncStack } from '../../infra/stack.ts';
import { InvalidDeploymentPropsError } from '../../infra/stack-settings.ts';
import {
  actionsOf,
  allStatements,
  removeSynthOutputs,
  type SynthesizedStack,
  synthStack,
  type TemplateStatement,
} from './synth-helpers.ts';

function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (!(child instanceof CfnElement))
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(child);
}

const getAtt = (construct: IConstruct, attribute = 'Arn') => ({
  'Fn::GetAtt': [logicalIdOf(construct), attribute],
});

function functionPolicyStatements(synth: SynthesizedStack): TemplateStatement[] {
  const role = synth.stack.function.role;
  if (!role) throw new Error('the function has no role');
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) throw new Error('the function role has no default policy');
  const policyId = logicalIdOf(policy);
  return allStatements(synth.template)
    .filter((entry) => entry.owner === policyId)
    .map((entry) => entry.statement);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface DashboardWidget {
  readonly type: string;
  readonly properties: { readonly title?: string; readonly metrics?: unknown[][] };
}

// The dashboard body is a JSON string joined with tokens (region, ARNs): tokens become a placeholder to parse it.
function dashboardWidgets(synth: SynthesizedStack): DashboardWidget[] {
  const dashboards = synth.template.findResources('AWS::CloudWatch::Dashboard');
  const body: unknown = Object.values(dashboards)[0]?.Properties?.DashboardBody;
  const parts = isRecord(body) && Array.isArray(body['Fn::Join']) ? body['Fn::Join'][1] : undefined;
  if (!Array.isArray(parts)) throw new Error('the dashboard body is not a Fn::Join');
  const json = parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  const parsed: { widgets: DashboardWidget[] } = JSON.parse(json);
  return parsed.widgets;
}

const EXISTING_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** The ARN of an SSM parameter as the stack writes it (`name` without its leading '/'). */
function ssmParameterArn(name: string) {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':ssm:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:parameter/${name}`,
      ],
    ],
  };
}

describe('TicketDropboxSyncStack with a new bucket (defaults)', () => {
  let synth: SynthesizedStack;

  beforeAll(() => {
    synth = synthStack();
  });

  afterAll(() => {
    removeSynthOutputs();
  });

  it('creates a private, encrypted, versioned, logged bucket that is retained when the stack is deleted', () => {
    // Assess
    synth.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            }),
          ],
        },
        LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
      }),
    });
  });

  it('denies every request to the bucket that does not use TLS', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalIdOf(synth.stack.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('sends ObjectCreated:* and ObjectTagging:Put under the key prefix to the queue', () => {
    // Assess
    const prefixFilter = { Key: { FilterRules: [{ Name: 'prefix', Value: 'tickets/' }] } };
    synth.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: logicalIdOf(synth.stack.bucket) },
      NotificationConfiguration: {
        QueueConfigurations: [
          { Events: ['s3:ObjectCreated:*'], Filter: prefixFilter, QueueArn: getAtt(synth.stack.queue) },
          { Events: ['s3:ObjectTagging:Put'], Filter: prefixFilter, QueueArn: getAtt(synth.stack.queue) },
        ],
      },
      Managed: true,
    });
  });

  it('encrypts the queue with its key, keeps messages 14 days (outages up to two weeks) and hides them 6 × the function timeout', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: getAtt(synth.stack.messagesKey),
      MessageRetentionPeriod: 14 * 24 * 3600,
      VisibilityTimeout: 6 * 300,
      MaximumMessageSize: 262144,
      RedrivePolicy: { deadLetterTargetArn: getAtt(synth.stack.deadLetterQueue), maxReceiveCount: 5 },
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 300, Runtime: 'nodejs24.x' });
  });

  it('keeps dead letters 14 days (SQS’s maximum), encrypted with the same key', () => {
    // Assess
    const dlq = synth.template.toJSON().Resources[logicalIdOf(synth.stack.deadLetterQueue)];
    expect(dlq.Properties).toEqual({
      KmsMasterKeyId: getAtt(synth.stack.messagesKey),
      MessageRetentionPeriod: 14 * 24 * 3600,
      Tags: expect.any(Array),
    });
  });

  it('lets only this bucket of this account send to the queue, and denies requests without TLS', () => {
    // Assess
    const bucketConditions = {
      ArnLike: { 'aws:SourceArn': getAtt(synth.stack.bucket) },
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    };
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalIdOf(synth.stack.queue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'AllowBucketNotifications',
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: getAtt(synth.stack.queue),
            Condition: bucketConditions,
          },
        ]),
      },
    });
    synth.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowBucketNotificationsToEncrypt',
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: '*',
            Condition: bucketConditions,
          },
        ]),
      },
    });
  });

  it('runs the function on nodejs24.x arm64 from the ESM bundle, with only names and paths in its environment', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      // Room for the spooled chunks: (4 in flight + 1 ahead) × 140 MiB, and 256 MiB besides, rounded up.
      EphemeralStorage: { Size: 1024 },
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
      Environment: {
        Variables: {
          INSTANCE_NAME: 'default',
          SETTINGS_PATH: '/ticket-dropbox-sync/default/',
          SETTINGS_CACHE_TTL_SECONDS: '60',
          KEY_PREFIX: 'tickets/',
          QUEUE_URL: { Ref: logicalIdOf(synth.stack.queue) },
          UPLOAD_CHUNK_MIB: '140',
          UPLOAD_CHUNKS_IN_FLIGHT: '4',
          UPLOAD_PIECE_STORE: 'spool',
          POWERTOOLS_SERVICE_NAME: 'ticket-dropbox-sync',
          POWERTOOLS_METRICS_NAMESPACE: 'TicketDropboxSync',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('keeps the function logs 30 days in its own log group', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('feeds the function batches of 10 with at most 4 concurrent instances and partial batch failures', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(synth.stack.queue),
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 4 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      ReservedConcurrentExecutions: Match.absent(),
    });
  });

  it('grants the function reads of objects and tags under the prefix only, and ListBucket on the bucket', () => {
    // Act
    const statements = functionPolicyStatements(synth);

    // Assess
    expect(statements).toContainEqual({
      Sid: 'ReadTicketFiles',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectTagging'],
      Resource: { 'Fn::Join': ['', [getAtt(synth.stack.bucket), '/tickets/*']] },
    });
    expect(statements).toContainEqual({
      Sid: 'TellMissingFromForbidden',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: getAtt(synth.stack.bucket),
    });
  });

  it('keeps the export ledger on demand, with point-in-time recovery, encrypted, protected and retained', () => {
    // Assess
    synth.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    synth.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // SSEEnabled without a key or SSEType: KMS with the AWS managed key, aws/dynamodb.
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('grants the function GetItem and UpdateItem on the ledger table only, names it in its environment and an output', () => {
    // Prepare
    const table = synth.stack.exportLedger.table;

    // Act
    const statements = functionPolicyStatements(synth);
    const onTable = statements.filter((statement) =>
      actionsOf(statement).some((a) => a.startsWith('dynamodb:')),
    );

    // Assess
    expect(onTable).toEqual([
      {
        Sid: 'ReadWriteExportLedger',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: getAtt(table),
      },
    ]);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LEDGER_TABLE: { Ref: logicalIdOf(table) } }) },
    });
    synth.template.hasOutput('LedgerTableName', { Value: { Ref: logicalIdOf(table) } });
  });

  it("grants GetParametersByPath on the instance's settings path and kms:Decrypt on the settings key through SSM only", () => {
    // Prepare
    const parameterArn = (suffix: string) => ssmParameterArn(`ticket-dropbox-sync/default${suffix}`);

    // Act
    const statements = functionPolicyStatements(synth);

    // Assess
    expect(statements).toContainEqual({
      Sid: 'ReadSettings',
      Effect: 'Allow',
      Action: 'ssm:GetParametersByPath',
      Resource: [parameterArn(''), parameterArn('/*')],
    });
    expect(statements).toContainEqual({
      Sid: 'DecryptSettings',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: getAtt(synth.stack.settingsKey),
      Condition: {
        StringEquals: {
          'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
        },
      },
    });
  });

  it('grants the function consume, retry delays, requeues and dead letters on its queues, and nothing it does not use', () => {
    // Act
    const statements = functionPolicyStatements(synth);
    const actions = new Set(statements.flatMap(actionsOf));

    // Assess
    expect(statements).toContainEqual({
      Sid: 'ConsumeQueue',
      Effect: 'Allow',
      Action: [
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
      ],
      Resource: getAtt(synth.stack.queue),
    });
    expect(statements).toContainEqual({
      Sid: 'RequeueAndDeadLetter',
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: [getAtt(synth.stack.deadLetterQueue), getAtt(synth.stack.queue)],
    });
    expect([...actions].sort()).toEqual(
      [
        'events:PutEvents',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:GetObject',
        's3:GetObjectTagging',
        's3:ListBucket',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
        'ssm:GetParameter',
        'ssm:GetParametersByPath',
      ].sort(),
    );
  });

  it('lets the function use the queue key only through SQS (kms:ViaService)', () => {
    // Act
    const keyStatements = functionPolicyStatements(synth).filter(
      (statement) =>
        statement.Resource !== undefined &&
        JSON.stringify(statement.Resource).includes(logicalIdOf(synth.stack.messagesKey)),
    );

    // Assess
    expect(keyStatements).toEqual([
      {
        Sid: 'UseQueueKeyThroughSqs',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: getAtt(synth.stack.messagesKey),
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      },
    ]);
  });

  it('attaches no managed policy to the function role', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('allows no wildcard action anywhere, except the key policies delegating to the account', () => {
    // Act
    const wildcardAllows = allStatements(synth.template).filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && actionsOf(statement).some((action) => action.includes('*')),
    );

    // Assess
    for (const { type, statement } of wildcardAllows) {
      expect(type).toBe('AWS::KMS::Key');
      expect(statement.Action).toBe('kms:*');
      expect(statement.Principal).toEqual({
        AWS: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
        },
      });
    }
  });

  it('creates the settings key with rotation, retained on deletion, and no SSM parameters', () => {
    // Assess
    synth.template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        EnableKeyRotation: true,
        Description: Match.stringLikeRegexp('credentials'),
      }),
    });
    synth.template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/ticket-dropbox-sync/default',
      TargetKeyId: getAtt(synth.stack.settingsKey),
    });
    // The only parameter the stack owns is the breaker's mapping id, outside the settings path.
    synth.template.resourceCountIs('AWS::SSM::Parameter', 1);
    synth.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ticket-dropbox-sync-deployment/default/event-source-mapping-id',
      Type: 'String',
      Value: { Ref: logicalIdOf(synth.stack.eventSource) },
    });
  });

  it('lets the function disable its own event source mapping only, by a policy the function does not depend on', () => {
    // Prepare
    const mappingArn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':lambda:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':event-source-mapping:',
          { Ref: logicalIdOf(synth.stack.eventSource) },
        ],
      ],
    };
    const resources = synth.template.toJSON().Resources as Record<
      string,
      { Type: string; DependsOn?: string[] }
    >;
    const switchPolicies = Object.entries(
      synth.template.findResources('AWS::IAM::Policy', {
        Properties: {
          PolicyDocument: {
            Statement: [Match.objectLike({ Action: 'lambda:UpdateEventSourceMapping' })],
          },
        },
      }),
    );
    const functionId = logicalIdOf(synth.stack.function);
    const roleId = logicalIdOf(synth.stack.function.role as IConstruct);

    // Assess
    const syncSwitch = switchPolicies.find(([, policy]) =>
      JSON.stringify(policy).includes(`"Roles":[{"Ref":"${roleId}"}]`),
    );
    expect(syncSwitch?.[1]).toMatchObject({
      Properties: {
        PolicyDocument: {
          Statement: [
            {
              Sid: 'SwitchTheFlow',
              Effect: 'Allow',
              Action: 'lambda:UpdateEventSourceMapping',
              Resource: mappingArn,
            },
          ],
        },
      },
    });
    expect(resources[functionId]?.DependsOn ?? []).not.toContain(syncSwitch?.[0]);
    expect(functionPolicyStatements(synth)).toContainEqual({
      Sid: 'ReadMappingId',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: ssmParameterArn('ticket-dropbox-sync-deployment/default/event-source-mapping-id'),
    });
  });

  it("runs the breaker's probe every 5 minutes with EventBridge Scheduler, on the control item and the mapping only", () => {
    // Prepare
    const probeRole = synth.stack.breaker.probe.role as IConstruct;
    const probeStatements = allStatements(synth.template)
      .filter(
        (entry) => entry.owner === logicalIdOf(probeRole.node.tryFindChild('DefaultPolicy') as IConstruct),
      )
      .map((entry) => entry.statement);

    // Assess
    synth.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: { Arn: getAtt(synth.stack.breaker.probe), RetryPolicy: { MaximumRetryAttempts: 0 } },
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          LEDGER_TABLE: { Ref: Match.stringLikeRegexp('ExportLedgerTable') },
          EVENT_SOURCE_MAPPING_ID: { Ref: logicalIdOf(synth.stack.eventSource) },
          SETTINGS_PATH: '/ticket-dropbox-sync/default/',
        }),
      },
    });
    expect(probeStatements).toContainEqual({
      Sid: 'ReadWriteControlItem',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      Resource: getAtt(synth.stack.exportLedger.table),
      Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['control#flow'] } },
    });
    expect(probeStatements).toContainEqual(
      expect.objectContaining({ Sid: 'SwitchTheFlow', Action: 'lambda:UpdateEventSourceMapping' }),
    );
    expect(probeStatements.flatMap(actionsOf).sort()).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'kms:Decrypt',
        'lambda:UpdateEventSourceMapping',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'ssm:GetParametersByPath',
      ].sort(),
    );
  });

  it('raises the seven alarms to the encrypted alarm topic, with and without email', () => {
    // Prepare
    const topicRef = { Ref: logicalIdOf(synth.stack.alarmTopic) };

    // Assess
    synth.template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-breaker-open',
      Namespace: 'TicketDropboxSync',
      MetricName: 'BreakerOpen',
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      TreatMissingData: 'ignore',
      AlarmActions: [topicRef],
      OKActions: [topicRef],
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-blocked-records',
      MetricName: 'RecordsFailed',
      Dimensions: Match.arrayWith([{ Name: 'kind', Value: 'blocked' }]),
      Threshold: 1,
      AlarmActions: [topicRef],
    });
    synth.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: getAtt(synth.stack.messagesKey),
    });
    synth.template.resourceCountIs('AWS::SNS::Subscription', 0);
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-dlq-not-empty',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(synth.stack.deadLetterQueue, 'QueueName') }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topicRef],
      OKActions: [topicRef],
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-oldest-message-age',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(synth.stack.queue, 'QueueName') }],
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-function-errors',
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-function-throttles',
      MetricName: 'Throttles',
      Namespace: 'AWS/Lambda',
    });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TicketDropboxSync-default-account-wide-failures',
      Namespace: 'TicketDropboxSync',
      MetricName: 'AccountWideFailures',
      Dimensions: Match.arrayEquals([
        { Name: 'instance', Value: 'default' },
        { Name: 'service', Value: 'ticket-dropbox-sync' },
      ]),
      Statistic: 'Sum',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
    });
  });

  it("lets only this instance's alarms publish to the topic and use its key, and denies publishing without TLS", () => {
    // Prepare
    const alarmConditions = {
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:TicketDropboxSync-default-*',
            ],
          ],
        },
      },
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    };

    // Assess
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: alarmConditions,
          }),
        ]),
      },
    });
    synth.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: alarmConditions,
          }),
        ]),
      },
    });
  });

  it('draws exports, skips by reason, failures by kind, queue and DLQ depth and duration on the dashboard', () => {
    // Act
    const widgets = dashboardWidgets(synth);
    const titles = widgets.map((widget) => widget.properties.title);
    const expressions = widgets.flatMap((widget) =>
      (widget.properties.metrics ?? []).flatMap((line) =>
        line.flatMap((item) =>
          isRecord(item) && typeof item.expression === 'string' ? [item.expression] : [],
        ),
      ),
    );

    // Assess
    synth.template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'TicketDropboxSync-default',
    });
    expect(titles).toEqual(
      expect.arrayContaining([
        'Files exported',
        'Bytes exported',
        'Files skipped, by reason',
        'Records failed, by kind',
        'Queue depth',
        'Dead-letter queue depth',
        'Function duration',
        'Oldest message age',
        'Alarms',
      ]),
    );
    expect(expressions).toContain(
      `SEARCH('{TicketDropboxSync,reason,instance,service} MetricName="FilesSkipped" instance="default" service="ticket-dropbox-sync"', 'Sum', 300)`,
    );
    expect(expressions).toContain(
      `SEARCH('{TicketDropboxSync,kind,instance,service} MetricName="RecordsFailed" instance="default" service="ticket-dropbox-sync"', 'Sum', 300)`,
    );
  });

  it('outputs what the CLI reads, under the names it reads them by', () => {
    // Assess
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'BreakerProbeFunctionName',
        'BucketName',
        'DashboardUrl',
        'DeadLetterQueueArn',
        'DeadLetterQueueUrl',
        'EventSourceMappingId',
        'FunctionName',
        'KeyPrefix',
        'LedgerTableName',
        'QueueArn',
        'QueueKmsKeyArn',
        'QueueUrl',
        'ReceiptsEventBusArn',
        'SettingsKmsKeyId',
        'SettingsPath',
      ].sort(),
    );
    expect(outputs.SettingsPath?.Value).toBe('/ticket-dropbox-sync/default/');
    expect(outputs.SettingsKmsKeyId?.Value).toEqual(getAtt(synth.stack.settingsKey));
    expect(outputs.QueueUrl?.Value).toEqual({ Ref: logicalIdOf(synth.stack.queue) });
    expect(outputs.DeadLetterQueueArn?.Value).toEqual(getAtt(synth.stack.deadLetterQueue));
    synth.template.templateMatches({ Outputs: Match.not(Match.objectLike({ Export: Match.anyValue() })) });
  });
});

describe('TicketDropboxSyncStack with an existing SSE-KMS bucket', () => {
  let synth: SynthesizedStack;

  beforeAll(() => {
    synth = synthStack({
      instanceName: 'acme',
      keyPrefix: 'incoming/tickets/',
      existingBucketName: 'acme-shared-files',
      existingBucketKmsKeyArn: EXISTING_KEY_ARN,
      alarmEmail: 'ops@acme.example',
      timeoutSeconds: 120,
      memorySize: 2048,
      batchSize: 50,
      maxBatchingWindowSeconds: 5,
      maxConcurrency: 8,
    });
  });

  afterAll(() => {
    removeSynthOutputs();
  });

  const bucketArn = {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-shared-files']],
  };

  it('creates no bucket and merges its notifications into the existing ones', () => {
    // Assess
    synth.template.resourceCountIs('AWS::S3::Bucket', 0);
    synth.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'acme-shared-files',
      Managed: false,
      NotificationConfiguration: {
        QueueConfigurations: Match.arrayWith([
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/tickets/' }] } },
          }),
        ]),
      },
    });
  });

  it('scopes the object grant to the prefix in the existing bucket and decrypts its objects through S3 only', () => {
    // Act
    const statements = functionPolicyStatements(synth);

    // Assess
    expect(statements).toContainEqual({
      Sid: 'ReadTicketFiles',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectTagging'],
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-shared-files/incoming/tickets/*']],
      },
    });
    expect(statements).toContainEqual({
      Sid: 'DecryptTicketFiles',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: EXISTING_KEY_ARN,
      Condition: {
        StringEquals: {
          'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
        },
      },
    });
    expect(statements).toContainEqual(
      expect.objectContaining({ Sid: 'TellMissingFromForbidden', Resource: bucketArn }),
    );
  });

  it('lets only the existing bucket send to the queue', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowBucketNotifications',
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': bucketArn } }),
          }),
        ]),
      },
    });
  });

  it('applies the function and event source props and derives the visibility timeout from the timeout', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      MemorySize: 2048,
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ SETTINGS_PATH: '/ticket-dropbox-sync/acme/' }) },
    });
    synth.template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 720 });
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });

  it('subscribes the alarm email to the topic', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@acme.example',
      TopicArn: { Ref: logicalIdOf(synth.stack.alarmTopic) },
    });
  });
});

describe('TicketDropboxSyncStack props', () => {
  it('rejects a wrong combination before creating anything, with the exact message', () => {
    // Prepare
    const app = new App();

    // Act
    const act = () =>
      new TicketDropboxSyncStack(app, 'Wrong', {
        existingBucketName: 'shared-files',
        serverAccessLogs: false,
      });

    // Assess
    expect(act).toThrow(
      new InvalidDeploymentPropsError([
        'serverAccessLogs configure a new bucket and cannot be combined with existingBucketName: remove them, or remove existingBucketName',
      ]),
    );
    expect(app.node.tryFindChild('Wrong')).toBeUndefined();
  });
});
