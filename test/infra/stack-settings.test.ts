import { describe, expect, it } from 'vitest';
import {
  DEPLOYMENT_DEFAULTS,
  InvalidDeploymentPropsError,
  resolveDeploymentSettings,
  type SyncDeploymentProps,
} from '../../infra/stack-settings.ts';

function problemsOf(props: SyncDeploymentProps): readonly string[] {
  try {
    resolveDeploymentSettings(props);
  } catch (error) {
    if (error instanceof InvalidDeploymentPropsError) return error.problems;
    throw error;
  }
  return [];
}

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('resolveDeploymentSettings', () => {
  it('applies every default when no props are given', () => {
    // Act
    const settings = resolveDeploymentSettings();

    // Assess
    expect(settings).toEqual({
      instanceName: 'default',
      keyPrefix: 'tickets/',
      settingsPath: '/ticket-dropbox-sync/default/',
      existingBucketName: undefined,
      existingBucketKmsKeyArn: undefined,
      noncurrentVersionExpirationDays: 30,
      serverAccessLogs: true,
      accessLogsExpirationDays: 90,
      alarmEmail: undefined,
      memorySize: 1024,
      timeoutSeconds: 300,
      maxConcurrency: 4,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      queueVisibilityTimeoutSeconds: 1800,
      settingsCacheTtlSeconds: 60,
      uploadChunkMiB: DEPLOYMENT_DEFAULTS.uploadChunkMiB,
      uploadChunksInFlight: DEPLOYMENT_DEFAULTS.uploadChunksInFlight,
      uploadPieceStore: 'spool',
      ephemeralStorageMiB: 1024,
      logRetentionDays: 30,
      oldestMessageAgeAlarmSeconds: 900,
      receiptsEventBus: 'default',
      ledgerReaderRoleArn: undefined,
    });
  });

  it('gives the function ephemeral storage for the spooled chunks, and none beyond the included 512 MiB otherwise', () => {
    // Act
    const wide = resolveDeploymentSettings({ uploadChunksInFlight: 16 });
    const reread = resolveDeploymentSettings({ uploadPieceStore: 'reread' });

    // Assess: (16 + 1) × 140 MiB + 256 MiB, rounded up to 512 MiB
    expect(wide.ephemeralStorageMiB).toBe(3072);
    expect(reread.ephemeralStorageMiB).toBe(512);
  });

  it('derives the visibility timeout as 6 × the function timeout when only the timeout is given', () => {
    // Act
    const settings = resolveDeploymentSettings({ timeoutSeconds: 120 });

    // Assess
    expect(settings.queueVisibilityTimeoutSeconds).toBe(720);
  });

  it("accepts an oldest-message alarm as late as the queue's 14-day retention", () => {
    // Act
    const settings = resolveDeploymentSettings({ oldestMessageAgeAlarmSeconds: 14 * 24 * 60 * 60 });

    // Assess
    expect(settings.oldestMessageAgeAlarmSeconds).toBe(1_209_600);
  });

  it('accepts an existing bucket with its KMS key, a batching window for a large batch, and an email', () => {
    // Prepare
    const props: SyncDeploymentProps = {
      instanceName: 'acme-prod',
      keyPrefix: 'uploads/tickets/',
      existingBucketName: 'acme.ticket-files',
      existingBucketKmsKeyArn: KEY_ARN,
      alarmEmail: 'ops@acme.example',
      batchSize: 100,
      maxBatchingWindowSeconds: 5,
      maxConcurrency: 2,
    };

    // Act
    const settings = resolveDeploymentSettings(props);

    // Assess
    expect(settings).toMatchObject({ ...props, settingsPath: '/ticket-dropbox-sync/acme-prod/' });
  });

  it.each([
    [{ keyPrefix: 'tickets' }, "keyPrefix must end with '/', got 'tickets'"],
    [
      { keyPrefix: '/tickets/' },
      "keyPrefix must not start with '/': S3 keys have no leading slash, got '/tickets/'",
    ],
    [
      { keyPrefix: '' },
      "keyPrefix must not be empty: the function reads only keys under its prefix (for example 'tickets/')",
    ],
    [
      { keyPrefix: 'tick*/' },
      "keyPrefix must not contain '*' or '?': IAM reads them as wildcards, got 'tick*/'",
    ],
    [
      { timeoutSeconds: 901 },
      'timeoutSeconds must be a whole number from 1 to 900 (the Lambda maximum), got 901',
    ],
    [
      { maxConcurrency: 1 },
      'maxConcurrency must be a whole number from 2 (the AWS minimum for an SQS event source) to 1000, got 1',
    ],
    [
      { batchSize: 11 },
      'batchSize 11 needs maxBatchingWindowSeconds of at least 1: Lambda takes SQS batches larger than 10 only with a batching window',
    ],
    [
      { timeoutSeconds: 300, queueVisibilityTimeoutSeconds: 1799 },
      'queueVisibilityTimeoutSeconds (1799) must be at least 6 × timeoutSeconds (1800): otherwise a batch still running can be handed to a second invocation',
    ],
    [{ alarmEmail: 'ops-at-example.com' }, "alarmEmail must be an email address, got 'ops-at-example.com'"],
    [
      { existingBucketKmsKeyArn: KEY_ARN },
      'existingBucketKmsKeyArn needs existingBucketName: a new bucket uses SSE-S3 and has no key to grant',
    ],
    [
      {
        existingBucketName: 'shared',
        existingBucketKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/files',
      },
      "existingBucketKmsKeyArn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; an alias does not work in IAM policies), got 'arn:aws:kms:eu-west-1:123456789012:alias/files'",
    ],
    [
      { existingBucketName: 'Shared_Bucket' },
      "existingBucketName must be an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens), got 'Shared_Bucket'",
    ],
    [
      { instanceName: 'Prod' },
      "instanceName must be 1 to 32 lowercase letters, digits or hyphens, starting and ending with a letter or digit, got 'Prod'",
    ],
    [{ memorySize: 64 }, 'memorySize must be a whole number of MB from 128 to 10240, got 64'],
    [
      { uploadChunkMiB: 10 },
      "uploadChunkMiB must be a multiple of 4 from 4 to 140 (Dropbox's chunk rules), got 10",
    ],
    [
      { memorySize: 192 },
      'memorySize 192 is too small: the function peaks near 200 MiB with a large file; give it at least 256',
    ],
    [{ uploadPieceStore: 'memory' as 'spool' }, "uploadPieceStore must be 'spool' or 'reread', got 'memory'"],
    [
      { serverAccessLogs: false, accessLogsExpirationDays: 30 },
      'accessLogsExpirationDays needs serverAccessLogs: there are no access logs to expire',
    ],
    [
      { oldestMessageAgeAlarmSeconds: 1_209_601 },
      "oldestMessageAgeAlarmSeconds must be a whole number from 60 to 1209600 (the queue's 14-day retention), got 1209601",
    ],
    [
      { logRetentionDays: 31 },
      "logRetentionDays must be one of CloudWatch Logs' values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got 31",
    ],
  ] satisfies [SyncDeploymentProps, string][])('rejects %j with its exact message', (props, message) => {
    // Act
    const problems = problemsOf(props);

    // Assess
    expect(problems).toEqual([message]);
  });

  it('rejects the bucket-only props when an existing bucket is named, naming each of them', () => {
    // Act
    const problems = problemsOf({
      existingBucketName: 'shared-bucket',
      noncurrentVersionExpirationDays: 10,
      serverAccessLogs: false,
    });

    // Assess
    expect(problems).toEqual([
      'noncurrentVersionExpirationDays, serverAccessLogs configure a new bucket and cannot be combined with existingBucketName: remove them, or remove existingBucketName',
    ]);
  });

  it('reports every problem at once when several props are wrong', () => {
    // Act
    const act = () => resolveDeploymentSettings({ keyPrefix: '/tickets', timeoutSeconds: 1000 });

    // Assess
    expect(act).toThrow(
      new InvalidDeploymentPropsError([
        "keyPrefix must not start with '/': S3 keys have no leading slash, got '/tickets'",
        "keyPrefix must end with '/', got '/tickets'",
        'timeoutSeconds must be a whole number from 1 to 900 (the Lambda maximum), got 1000',
      ]),
    );
  });
});
