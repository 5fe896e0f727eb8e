/**
 * The {@link ExportLedger} port on Amazon DynamoDB (or any DynamoDB-compatible endpoint, such as the local stack's
 * dynalite): one item per object, partition key `id`. Reads are strongly consistent; every write is conditional, so
 * an instance that lost its claim, or an older event, never overwrites a newer record.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { errorMessage, isAbortError, SyncError } from '../errors.ts';
import {
  type FileOwnership,
  fileOwnershipId,
  fromLedgerItem,
  LEDGER_ATTRIBUTES,
  type LedgerRecord,
  toLedgerItem,
} from '../ledger.ts';
import type { ClaimResult, ExportLedger } from '../ports.ts';

/** Options of {@link createDynamoDbLedger}. */
export interface DynamoDbLedgerOptions {
  readonly client: DynamoDBDocumentClient;
  /** The ledger table (`LEDGER_TABLE`). */
  readonly tableName: string;
  /** Limit of one ledger call, the SDK's retries included. @default 10000 */
  readonly callTimeoutMs?: number;
}

/** Tries of a claim whose condition failed on a claim that was gone when read back. */
const CLAIM_ATTEMPTS = 3;

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  );
}

/** Translates a DynamoDB failure into the sync's classification (never a condition failure: callers handle those). */
function translate(error: unknown, operation: string, id: string): unknown {
  if (error instanceof SyncError || isAbortError(error)) return error;
  const name = error instanceof Error ? error.name : 'Error';
  // A missing table or a denied call fails every record the same way: account-wide, not worth 5 receives each.
  if (name === 'ResourceNotFoundException' || name === 'AccessDeniedException') {
    return new SyncError(
      `the export ledger refused ${operation} for ${id} (${name}): ${errorMessage(error)}`,
      {
        kind: 'account',
        code: 'ledger-unavailable',
        cause: error,
      },
    );
  }
  return new SyncError(`the export ledger's ${operation} for ${id} failed (${name})`, {
    kind: 'transient',
    code: 'ledger-error',
    cause: error,
  });
}

/** Reads a Dropbox file's ownership item (`sharedBy` is a string set, which the document client reads as a `Set`). */
function toOwnership(item: Record<string, unknown>): FileOwnership {
  const { owner, sharedBy } = item;
  return {
    owner: typeof owner === 'string' ? owner : undefined,
    sharedBy:
      sharedBy instanceof Set ? [...sharedBy].filter((id): id is string => typeof id === 'string') : [],
  };
}

/** Builds the DynamoDB {@link ExportLedger}. */
export function createDynamoDbLedger(options: DynamoDbLedgerOptions): ExportLedger {
  const { client, tableName } = options;
  const requireTable = (): void => {
    if (tableName === '') {
      throw new SyncError('the export ledger is not configured: LEDGER_TABLE is not set', {
        kind: 'account',
        code: 'ledger-not-configured',
      });
    }
  };
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const bounded = (signal: AbortSignal | undefined): AbortSignal =>
    signal === undefined
      ? AbortSignal.timeout(timeoutMs)
      : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);

  /** One consistent `GetItem`; `what` names the read in a failure. */
  const readItem = async (
    id: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown> | undefined> => {
    try {
      const result = await client.send(
        new GetCommand({ TableName: tableName, Key: { id }, ConsistentRead: true }),
        { abortSignal: bounded(signal) },
      );
      return result.Item;
    } catch (error) {
      throw translate(error, what, id);
    }
  };

  const read = async (id: string, signal?: AbortSignal): Promise<LedgerRecord | null> => {
    requireTable();
    const item = await readItem(id, 'GetItem', signal);
    return item === undefined ? null : fromLedgerItem(item);
  };

  const readOwnership = async (id: string, signal?: AbortSignal): Promise<FileOwnership | null> => {
    const item = await readItem(id, 'GetItem (file owner)', signal);
    return item === undefined ? null : toOwnership(item);
  };

  /** When the mark of a file its owner is replacing ends (epoch milliseconds), if it has one. */
  const replacingUntil = async (id: string, signal?: AbortSignal): Promise<number | undefined> => {
    const item = await readItem(id, 'GetItem (file being replaced)', signal);
    const until = (item?.replacing as { until?: unknown } | undefined)?.until;
    return typeof until === 'number' ? until : undefined;
  };

  /**
   * One conditional `UpdateItem` of an item of the table: its attributes after the write (`ReturnValues` `ALL_NEW`,
   * else just its id) when the condition held, `undefined` when it did not; any other failure is translated, with
   * `what` naming the write.
   */
  const updateIf = async (
    update: Omit<UpdateCommandInput, 'TableName' | 'Key'> & { readonly Key: { readonly id: string } },
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown> | undefined> => {
    try {
      const result = await client.send(new UpdateCommand({ TableName: tableName, ...update }), {
        abortSignal: bounded(signal),
      });
      return result.Attributes ?? { id: update.Key.id };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw translate(error, `UpdateItem (${what})`, update.Key.id);
    }
  };

  return {
    read,

    async claim(request, signal): Promise<ClaimResult> {
      const { id, owner } = request;
      requireTable();
      for (let attempt = 1; ; attempt += 1) {
        const attributes = await updateIf(
          {
            Key: { id },
            UpdateExpression:
              'SET #claim = :claim, #bucket = if_not_exists(#bucket, :bucket), #key = if_not_exists(#key, :key)',
            // Free, expired, or already this owner's (a claim taken again for the next version).
            ConditionExpression:
              'attribute_not_exists(#claim) OR #claim.#expiresAt < :now OR #claim.#owner = :owner',
            ExpressionAttributeNames: {
              '#claim': 'claim',
              '#bucket': 'bucket',
              '#key': 'key',
              '#expiresAt': 'expiresAt',
              '#owner': 'owner',
            },
            ExpressionAttributeValues: {
              ':claim': { owner, expiresAt: request.expiresAt },
              ':bucket': request.bucket,
              ':key': request.key,
              ':now': request.now,
              ':owner': owner,
            },
            ReturnValues: 'ALL_NEW',
          },
          'claim',
          signal,
        );
        if (attributes !== undefined) {
          const record = fromLedgerItem(attributes);
          // A record that holds nothing but the claim is a new object.
          return {
            taken: true,
            record: record.state === undefined && record.export === undefined ? null : record,
          };
        }
        const current = await read(id, signal);
        const holder = current?.claim;
        if (holder !== undefined && holder.owner !== owner && holder.expiresAt >= request.now) {
          return { taken: false, holder };
        }
        // Released between the write and the read: try again.
        if (attempt >= CLAIM_ATTEMPTS) {
          throw new SyncError(`the export ledger's claim for ${id} kept failing its condition`, {
            kind: 'transient',
            code: 'ledger-error',
          });
        }
      }
    },

    async settle(record, owner, signal): Promise<boolean> {
      requireTable();
      const item = toLedgerItem(record);
      const names: Record<string, string> = { '#claim': 'claim', '#owner': 'owner' };
      const values: Record<string, unknown> = { ':owner': owner };
      const set: string[] = [];
      // The claim goes with the same write; so do the fields the new record no longer has. Attributes the ledger
      // does not know (another feature's) are left as they are.
      const remove: string[] = ['#claim'];
      LEDGER_ATTRIBUTES.forEach((attribute, index) => {
        if (attribute === 'id') return;
        names[`#a${index}`] = attribute;
        if (item[attribute] === undefined) {
          remove.push(`#a${index}`);
        } else {
          set.push(`#a${index} = :a${index}`);
          values[`:a${index}`] = item[attribute];
        }
      });
      const conditions = ['#claim.#owner = :owner'];
      if (record.sequencer !== undefined) {
        names['#sequencer'] = 'sequencer';
        values[':sequencer'] = record.sequencer;
        conditions.push('(attribute_not_exists(#sequencer) OR #sequencer <= :sequencer)');
      }
      const settled = await updateIf(
        {
          Key: { id: record.id },
          UpdateExpression: `${set.length > 0 ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
        'settle',
        signal,
      );
      return settled !== undefined;
    },

    async release(id, owner, signal): Promise<void> {
      requireTable();
      // No claim, or another owner's (this one's expired and was taken): nothing to release.
      await updateIf(
        {
          Key: { id },
          UpdateExpression: 'REMOVE #claim',
          ConditionExpression: '#claim.#owner = :owner',
          ExpressionAttributeNames: { '#claim': 'claim', '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        },
        'release',
        signal,
      );
    },

    async ownFile(file, objectId, wrote, signal): Promise<string | null> {
      requireTable();
      const id = fileOwnershipId(file.id);
      const names = {
        '#owner': 'owner',
        '#at': 'at',
        '#ownerRev': 'ownerRev',
        '#replacing': 'replacing',
        '#rev': 'rev',
        '#until': 'until',
      };
      const values = {
        ':me': objectId,
        ':at': new Date().toISOString(),
        ':rev': file.rev,
        ':now': Date.now(),
      };
      // A revision its owner is replacing with a new version holds bytes that are about to go.
      const notBeingReplaced =
        '(attribute_not_exists(#replacing) OR #replacing.#rev <> :rev OR #replacing.#until < :now)';
      const owned = await updateIf(
        {
          Key: { id },
          UpdateExpression: 'SET #owner = :me, #at = :at, #ownerRev = :rev',
          // Whoever wrote a revision owns the file, unless another object registered that same revision first: two
          // objects that upload identical bytes at once both see their upload succeed, but Dropbox wrote only one
          // (identical content at the path is a no-op), so the first to register the revision owns it and the
          // other shares it. While the owner replaces the file (`ownerRev` removed by takeFile), a writer shares.
          // One that found the file in place owns it only if no object does.
          ConditionExpression: wrote
            ? 'attribute_not_exists(#owner) OR #owner = :me OR (attribute_exists(#ownerRev) AND #ownerRev <> :rev)'
            : `(attribute_not_exists(#owner) OR #owner = :me) AND ${notBeingReplaced}`,
          ExpressionAttributeNames: wrote
            ? { '#owner': 'owner', '#at': 'at', '#ownerRev': 'ownerRev' }
            : names,
          ExpressionAttributeValues: wrote
            ? { ':me': objectId, ':at': values[':at'], ':rev': file.rev }
            : values,
        },
        'file owner',
        signal,
      );
      if (owned !== undefined) return objectId;
      // Another object's file: this one shares it, so that the owner's new versions go beside it, not over it.
      const shared = await updateIf(
        {
          Key: { id },
          UpdateExpression: 'ADD #sharedBy :meSet',
          ConditionExpression: notBeingReplaced,
          ExpressionAttributeNames: {
            '#sharedBy': 'sharedBy',
            '#replacing': 'replacing',
            '#rev': 'rev',
            '#until': 'until',
          },
          ExpressionAttributeValues: {
            ':meSet': new Set([objectId]),
            ':rev': file.rev,
            ':now': values[':now'],
          },
          ReturnValues: 'ALL_NEW',
        },
        'file sharer',
        signal,
      );
      if (shared !== undefined) return typeof shared.owner === 'string' ? shared.owner : null;
      // The mark lasts until the owner's invocation ends: the retry waits for it as for another instance's claim
      // (lib/sqs-record.ts: never to the DLQ behind it).
      const until = await replacingUntil(id, signal);
      throw new SyncError(
        `the Dropbox file ${file.id} that ${objectId} found at its path is being replaced by its owner's new version; tried again`,
        {
          kind: 'transient',
          code: 'file-being-replaced',
          retryByMs: until === undefined ? undefined : Math.max(1_000, until - Date.now() + 1_000),
        },
      );
    },

    fileOwnership(fileId, signal): Promise<FileOwnership | null> {
      requireTable();
      return readOwnership(fileOwnershipId(fileId), signal);
    },

    async takeFile(fileId, objectId, rev, until, signal): Promise<boolean> {
      requireTable();
      const id = fileOwnershipId(fileId);
      const taken = await updateIf(
        {
          Key: { id },
          // The revision it will write is not known yet: without `ownerRev`, an object that writes identical bytes
          // meanwhile shares the file rather than taking it.
          UpdateExpression:
            'SET #owner = :me, #at = :at, #replacing = :replacing REMOVE #ownerRev DELETE #sharedBy :meSet',
          // lib/ledger.ts mayReplaceFile: no other owner, and no sharer but this object.
          ConditionExpression:
            '(attribute_not_exists(#owner) OR #owner = :me) AND ' +
            '(attribute_not_exists(#sharedBy) OR (size(#sharedBy) = :one AND contains(#sharedBy, :me)))',
          ExpressionAttributeNames: {
            '#owner': 'owner',
            '#at': 'at',
            '#replacing': 'replacing',
            '#ownerRev': 'ownerRev',
            '#sharedBy': 'sharedBy',
          },
          ExpressionAttributeValues: {
            ':me': objectId,
            ':meSet': new Set([objectId]),
            ':one': 1,
            ':at': new Date().toISOString(),
            ':replacing': { rev, until },
          },
        },
        'take file',
        signal,
      );
      return taken !== undefined;
    },

    async leaveFile(fileId, objectId, owned, signal): Promise<void> {
      requireTable();
      const id = fileOwnershipId(fileId);
      const asOwner = {
        Key: { id },
        UpdateExpression: 'REMOVE #owner',
        ConditionExpression: '#owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': objectId },
      };
      const asSharer = {
        Key: { id },
        UpdateExpression: 'DELETE #sharedBy :meSet',
        ConditionExpression: 'contains(#sharedBy, :me)',
        ExpressionAttributeNames: { '#sharedBy': 'sharedBy' },
        ExpressionAttributeValues: { ':me': objectId, ':meSet': new Set([objectId]) },
      };
      // `owned` is what the object's record says; the file's item may say otherwise (a sharer that took the file
      // for a version it then did not write), so the other way is tried when the first finds nothing to leave. When
      // neither does, another object holds the file now, or this one never did: nothing to leave.
      for (const leave of owned ? [asOwner, asSharer] : [asSharer, asOwner]) {
        if ((await updateIf(leave, 'leave file', signal)) !== undefined) return;
      }
    },
  };
}
