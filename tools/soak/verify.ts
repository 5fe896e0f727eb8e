/**
 * The soak's verifier: lists S3, Dropbox, the export ledger and the dead-letter queue after the run, and proves what
 * issues 8, 11 and 12 ask, in the default settings (one folder, `{fileName}`, `rename`), where files of different
 * tickets meet under one name:
 *
 * - **lost 0**: every qualifying object's newest version is in Dropbox at the path its ledger item names, with the
 *   content hash of that version (computed here from the generator, never taken from the product), and that path is
 *   the one the rules ask for or Dropbox's renamed form of it (`Proof (1).pdf`);
 * - **duplicates 0**: no file that no ledger item names holds an object's bytes: the same bytes at `X` and `X (n)`,
 *   or an object's older version beside its newest;
 * - **owned by another object 0**: no file sits at a path whose ledger item names an object whose bytes it never held
 *   (objects of identical bytes share one file: Dropbox writes the second one nowhere);
 * - an unrelated tag caused no upload; every skipped object has its reason in an outcome and in its ledger item;
 * - the DLQ holds exactly the poison messages.
 *
 * The ledger is read item by item with `GetItem` and its documented attribute names (docs/architecture.md, "The
 * export ledger"), not through the product's reader.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DropboxClient } from '../../lib/dropbox/client.ts';
import type { DropboxFile } from '../../lib/ports.ts';
import { parseS3Message } from '../../lib/s3-event.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import { generatedContentHash } from './content.ts';
import { BASE_FOLDER, expectationOf, isTargetOrRenamed, type SoakObject } from './population.ts';

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
  /** The export ledger's table. */
  readonly ledger: { readonly client: DynamoDBDocumentClient; readonly tableName: string };
  /** Content hashes computed already, by `size:seed` (the 5 GiB object's, hashed during the run). */
  readonly knownHashes?: ReadonlyMap<string, string>;
  /** Files put in Dropbox before the run by something else (the path clash's folder): they must stay as they are. */
  readonly foreignFiles?: readonly { readonly path: string; readonly contentHash: string }[];
}

/** The verifier's findings. */
export interface Verdict {
  readonly objects: number;
  /** Qualifying objects found at their ledger path with their newest version's hash. */
  readonly exported: number;
  /** Of those, at a renamed path (`Proof (1).pdf`): another ticket's file held the name. */
  readonly renamed: number;
  /** Of those, sharing one file with another object of identical bytes (Dropbox wrote the second nowhere). */
  readonly sharedIdentical: number;
  /** Objects that end skipped, by the reason they must have been logged with. */
  readonly skippedByReason: Readonly<Record<string, number>>;
  /** Deleted objects: how many had been exported before their delete (S3 deletes are not propagated). */
  readonly deleted: { readonly total: number; readonly exportedBeforeDelete: number };
  /** Poison objects, and the distinct messages about them in the DLQ. */
  readonly poison: { readonly expected: number; readonly inDeadLetterQueue: number };
  /** Unrelated tags applied, and the uploads they caused (must be 0). */
  readonly unrelatedTags: { readonly applied: number; readonly uploadsCaused: number };
  /** Files in Dropbox under the base folder, and ledger items read. */
  readonly dropboxFiles: number;
  readonly ledgerItems: number;
  /** Qualifying objects whose newest version is not at the path their ledger item names. */
  readonly lost: number;
  /** Files no ledger item names that hold an object's bytes (a copy, or an older version beside the newest). */
  readonly duplicates: number;
  /** Files at a path whose ledger item names an object whose bytes they never held. */
  readonly ownedByAnother: number;
  /** Files that hold no object's bytes at all. */
  readonly unexpected: number;
  /** Where each exported object's file is (key → Dropbox path), as found. */
  readonly exportedPaths: ReadonlyMap<string, string>;
  /** Every failed check, in words. */
  readonly problems: readonly string[];
}

/** The ledger attributes the verifier reads (docs/architecture.md, "The export ledger"). */
interface LedgerItemView {
  readonly state?: string;
  readonly reasonCode?: string;
  readonly eTag?: string;
  readonly exportedETag?: string;
  readonly dropboxId?: string;
  readonly dropboxPath?: string;
  readonly adopted: boolean;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function readLedgerItem(
  ledger: VerifyInput['ledger'],
  id: string,
): Promise<LedgerItemView | undefined> {
  const { Item } = await ledger.client.send(
    new GetCommand({ TableName: ledger.tableName, Key: { id }, ConsistentRead: true }),
  );
  if (Item === undefined) return undefined;
  const reason = Item.reason as Record<string, unknown> | undefined;
  return {
    state: text(Item.state),
    reasonCode: text(reason?.code),
    eTag: text(Item.eTag),
    exportedETag: text(Item.exportedETag),
    dropboxId: text(Item.dropboxId),
    dropboxPath: text(Item.dropboxPath),
    adopted: Item.adopted === true,
  };
}

async function listS3(s3: S3Client, bucket: string): Promise<Map<string, { size: number; eTag: string }>> {
  const keys = new Map<string, { size: number; eTag: string }>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tickets/', ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) {
      if (item.Key !== undefined) {
        keys.set(item.Key, { size: item.Size ?? 0, eTag: (item.ETag ?? '').replace(/^"|"$/g, '') });
      }
    }
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

  // Every version's content hash, and which objects ever held each hash (identical bytes: several).
  const versionHashes = new Map<string, string[]>();
  const holders = new Map<string, Set<string>>();
  for (const object of objects) {
    const hashes = object.versions.map((version) => hashOf(version.size, version.seed));
    versionHashes.set(object.key, hashes);
    for (const hash of hashes) holders.set(hash, (holders.get(hash) ?? new Set()).add(object.key));
  }
  const newestHash = (object: SoakObject): string => versionHashes.get(object.key)?.at(-1) ?? '';

  // S3: the model of the run matches what the bucket holds.
  const inS3 = await listS3(input.s3, input.bucket);
  for (const object of objects) {
    const newest = object.versions.at(-1);
    const listed = inS3.get(object.key);
    if (object.deleted && listed !== undefined) problems.push(`${object.key}: deleted, yet still in S3`);
    if (!object.deleted && listed?.size !== newest?.size) {
      problems.push(
        `${object.key}: S3 holds ${listed?.size ?? 'nothing'}, the run wrote ${newest?.size} bytes last`,
      );
    }
  }

  // The ledger, one item per object.
  const ledger = new Map<string, LedgerItemView>();
  for (const object of objects) {
    const item = await readLedgerItem(input.ledger, `s3://${input.bucket}/${object.key}`);
    if (item !== undefined) ledger.set(object.key, item);
  }
  // Which objects' ledger items name each Dropbox file.
  const namedBy = new Map<string, string[]>();
  for (const [key, item] of ledger) {
    if (item.dropboxId === undefined) continue;
    namedBy.set(item.dropboxId, [...(namedBy.get(item.dropboxId) ?? []), key]);
  }

  const files = await input.dropbox.listFolder(BASE_FOLDER, { recursive: true });
  const byId = new Map<string, DropboxFile>(files.map((file) => [file.id, file]));
  const outcomesByKey = new Map<string, RecordedOutcome[]>();
  for (const recorded of outcomes) {
    const list = outcomesByKey.get(recorded.outcome.key) ?? [];
    list.push(recorded);
    outcomesByKey.set(recorded.outcome.key, list);
  }

  const skippedByReason: Record<string, number> = {};
  let exported = 0;
  let renamed = 0;
  let sharedIdentical = 0;
  let lost = 0;
  let exportedBeforeDelete = 0;
  const exportedPaths = new Map<string, string>();
  for (const object of objects) {
    const expectation = expectationOf(object);
    const item = ledger.get(object.key);
    const file = item?.dropboxId === undefined ? undefined : byId.get(item.dropboxId);
    if (object.kind === 'poison') {
      if (item?.state === 'exported') problems.push(`${object.key}: a poison object is exported`);
      continue;
    }
    if (object.deleted) {
      // Deletes are not propagated: a file exported before the delete stays, with one of the object's versions.
      if (file !== undefined) {
        if (versionHashes.get(object.key)?.includes(file.contentHash) === true) exportedBeforeDelete += 1;
      }
      continue;
    }
    if (expectation.export) {
      const where = `${object.key}: ledger ${item?.state ?? 'has no item'}${item?.reasonCode === undefined ? '' : ` (${item.reasonCode})`}`;
      if (item?.state !== 'exported' || item.dropboxPath === undefined) {
        lost += 1;
        problems.push(`LOST ${where}, no export recorded`);
      } else if (file === undefined) {
        lost += 1;
        problems.push(`LOST ${where}: its file ${item.dropboxPath} (${item.dropboxId}) is not in Dropbox`);
      } else if (file.pathLower !== item.dropboxPath.toLowerCase()) {
        lost += 1;
        problems.push(
          `LOST ${where}: the ledger names ${item.dropboxPath}, its file is at ${file.pathDisplay}`,
        );
      } else if (file.contentHash !== newestHash(object)) {
        lost += 1;
        const other = [...(holders.get(file.contentHash) ?? [])];
        problems.push(
          `LOST ${where}: ${file.pathDisplay} holds ${other.length === 0 ? 'bytes of no object' : `bytes of ${other.join(', ')}`}, not its newest version`,
        );
      } else {
        exported += 1;
        exportedPaths.set(object.key, file.pathDisplay);
        if (!isTargetOrRenamed(file.pathDisplay, expectation.path)) {
          problems.push(
            `${object.key}: exported to ${file.pathDisplay}, the rules ask for ${expectation.path}`,
          );
        } else if (file.pathLower !== expectation.path.toLowerCase()) {
          renamed += 1;
        }
        if ((namedBy.get(file.id)?.length ?? 0) > 1) sharedIdentical += 1;
        const listed = inS3.get(object.key);
        if (listed !== undefined && item.exportedETag !== listed.eTag) {
          problems.push(
            `${object.key}: the ledger records ETag ${item.exportedETag} exported, S3's newest is ${listed.eTag}`,
          );
        }
      }
    } else {
      skippedByReason[expectation.reason] = (skippedByReason[expectation.reason] ?? 0) + 1;
      const logged = (outcomesByKey.get(object.key) ?? []).some(
        ({ outcome }) => outcome.decision === 'skipped' && outcome.reason.code === expectation.reason,
      );
      if (!logged)
        problems.push(`${object.key}: skipped, but no outcome logged reason ${expectation.reason}`);
      if (item?.state !== 'skipped' || item.reasonCode !== expectation.reason) {
        problems.push(
          `${object.key}: skipped, but its ledger item says ${item?.state ?? 'nothing'} (${item?.reasonCode ?? '-'}), not skipped (${expectation.reason})`,
        );
      }
    }
  }

  // Every file: named by the ledger item of an object whose bytes it holds, or else a duplicate or unexpected.
  let duplicates = 0;
  let ownedByAnother = 0;
  let unexpected = 0;
  const foreign = new Map((input.foreignFiles ?? []).map((file) => [file.path.toLowerCase(), file]));
  for (const expected of foreign.values()) {
    const found = files.find((file) => file.pathLower === expected.path.toLowerCase());
    if (found?.contentHash !== expected.contentHash) {
      problems.push(
        `${expected.path}: a file that was there before the run is ${found === undefined ? 'gone' : 'changed'}`,
      );
    }
  }
  for (const file of files) {
    if (foreign.has(file.pathLower)) continue;
    const named = namedBy.get(file.id) ?? [];
    const owners = holders.get(file.contentHash) ?? new Set<string>();
    if (named.length > 0) {
      // Objects of identical bytes share one file; an object whose bytes the file never held does not.
      const strangers = named.filter((key) => !owners.has(key));
      if (strangers.length > 0) {
        ownedByAnother += 1;
        problems.push(
          `OWNED BY ANOTHER ${file.pathDisplay}: the ledger item of ${strangers.join(', ')} names it, it holds ${owners.size === 0 ? 'bytes of no object' : `bytes of ${[...owners].join(', ')}`}`,
        );
      }
      continue;
    }
    if (owners.size === 0) {
      unexpected += 1;
      problems.push(`UNEXPECTED ${file.pathDisplay}: no ledger item names it and it holds no object's bytes`);
      continue;
    }
    duplicates += 1;
    const older = [...owners].filter((key) => versionHashes.get(key)?.at(-1) !== file.contentHash);
    problems.push(
      older.length > 0
        ? `DUPLICATE ${file.pathDisplay}: an older version of ${older.join(', ')}, beside its newest`
        : `DUPLICATE ${file.pathDisplay}: a copy of ${[...owners].join(', ')}, which the ledger places elsewhere`,
    );
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
    renamed,
    sharedIdentical,
    skippedByReason,
    deleted: { total: objects.filter((object) => object.deleted).length, exportedBeforeDelete },
    poison: { expected: poisonKeys.size, inDeadLetterQueue: deadIds.size },
    unrelatedTags: { applied, uploadsCaused },
    dropboxFiles: files.length,
    ledgerItems: ledger.size,
    lost,
    duplicates,
    ownedByAnother,
    unexpected,
    exportedPaths,
    problems,
  };
}
