/**
 * The {@link ReceiptLedger} port on the export ledger's DynamoDB table: the receipts' own attributes of an object's
 * item, written with `UpdateItem` so that every other attribute (the ledger's) is left as it is. The ledger's writes
 * leave these attributes alone in turn (lib/aws/dynamodb-ledger.ts writes only its own).
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { errorMessage, isAbortError, SyncError } from '../errors.ts';
import type { ReceiptLedger, ReceiptMark } from '../ports.ts';

/** The item attributes this adapter writes (README "Reading the export state" documents them). */
export const RECEIPT_ATTRIBUTES = [
  'receiptSent',
  'receiptSequence',
  'receiptSentAt',
  'receiptEventId',
] as const;

/** Options of {@link createDynamoDbReceiptLedger}. */
export interface DynamoDbReceiptLedgerOptions {
  readonly client: DynamoDBDocumentClient;
  /** The export ledger table. */
  readonly tableName: string;
  /** Limit of one call, the SDK's retries included. @default 5000 */
  readonly callTimeoutMs?: number;
}

/** Builds the DynamoDB {@link ReceiptLedger}. */
export function createDynamoDbReceiptLedger(options: DynamoDbReceiptLedgerOptions): ReceiptLedger {
  const { client, tableName } = options;
  const timeoutMs = options.callTimeoutMs ?? 5_000;
  return {
    async markSent(id: string, mark: ReceiptMark, signal?: AbortSignal): Promise<boolean> {
      const bounded =
        signal === undefined
          ? AbortSignal.timeout(timeoutMs)
          : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { id },
            UpdateExpression:
              'SET #sent = :sent, #sequence = :sequence, #sentAt = :sentAt, #eventId = :eventId',
            // Only on an existing item, and never back: a slower sender of an earlier receipt does not undo a later one.
            ConditionExpression:
              'attribute_exists(#id) AND (attribute_not_exists(#sequence) OR #sequence < :sequence)',
            ExpressionAttributeNames: {
              '#id': 'id',
              '#sent': 'receiptSent',
              '#sequence': 'receiptSequence',
              '#sentAt': 'receiptSentAt',
              '#eventId': 'receiptEventId',
            },
            ExpressionAttributeValues: {
              ':sent': mark.stateKey,
              ':sequence': mark.sequence,
              ':sentAt': mark.sentAt,
              ':eventId': mark.eventId,
            },
          }),
          { abortSignal: bounded },
        );
        return true;
      } catch (error) {
        if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
        if (isAbortError(error)) throw error;
        throw new SyncError(
          `the export ledger's UpdateItem (receipt) for ${id} failed: ${errorMessage(error)}`,
          {
            kind: 'transient',
            code: 'ledger-error',
            cause: error,
          },
        );
      }
    },
  };
}
