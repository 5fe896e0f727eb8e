/**
 * SQS message bodies carrying S3 event notifications (AWS's documented structure, eventVersion 2.x) turned into
 * the object events the sync acts on. The one place S3 keys are URL-decoded.
 */
// zod's tree-shakable API: the classic one pulls every locale into the function's bundle (lib/settings.ts).
import * as z from 'zod/mini';
import { SyncError } from './errors.ts';
import type { Reason } from './rules.ts';

/** One S3 object event, with only the fields the sync uses. */
export interface S3ObjectEvent {
  /** Without the `s3:` prefix some emitters add: `ObjectCreated:Put`, `ObjectTagging:Put`. */
  readonly eventName: string;
  readonly eventTime: string;
  readonly bucket: string;
  /** URL-decoded exactly once (`+` is a space, `%2B` a plus). */
  readonly key: string;
  readonly size?: number | undefined;
  /** Without surrounding quotes. */
  readonly eTag?: string | undefined;
  readonly versionId?: string | undefined;
  readonly sequencer?: string | undefined;
}

/** What one SQS message holds. */
export type ParsedMessage =
  | {
      readonly kind: 'records';
      readonly records: readonly S3ObjectEvent[];
      readonly ignored: readonly {
        readonly eventName: string;
        readonly key: string;
        readonly reason: Reason;
      }[];
    }
  | { readonly kind: 'skip'; readonly reason: Reason };

/** A body that cannot be read as JSON, or an S3 record missing a field the sync needs. Never retried. */
export class MalformedEventError extends SyncError {
  readonly messageId: string;

  constructor(messageId: string, detail: string, options?: { readonly cause?: unknown }) {
    super(`SQS message ${messageId} is not a valid S3 event notification: ${detail}`, {
      kind: 'permanent',
      code: 'malformed-event',
      cause: options?.cause,
    });
    this.name = 'MalformedEventError';
    this.messageId = messageId;
  }
}

/** Decodes an S3 key as notifications carry it: form-URL-encoded, so `+` is a space and `%2B` a plus. */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replaceAll('+', ' '));
}

const optionalText = z.nullish(z.string());
const nonEmpty = () => z.string().check(z.minLength(1));

const recordSchema = z.object({
  eventName: nonEmpty(),
  eventTime: z.string(),
  s3: z.object({
    bucket: z.object({ name: nonEmpty() }),
    object: z.object({
      key: z.string(),
      // The documentation's example shows the size as a string placeholder; real notifications send a number.
      size: z.nullish(z.union([z.number(), z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number))])),
      eTag: optionalText,
      // `null` in the documentation's example when the bucket is not versioned.
      versionId: optionalText,
      sequencer: optionalText,
    }),
  }),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isS3Record(value: unknown): boolean {
  if (!isObject(value)) return false;
  // Emitters that leave out eventSource still send the `s3` section.
  return value.eventSource === undefined ? isObject(value.s3) : value.eventSource === 'aws:s3';
}

function isKeptEvent(eventName: string): boolean {
  return eventName.startsWith('ObjectCreated:') || eventName === 'ObjectTagging:Put';
}

/** What was wrong with a field, in words (zod/mini carries no locale, so its own messages are generic). */
function explainIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid';
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `missing (expected ${issue.expected})`
        : `expected ${issue.expected}`;
    case 'too_small':
      return 'must not be empty';
    case 'invalid_format':
      return 'not in the expected format';
    case 'invalid_union':
      return 'expected a number or a string of digits';
    default:
      return issue.message;
  }
}

function describeIssue(index: number, error: z.core.$ZodError): string {
  const issue = error.issues[0];
  const path = ['Records', index, ...(issue?.path ?? [])]
    .map((part, position) =>
      typeof part === 'number' ? `[${part}]` : `${position === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
  return `${path}: ${explainIssue(issue)}`;
}

function stripQuotes(eTag: string): string {
  return eTag.replace(/^"(.*)"$/, '$1');
}

function skip(code: string, message: string): ParsedMessage {
  return { kind: 'skip', reason: { code, message } };
}

/**
 * Reads one SQS message body. `ObjectCreated:*` and `ObjectTagging:Put` records are kept; other event names go to
 * `ignored` (`unsupported-event`); `s3:TestEvent`, a notification without records and JSON that is not an S3
 * notification are skipped.
 * @throws MalformedEventError (naming the message id) when the body is not JSON or a record lacks a field.
 */
export function parseS3Message(messageId: string, body: string): ParsedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new MalformedEventError(messageId, 'the body is not JSON.', { cause: error });
    throw error;
  }
  if (isObject(parsed) && parsed.Event === 's3:TestEvent') {
    return skip(
      'test-event',
      'An s3:TestEvent, sent when the bucket notification is configured: nothing to sync.',
    );
  }
  if (!isObject(parsed) || !Array.isArray(parsed.Records) || !parsed.Records.every(isS3Record)) {
    return skip(
      'not-s3-notification',
      'The message is JSON but not an S3 event notification: nothing to sync.',
    );
  }
  if (parsed.Records.length === 0) {
    // Nothing to log per object, but the message still gets its outcome (and its line in the logs).
    return skip('no-event-records', 'The S3 notification holds no event record: nothing to sync.');
  }

  const records: S3ObjectEvent[] = [];
  const ignored: { eventName: string; key: string; reason: Reason }[] = [];
  parsed.Records.forEach((raw: unknown, index: number) => {
    const result = recordSchema.safeParse(raw);
    if (!result.success) throw new MalformedEventError(messageId, describeIssue(index, result.error));
    const { eventName: rawName, eventTime, s3 } = result.data;
    let key: string;
    try {
      key = decodeS3Key(s3.object.key);
    } catch (error) {
      if (error instanceof URIError) {
        throw new MalformedEventError(messageId, `Records[${index}].s3.object.key is not URL-encoded.`, {
          cause: error,
        });
      }
      throw error;
    }
    const eventName = rawName.replace(/^s3:/, '');
    const eTag = s3.object.eTag ?? undefined;
    if (!isKeptEvent(eventName)) {
      ignored.push({
        eventName,
        key,
        reason: {
          code: 'unsupported-event',
          message: `The event ${eventName} is not synced: only ObjectCreated:* and ObjectTagging:Put are (deletes are never propagated).`,
        },
      });
      return;
    }
    records.push({
      eventName,
      eventTime,
      bucket: s3.bucket.name,
      key,
      size: s3.object.size ?? undefined,
      eTag: eTag === undefined ? undefined : stripQuotes(eTag),
      versionId: s3.object.versionId ?? undefined,
      sequencer: s3.object.sequencer ?? undefined,
    });
  });
  return { kind: 'records', records, ignored };
}
