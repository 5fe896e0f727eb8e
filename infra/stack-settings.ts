/**
 * The stack's props, their defaults, and the synth-time checks that reject wrong combinations with exact messages.
 * Pure: no constructs, so the rules are testable without a synth.
 */
import { INSTANCE_NAME_RULE, isValidInstanceName } from '../lib/instance-name.ts';

/** What a deployment of ticket-dropbox-sync can be told. Every field is optional. */
export interface SyncDeploymentProps {
  /**
   * Name of this deployment: the settings live under `/ticket-dropbox-sync/<instanceName>/`, and it names the stack
   * (`TicketDropboxSync-<instanceName>`), the alarms and the dashboard. 1 to 32 lowercase letters, digits or hyphens.
   * @default 'default'
   */
  readonly instanceName?: string;
  /**
   * Only keys under this prefix are exported (notifications, IAM). Ends with `/`, no leading `/`.
   * @default 'tickets/'
   */
  readonly keyPrefix?: string;
  /**
   * Use this existing bucket (same account and region) instead of creating one. It gets only the notifications and
   * the function's read grants. S3 refuses a notification that overlaps one the bucket already has.
   * @default - a new bucket with secure defaults, retained when the stack is deleted
   */
  readonly existingBucketName?: string;
  /**
   * ARN of the KMS key the existing bucket encrypts objects with (SSE-KMS): the function gets `kms:Decrypt` on it,
   * through S3 only. Needs `existingBucketName`.
   * @default - the objects are not encrypted with a customer managed key
   */
  readonly existingBucketKmsKeyArn?: string;
  /**
   * New bucket only: days an overwritten or deleted object version is kept before S3 expires it.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * New bucket only: write S3 server access logs to a separate log bucket.
   * @default true
   */
  readonly serverAccessLogs?: boolean;
  /**
   * New bucket only, with `serverAccessLogs`: days the access logs are kept.
   * @default 90
   */
  readonly accessLogsExpirationDays?: number;
  /**
   * Email address subscribed to the alarm topic (the recipient confirms the subscription).
   * @default - no subscription; subscribe to the `AlarmTopicArn` output yourself
   */
  readonly alarmEmail?: string;
  /**
   * Function memory in MB (more memory also means more CPU and network bandwidth).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout in seconds, at most 900.
   * @default 300
   */
  readonly timeoutSeconds?: number;
  /**
   * Most concurrent function instances the queue drives (the event source's `maxConcurrency`, 2 to 1000): caps
   * write contention on one Dropbox namespace.
   * @default 4
   */
  readonly maxConcurrency?: number;
  /**
   * Records per invocation (1 to 10000; above 10 needs `maxBatchingWindowSeconds`).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Seconds the event source gathers records before invoking (0 to 300).
   * @default 0
   */
  readonly maxBatchingWindowSeconds?: number;
  /**
   * The queue's visibility timeout in seconds: at least 6 × `timeoutSeconds`.
   * @default 6 × timeoutSeconds
   */
  readonly queueVisibilityTimeoutSeconds?: number;
  /**
   * Seconds the function caches the settings read from SSM (0 to 3600).
   * @default 60
   */
  readonly settingsCacheTtlSeconds?: number;
  /**
   * Size of one Dropbox upload-session chunk in MiB: a multiple of 4, at most 140 (Dropbox's 150 MB per request).
   * 140 sends a 1 GiB file in 10 upload calls (BENCHMARKS.md). A chunk is hashed before it is sent but never held in
   * memory: it waits in the function's ephemeral storage (`uploadPieceStore: 'spool'`) or is read from S3 again.
   * @default 140
   */
  readonly uploadChunkMiB?: number;
  /**
   * Upload-session chunks sent at once (1 to 16; 1 keeps every session sequential).
   * @default 4
   */
  readonly uploadChunksInFlight?: number;
  /**
   * Where a chunk waits between its hashing and its call: `spool`, a file in `/tmp` (the function gets ephemeral
   * storage for `uploadChunksInFlight + 1` chunks); `reread`, nowhere: the call reads the range from S3 again, which
   * costs more CPU (BENCHMARKS.md) but no storage.
   * @default 'spool'
   */
  readonly uploadPieceStore?: 'spool' | 'reread';
  /**
   * Days the function's logs are kept: one of CloudWatch Logs' retention values.
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * The age (seconds) of the oldest queued message that raises the alarm: 60 to 1209600 (the queue's 14-day
   * retention).
   * @default 900
   */
  readonly oldestMessageAgeAlarmSeconds?: number;
  /**
   * The EventBridge bus the function sends its receipts to (README "Receipts"): a bus name, or the ARN of a bus in
   * the stack's account and Region. The function may `events:PutEvents` on this bus only. `false` turns receipts off.
   * @default 'default' (the account's default event bus)
   */
  readonly receiptsEventBus?: string | false;
  /**
   * ARN of an IAM role, in the stack's account, that the ticket system uses to look up one object's export state:
   * it gets `dynamodb:GetItem` on the export ledger table and nothing else (README "Reading the export state").
   * @default - no role is granted
   */
  readonly ledgerReaderRoleArn?: string;
}

/** {@link SyncDeploymentProps} with every default applied, after validation. */
export interface SyncDeploymentSettings {
  readonly instanceName: string;
  readonly keyPrefix: string;
  readonly settingsPath: string;
  readonly existingBucketName: string | undefined;
  readonly existingBucketKmsKeyArn: string | undefined;
  readonly noncurrentVersionExpirationDays: number;
  readonly serverAccessLogs: boolean;
  readonly accessLogsExpirationDays: number;
  readonly alarmEmail: string | undefined;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly queueVisibilityTimeoutSeconds: number;
  readonly settingsCacheTtlSeconds: number;
  readonly uploadChunkMiB: number;
  readonly uploadChunksInFlight: number;
  readonly uploadPieceStore: 'spool' | 'reread';
  /** The function's ephemeral storage (`/tmp`), in MiB: room for the spooled chunks, else Lambda's 512. */
  readonly ephemeralStorageMiB: number;
  readonly logRetentionDays: number;
  readonly oldestMessageAgeAlarmSeconds: number;
  /** The receipts bus (a name or ARN), or `undefined` when receipts are off. */
  readonly receiptsEventBus: string | undefined;
  readonly ledgerReaderRoleArn: string | undefined;
}

/** Thrown at synth when props are wrong; `problems` holds one exact message per wrong prop or combination. */
export class InvalidDeploymentPropsError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'InvalidDeploymentPropsError';
    this.problems = problems;
  }
}

/** Defaults of the numeric and boolean props (the `@default` values above). */
export const DEPLOYMENT_DEFAULTS = {
  instanceName: 'default',
  keyPrefix: 'tickets/',
  noncurrentVersionExpirationDays: 30,
  serverAccessLogs: true,
  accessLogsExpirationDays: 90,
  memorySize: 1024,
  timeoutSeconds: 300,
  maxConcurrency: 4,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  settingsCacheTtlSeconds: 60,
  uploadChunkMiB: 140,
  uploadChunksInFlight: 4,
  uploadPieceStore: 'spool',
  logRetentionDays: 30,
  oldestMessageAgeAlarmSeconds: 900,
  receiptsEventBus: 'default',
} as const;

/**
 * Days the queue and its dead-letter queue keep a message: SQS's maximum, so that records wait out an account-wide
 * outage of up to two weeks while the circuit breaker holds the flow.
 */
export const QUEUE_RETENTION_DAYS = 14;
const QUEUE_RETENTION_SECONDS = QUEUE_RETENTION_DAYS * 24 * 60 * 60;

/**
 * Memory the function needs whatever the chunk size, in MB: Node, the bundle, the SDKs and a large upload's streams
 * peak under 200 MiB (BENCHMARKS.md), since chunks are never held in memory.
 */
export const RUNTIME_HEADROOM_MB = 256;
/** Lambda's ephemeral storage included in the price, and its maximum, in MiB. */
const EPHEMERAL_STORAGE_INCLUDED_MIB = 512;
const EPHEMERAL_STORAGE_MAX_MIB = 10_240;

/**
 * The ephemeral storage a deployment needs: with `spool`, room for the chunks hashed ahead and in flight
 * (`uploadChunksInFlight + 1` of them, lib/dropbox/pieces.ts) and 256 MiB besides, rounded up to 512 MiB; else the
 * included 512 MiB.
 */
export function ephemeralStorageFor(
  store: 'spool' | 'reread',
  chunkMiB: number,
  chunksInFlight: number,
): number {
  if (store !== 'spool') return EPHEMERAL_STORAGE_INCLUDED_MIB;
  const needed = (chunksInFlight + 1) * chunkMiB + 256;
  return Math.max(EPHEMERAL_STORAGE_INCLUDED_MIB, Math.ceil(needed / 512) * 512);
}

// The values CloudWatch Logs accepts for a log group's retention.
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
const BUCKET_ONLY_PROPS = [
  'noncurrentVersionExpirationDays',
  'serverAccessLogs',
  'accessLogsExpirationDays',
] as const;
// S3's naming rules for general purpose buckets, without the rarer reserved prefixes and suffixes.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// A key ARN, not an alias: IAM matches kms:Decrypt against the key's ARN, never an alias.
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// EventBridge's event bus names: 1 to 256 of letters, digits, '.', '-', '_' and '/' (CreateEventBus `Name`).
const EVENT_BUS_NAME = /^[A-Za-z0-9._/-]{1,256}$/;
const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._/-]{1,256}$/;
// An IAM role ARN, optionally with a path: arn:aws:iam::123456789012:role/path/name.
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const MAX_KEY_PREFIX_LENGTH = 1024;

function isWholeNumberIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Applies the defaults to `props` and checks every prop and combination.
 * @throws InvalidDeploymentPropsError listing every problem found
 */
export function resolveDeploymentSettings(props: SyncDeploymentProps = {}): SyncDeploymentSettings {
  const problems: string[] = [];
  const d = DEPLOYMENT_DEFAULTS;
  const instanceName = props.instanceName ?? d.instanceName;
  const keyPrefix = props.keyPrefix ?? d.keyPrefix;
  const timeoutSeconds = props.timeoutSeconds ?? d.timeoutSeconds;
  const memorySize = props.memorySize ?? d.memorySize;
  const batchSize = props.batchSize ?? d.batchSize;
  const maxBatchingWindowSeconds = props.maxBatchingWindowSeconds ?? d.maxBatchingWindowSeconds;
  const uploadChunkMiB = props.uploadChunkMiB ?? d.uploadChunkMiB;
  const uploadChunksInFlight = props.uploadChunksInFlight ?? d.uploadChunksInFlight;
  const serverAccessLogs = props.serverAccessLogs ?? d.serverAccessLogs;
  const queueVisibilityTimeoutSeconds = props.queueVisibilityTimeoutSeconds ?? 6 * timeoutSeconds;

  if (!isValidInstanceName(instanceName)) {
    problems.push(`instanceName must be ${INSTANCE_NAME_RULE}, got '${instanceName}'`);
  }

  if (keyPrefix === '') {
    problems.push(
      "keyPrefix must not be empty: the function reads only keys under its prefix (for example 'tickets/')",
    );
  } else {
    if (keyPrefix.startsWith('/')) {
      problems.push(`keyPrefix must not start with '/': S3 keys have no leading slash, got '${keyPrefix}'`);
    }
    if (!keyPrefix.endsWith('/')) {
      problems.push(`keyPrefix must end with '/', got '${keyPrefix}'`);
    }
    if (/[*?]/.test(keyPrefix)) {
      problems.push(`keyPrefix must not contain '*' or '?': IAM reads them as wildcards, got '${keyPrefix}'`);
    }
    if (keyPrefix.length > MAX_KEY_PREFIX_LENGTH) {
      problems.push(`keyPrefix must be at most ${MAX_KEY_PREFIX_LENGTH} characters, got ${keyPrefix.length}`);
    }
  }

  if (props.existingBucketName !== undefined) {
    if (!BUCKET_NAME.test(props.existingBucketName)) {
      problems.push(
        `existingBucketName must be an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens), got '${props.existingBucketName}'`,
      );
    }
    const bucketOnly = BUCKET_ONLY_PROPS.filter((name) => props[name] !== undefined);
    if (bucketOnly.length > 0) {
      problems.push(
        `${bucketOnly.join(', ')} configure a new bucket and cannot be combined with existingBucketName: remove them, or remove existingBucketName`,
      );
    }
  }
  if (props.existingBucketKmsKeyArn !== undefined) {
    if (props.existingBucketName === undefined) {
      problems.push(
        'existingBucketKmsKeyArn needs existingBucketName: a new bucket uses SSE-S3 and has no key to grant',
      );
    }
    if (!KMS_KEY_ARN.test(props.existingBucketKmsKeyArn)) {
      problems.push(
        `existingBucketKmsKeyArn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; an alias does not work in IAM policies), got '${props.existingBucketKmsKeyArn}'`,
      );
    }
  }

  const noncurrentDays = props.noncurrentVersionExpirationDays ?? d.noncurrentVersionExpirationDays;
  if (!isWholeNumberIn(noncurrentDays, 1, 3650)) {
    problems.push(
      `noncurrentVersionExpirationDays must be a whole number from 1 to 3650, got ${noncurrentDays}`,
    );
  }
  const accessLogsDays = props.accessLogsExpirationDays ?? d.accessLogsExpirationDays;
  if (!isWholeNumberIn(accessLogsDays, 1, 3650)) {
    problems.push(`accessLogsExpirationDays must be a whole number from 1 to 3650, got ${accessLogsDays}`);
  }
  if (props.accessLogsExpirationDays !== undefined && !serverAccessLogs) {
    problems.push('accessLogsExpirationDays needs serverAccessLogs: there are no access logs to expire');
  }

  if (props.alarmEmail !== undefined && !EMAIL.test(props.alarmEmail)) {
    problems.push(`alarmEmail must be an email address, got '${props.alarmEmail}'`);
  }

  const memoryValid = isWholeNumberIn(memorySize, 128, 10240);
  if (!memoryValid) {
    problems.push(`memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`);
  }
  if (!isWholeNumberIn(timeoutSeconds, 1, 900)) {
    problems.push(
      `timeoutSeconds must be a whole number from 1 to 900 (the Lambda maximum), got ${timeoutSeconds}`,
    );
  }
  const maxConcurrency = props.maxConcurrency ?? d.maxConcurrency;
  if (!isWholeNumberIn(maxConcurrency, 2, 1000)) {
    problems.push(
      `maxConcurrency must be a whole number from 2 (the AWS minimum for an SQS event source) to 1000, got ${maxConcurrency}`,
    );
  }
  if (!isWholeNumberIn(batchSize, 1, 10000)) {
    problems.push(`batchSize must be a whole number from 1 to 10000, got ${batchSize}`);
  }
  if (!isWholeNumberIn(maxBatchingWindowSeconds, 0, 300)) {
    problems.push(
      `maxBatchingWindowSeconds must be a whole number from 0 to 300, got ${maxBatchingWindowSeconds}`,
    );
  }
  if (batchSize > 10 && maxBatchingWindowSeconds < 1) {
    problems.push(
      `batchSize ${batchSize} needs maxBatchingWindowSeconds of at least 1: Lambda takes SQS batches larger than 10 only with a batching window`,
    );
  }
  if (!isWholeNumberIn(queueVisibilityTimeoutSeconds, 0, 43200)) {
    problems.push(
      `queueVisibilityTimeoutSeconds must be a whole number from 0 to 43200 (12 hours), got ${queueVisibilityTimeoutSeconds}`,
    );
  } else if (queueVisibilityTimeoutSeconds < 6 * timeoutSeconds) {
    problems.push(
      `queueVisibilityTimeoutSeconds (${queueVisibilityTimeoutSeconds}) must be at least 6 × timeoutSeconds (${6 * timeoutSeconds}): otherwise a batch still running can be handed to a second invocation`,
    );
  }

  const settingsCacheTtlSeconds = props.settingsCacheTtlSeconds ?? d.settingsCacheTtlSeconds;
  if (!isWholeNumberIn(settingsCacheTtlSeconds, 0, 3600)) {
    problems.push(
      `settingsCacheTtlSeconds must be a whole number from 0 to 3600, got ${settingsCacheTtlSeconds}`,
    );
  }
  // Dropbox takes concurrent upload-session chunks only in multiples of 4 MiB, and at most 150 MB a request.
  const chunkValid = isWholeNumberIn(uploadChunkMiB, 4, 140) && uploadChunkMiB % 4 === 0;
  if (!chunkValid) {
    problems.push(
      `uploadChunkMiB must be a multiple of 4 from 4 to 140 (Dropbox's chunk rules), got ${uploadChunkMiB}`,
    );
  }
  const inFlightValid = isWholeNumberIn(uploadChunksInFlight, 1, 16);
  if (!inFlightValid) {
    problems.push(`uploadChunksInFlight must be a whole number from 1 to 16, got ${uploadChunksInFlight}`);
  }
  if (memoryValid && memorySize < RUNTIME_HEADROOM_MB) {
    problems.push(
      `memorySize ${memorySize} is too small: the function peaks near 200 MiB with a large file; give it at least ${RUNTIME_HEADROOM_MB}`,
    );
  }
  const uploadPieceStore = props.uploadPieceStore ?? d.uploadPieceStore;
  if (uploadPieceStore !== 'spool' && uploadPieceStore !== 'reread') {
    problems.push(`uploadPieceStore must be 'spool' or 'reread', got '${String(uploadPieceStore)}'`);
  }
  const ephemeralStorageMiB = ephemeralStorageFor(uploadPieceStore, uploadChunkMiB, uploadChunksInFlight);
  if (chunkValid && inFlightValid && ephemeralStorageMiB > EPHEMERAL_STORAGE_MAX_MIB) {
    problems.push(
      `uploadChunkMiB × (uploadChunksInFlight + 1) = ${uploadChunkMiB * (uploadChunksInFlight + 1)} MiB of spooled chunks needs more than Lambda's ${EPHEMERAL_STORAGE_MAX_MIB} MiB of ephemeral storage`,
    );
  }

  const logRetentionDays = props.logRetentionDays ?? d.logRetentionDays;
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.push(
      `logRetentionDays must be one of CloudWatch Logs' values (${LOG_RETENTION_DAYS.join(', ')}), got ${logRetentionDays}`,
    );
  }
  const oldestMessageAgeAlarmSeconds = props.oldestMessageAgeAlarmSeconds ?? d.oldestMessageAgeAlarmSeconds;
  // A message older than the queue's retention is deleted: no queued message can be older than that.
  if (!isWholeNumberIn(oldestMessageAgeAlarmSeconds, 60, QUEUE_RETENTION_SECONDS)) {
    problems.push(
      `oldestMessageAgeAlarmSeconds must be a whole number from 60 to ${QUEUE_RETENTION_SECONDS} (the queue's ${QUEUE_RETENTION_DAYS}-day retention), got ${oldestMessageAgeAlarmSeconds}`,
    );
  }

  const receiptsEventBus =
    props.receiptsEventBus === false ? undefined : (props.receiptsEventBus ?? d.receiptsEventBus);
  if (
    receiptsEventBus !== undefined &&
    !EVENT_BUS_NAME.test(receiptsEventBus) &&
    !EVENT_BUS_ARN.test(receiptsEventBus)
  ) {
    problems.push(
      `receiptsEventBus must be an event bus name (letters, digits, '.', '-', '_', '/'), an event bus ARN, or false to turn receipts off, got '${receiptsEventBus}'`,
    );
  }
  if (props.ledgerReaderRoleArn !== undefined && !ROLE_ARN.test(props.ledgerReaderRoleArn)) {
    problems.push(
      `ledgerReaderRoleArn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got '${props.ledgerReaderRoleArn}'`,
    );
  }

  if (problems.length > 0) throw new InvalidDeploymentPropsError(problems);
  return {
    instanceName,
    keyPrefix,
    settingsPath: `/ticket-dropbox-sync/${instanceName}/`,
    existingBucketName: props.existingBucketName,
    existingBucketKmsKeyArn: props.existingBucketKmsKeyArn,
    noncurrentVersionExpirationDays: noncurrentDays,
    serverAccessLogs,
    accessLogsExpirationDays: accessLogsDays,
    alarmEmail: props.alarmEmail,
    memorySize,
    timeoutSeconds,
    maxConcurrency,
    batchSize,
    maxBatchingWindowSeconds,
    queueVisibilityTimeoutSeconds,
    settingsCacheTtlSeconds,
    uploadChunkMiB,
    uploadChunksInFlight,
    uploadPieceStore,
    ephemeralStorageMiB,
    logRetentionDays,
    oldestMessageAgeAlarmSeconds,
    receiptsEventBus,
    ledgerReaderRoleArn: props.ledgerReaderRoleArn,
  };
}
