/**
 * Builds SQS message bodies shaped exactly like the S3 event notifications AWS sends (the documented structure:
 * `Records[]` with `eventVersion`, `eventSource: aws:s3`, the bucket and the URL-encoded object key). Used by the
 * local stack (whose S3 server emits no usable notifications) and by the CLI's backfill; the function only reads
 * notifications, through `s3-event.ts`. No I/O: the request ids are derived from the record's content.
 */
import { createHash } from 'node:crypto';

/** One event to describe. */
export interface NotificationInput {
  /** `ObjectCreated:Put`, `ObjectCreated:Copy`, `ObjectCreated:CompleteMultipartUpload`, `ObjectTagging:Put`, … */
  readonly eventName: string;
  readonly bucket: string;
  /** The raw object key; {@link encodeS3Key} encodes it as S3 does. */
  readonly key: string;
  readonly size?: number | undefined;
  /** With or without surrounding quotes; S3 sends it without. */
  readonly eTag?: string | undefined;
  readonly versionId?: string | undefined;
  /** Hex string that orders events on one key (S3 sends it with writes and deletes). */
  readonly sequencer?: string | undefined;
  /** @default now */
  readonly eventTime?: Date | undefined;
  /** @default 'us-east-1' */
  readonly region?: string | undefined;
  /** The request's source IP address (`requestParameters.sourceIPAddress`). @default '127.0.0.1' */
  readonly source?: string | undefined;
}

/** The `configurationId` of the records: the name of the bucket's notification configuration. */
export const NOTIFICATION_CONFIGURATION_ID = 'ticket-dropbox-sync';
const PRINCIPAL_ID = 'AWS:LOCAL';

/**
 * S3 used eventVersion 2.1 for object writes, 2.2 for replication events and 2.3 for S3 Lifecycle,
 * Intelligent-Tiering, object ACL, object tagging and restore-delete events (its documented versions).
 */
function eventVersionOf(eventName: string): string {
  if (eventName.startsWith('Replication:')) return '2.2';
  if (
    /^(ObjectTagging|ObjectAcl|LifecycleExpiration|LifecycleTransition|IntelligentTiering|ObjectRestore:Delete)/.test(
      eventName,
    )
  ) {
    return '2.3';
  }
  return '2.1';
}

/** Characters S3 leaves as they are in a notification's key: the form-encoding safe set, and `/`. */
const UNENCODED = /^[A-Za-z0-9._*\-/]$/;

/**
 * Encodes a key as S3 notifications carry it: form URL encoding (UTF-8 bytes as upper-case `%XX`, a space as `+`,
 * so `+` itself becomes `%2B`), with `/` left as it is.
 */
export function encodeS3Key(key: string): string {
  let encoded = '';
  for (const character of key) {
    if (character === ' ') encoded += '+';
    else if (UNENCODED.test(character)) encoded += character;
    else {
      for (const byte of Buffer.from(character, 'utf8')) {
        encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
    }
  }
  return encoded;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function buildRecord(input: NotificationInput): Record<string, unknown> {
  const eventName = input.eventName.replace(/^s3:/, '');
  const eventTime = (input.eventTime ?? new Date()).toISOString();
  const key = encodeS3Key(input.key);
  const eTag = input.eTag?.replace(/^"|"$/g, '');
  const fingerprint = digest(
    JSON.stringify([eventName, eventTime, input.bucket, key, eTag, input.versionId, input.sequencer]),
  );
  return {
    eventVersion: eventVersionOf(eventName),
    eventSource: 'aws:s3',
    awsRegion: input.region ?? 'us-east-1',
    eventTime,
    eventName,
    userIdentity: { principalId: PRINCIPAL_ID },
    requestParameters: { sourceIPAddress: input.source ?? '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': fingerprint.subarray(0, 8).toString('hex').toUpperCase(),
      'x-amz-id-2': fingerprint.toString('base64'),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: NOTIFICATION_CONFIGURATION_ID,
      bucket: {
        name: input.bucket,
        ownerIdentity: { principalId: PRINCIPAL_ID },
        arn: `arn:aws:s3:::${input.bucket}`,
      },
      object: {
        key,
        ...(input.size === undefined ? {} : { size: input.size }),
        ...(eTag === undefined ? {} : { eTag }),
        ...(input.versionId === undefined ? {} : { versionId: input.versionId }),
        ...(input.sequencer === undefined ? {} : { sequencer: input.sequencer }),
      },
    },
  };
}

/** The SQS message body S3 sends for `records`: `{"Records":[…]}` as one JSON string. */
export function buildS3Notification(records: readonly NotificationInput[]): string {
  return JSON.stringify({ Records: records.map(buildRecord) });
}
