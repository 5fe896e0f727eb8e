/**
 * The soak's verifier: lists S3, Dropbox and the dead-letter queue after the run and proves what issue 8 asks:
 * every qualifying object is in Dropbox at its expected path with the content hash of its newest version; nothing
 * else is there (no autorenamed copies); an unrelated tag caused no upload; every skipped object has a logged reason;
 * the DLQ holds exactly the poison messages.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DropboxClient } from '../../lib/dropbox/client.ts';
import type { DropboxFile } from '../../lib/ports.ts';
import { parseS3Message } from '../../lib/s3-event.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import { generatedContentHash } from './content.ts';
import { expectationOf, type SoakObject } from './population.ts';

/** An outcome the function reported (right after logging it), with when. */
export interface RecordedOutcome {
  readonly at: number;
  readonly messageId: string;
  readonly outcome: SyncOutcome;
}

/** What the verifier reads. */
export interface VerifyInput {
  readonly objects: readonly SoakObject[];
  readonly outcomes: readonly RecordedOutcome[];
  readonly s3: S3Client;
  readonly bucket: string;
  readonly dropbox: DropboxClient;
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Content hashes computed already, by `size:seed` (the 5 GiB object's, hashed during the run). */
  readonly knownHashes?: ReadonlyMap<string, string>;
}

/** The verifier's findings. */
export interface Verdict {
  readonly objects: number;
  /** Qualifying objects found at their path with their newest version's hash. */
  readonly exported: number;
  /** Objects that end skipped, by the reason they must have been logged with. */
  readonly skippedByReason: Readonly<Record<string, number>>;
  /** Deleted objects: how many had been exported before their delete (S3 deletes are not propagated). */
  readonly deleted: { readonly total: number; readonly exportedBeforeDelete: number };
  /** Poison objects, and the distinct messages about them in the DLQ. */
  readonly poison: { readonly expected: number; readonly inDeadLetterQueue: number };
  /** Unrelated tags applied, and the uploads they caused (must be 0). */
  readonly unrelatedTags: { readonly applied: number; readonly uploadsCaused: number };
  /** Qualifying objects missing from Dropbox or holding another version's content. */
  readonly lost: number;
  /** Files beside an object's own export (`name (1).ext`). */
  readonly duplicates: number;
  /** Every failed check, in words. */
  readonly problems: readonly string[];
}

const AUTORENAMED = / \(\d+\)(\.[^./]*)?$/;

async function listS3(s3: S3Client, bucket: string): Promise<Map<string, number>> {
  const keys = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tickets/', ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key !== undefined) keys.set(item.Key, item.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** Reads every message of the DLQ (hidden for 10 minutes, then deleted: the soak's stack is thrown away). */
async function drainDeadLetterQueue(
  sqs: SQSClient,
  url: string,
): Promise<{ messageId: string; keys: string[] }[]> {
  const found: { messageId: string; keys: string[] }[] = [];
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 600,
        WaitTimeSeconds: 0,
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return found;
    for (const message of messages) {
      const parsed = parseS3Message(message.MessageId ?? '', message.Body ?? '');
      found.push({
        messageId: message.MessageId ?? '',
        keys: parsed.kind === 'records' ? parsed.records.map((record) => record.key) : [],
      });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.map((message, index) => ({
          Id: `m${index}`,
          ReceiptHandle: message.ReceiptHandle ?? '',
        })),
      }),
    );
  }
}

/** Runs every check. */
export async function verifySoak(input: VerifyInput): Promise<Verdict> {
  const problems: string[] = [];
  const { objects, outcomes } = input;
  const hashOf = (size: number, seed: number): string =>
    input.knownHashes?.get(`${size}:${seed}`) ?? generatedContentHash(size, seed);

  // S3: the model of the run matches what the bucket holds.
  const inS3 = await listS3(input.s3, input.bucket);
  for (const object of objects) {
    const newest = object.versions.at(-1);
    const size = inS3.get(object.key);
    if (object.deleted && size !== undefined) problems.push(`${object.key}: deleted, yet still in S3`);
    if (!object.deleted && size !== newest?.size) {
      problems.push(`${object.key}: S3 holds ${size ?? 'nothing'}, the run wrote ${newest?.size} bytes last`);
    }
  }

  // Dropbox: every file is claimed by exactly one object.
  const files = await input.dropbox.listFolder('/Soak', { recursive: true });
  const byPath = new Map<string, DropboxFile>(files.map((file) => [file.pathLower, file]));
  const claimed = new Set<string>();
  const skippedByReason: Record<string, number> = {};
  let exported = 0;
  let lost = 0;
  let exportedBeforeDelete = 0;
  const outcomesByKey = new Map<string, RecordedOutcome[]>();
  for (const recorded of outcomes) {
    const list = outcomesByKey.get(recorded.outcome.key) ?? [];
    list.push(recorded);
    outcomesByKey.set(recorded.outcome.key, list);
  }

  for (const object of objects) {
    const expectation = expectationOf(object);
    const seen = outcomesByKey.get(object.key) ?? [];
    if (object.kind === 'poison') {
      if (expectation.export && byPath.has(expectation.path.toLowerCase())) {
        problems.push(`${object.key}: a poison object reached Dropbox`);
      }
      continue;
    }
    if (object.deleted) {
      if (expectation.export) {
        const file = byPath.get(expectation.path.toLowerCase());
        if (file !== undefined) {
          claimed.add(file.pathLower);
          const hashes = object.versions.map((version) => hashOf(version.size, version.seed));
          if (hashes.includes(file.contentHash)) exportedBeforeDelete += 1;
          else
            problems.push(`${object.key}: deleted; Dropbox holds content that was never one of its versions`);
        }
      }
      continue;
    }
    if (expectation.export) {
      const file = byPath.get(expectation.path.toLowerCase());
      const newest = object.versions.at(-1);
      const hash = newest === undefined ? '' : hashOf(newest.size, newest.seed);
      if (file === undefined) {
        lost += 1;
        problems.push(`LOST ${object.key}: nothing at ${expectation.path}`);
      } else {
        claimed.add(file.pathLower);
        if (file.contentHash === hash) exported += 1;
        else {
          lost += 1;
          problems.push(
            `LOST ${object.key}: ${expectation.path} holds ${file.size} bytes, not its newest version`,
          );
        }
      }
    } else {
      skippedByReason[expectation.reason] = (skippedByReason[expectation.reason] ?? 0) + 1;
      const logged = seen.some(
        ({ outcome }) => outcome.decision === 'skipped' && outcome.reason.code === expectation.reason,
      );
      if (!logged)
        problems.push(`${object.key}: skipped, but no outcome logged reason ${expectation.reason}`);
    }
  }

  let duplicates = 0;
  for (const file of files) {
    if (claimed.has(file.pathLower)) continue;
    if (AUTORENAMED.test(file.pathDisplay)) {
      duplicates += 1;
      problems.push(`DUPLICATE ${file.pathDisplay}: an autorenamed copy`);
    } else {
      duplicates += 1;
      problems.push(`UNEXPECTED ${file.pathDisplay}: no object of the run goes there`);
    }
  }

  // Unrelated tags: their ObjectTagging:Put events were processed and uploaded nothing.
  let applied = 0;
  let uploadsCaused = 0;
  for (const object of objects) {
    if (object.unrelatedTagAt === undefined) continue;
    applied += 1;
    const tagOutcomes = (outcomesByKey.get(object.key) ?? []).filter(
      ({ at, outcome }) => at >= (object.unrelatedTagAt ?? 0) && outcome.eventName === 'ObjectTagging:Put',
    );
    const uploads = tagOutcomes.filter(({ outcome }) => outcome.decision === 'exported').length;
    uploadsCaused += uploads;
    if (uploads > 0) problems.push(`${object.key}: an unrelated tag caused ${uploads} upload(s)`);
    if (tagOutcomes.length === 0)
      problems.push(`${object.key}: the unrelated tag's event was never processed`);
  }

  // The DLQ: exactly the poison messages.
  const poisonKeys = new Set(
    objects.filter((object) => object.kind === 'poison').map((object) => object.key),
  );
  const dead = await drainDeadLetterQueue(input.sqs, input.deadLetterQueueUrl);
  const deadIds = new Set(dead.map((message) => message.messageId));
  const deadKeys = new Set(dead.flatMap((message) => message.keys));
  for (const key of deadKeys)
    if (!poisonKeys.has(key)) problems.push(`DLQ holds ${key}, which is not poison`);
  for (const key of poisonKeys) if (!deadKeys.has(key)) problems.push(`DLQ lacks the poison object ${key}`);
  if (deadIds.size !== poisonKeys.size) {
    problems.push(
      `DLQ holds ${deadIds.size} distinct messages, the run put in ${poisonKeys.size} poison ones`,
    );
  }

  return {
    objects: objects.length,
    exported,
    skippedByReason,
    deleted: { total: objects.filter((object) => object.deleted).length, exportedBeforeDelete },
    poison: { expected: poisonKeys.size, inDeadLetterQueue: deadIds.size },
    unrelatedTags: { applied, uploadsCaused },
    lost,
    duplicates,
    problems,
  };
}
