/**
 * The export ledger's item as a read model for the ticket system (README "Reading the export state"): a typed
 * reader of one object's item, from a `GetItem` result the caller already has, or fetched with the caller's own
 * DynamoDB client through a one-function seam. Pure: no AWS SDK here, so the package entry keeps no AWS dependency.
 */
import { fromLedgerItem, type LedgerItem, type LedgerRecord, ledgerId } from './ledger.ts';
import { pendingReceipt } from './receipts.ts';

/** One object's export state: the ledger record (lib/ledger.ts documents each field), and its receipt's. */
export interface ExportState extends Omit<LedgerRecord, 'claim'> {
  /** The receipt of the current state has not been accepted by EventBridge yet (it goes out with a retry). */
  readonly receiptPending: boolean;
}

/** A `GetItem` result, from the low-level client (`AttributeValue` maps) or the document client (plain values). */
export interface GetItemResultLike {
  readonly Item?: Readonly<Record<string, unknown>> | undefined;
}

/** The `GetItem` input {@link fetchExportState} hands to its seam: the low-level client's form. */
export interface ExportStateGetItemInput {
  readonly TableName: string;
  readonly Key: { readonly id: { readonly S: string } };
  readonly ConsistentRead: boolean;
}

/** The key of an object's ledger item, as the low-level client's `GetItem` takes it. */
export function exportStateKey(bucket: string, key: string): { readonly id: { readonly S: string } } {
  return { id: { S: ledgerId(bucket, key) } };
}

const ATTRIBUTE_VALUE_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/** Whether `value` is one DynamoDB `AttributeValue` (an object with exactly one type member). */
function isAttributeValue(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && ATTRIBUTE_VALUE_TYPES.has(keys[0] ?? '');
}

/** An `AttributeValue` as a plain value, as the document client would read it (binary values left as they are). */
function unmarshall(value: Record<string, unknown>): unknown {
  const [type, inner] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
    case 'B':
    case 'BOOL':
    case 'BS':
    case 'SS':
      return inner;
    case 'N':
      return Number(inner);
    case 'NS':
      return Array.isArray(inner) ? inner.map(Number) : [];
    case 'NULL':
      return null;
    case 'L':
      return Array.isArray(inner)
        ? inner.map((item) => (isAttributeValue(item) ? unmarshall(item) : item))
        : [];
    case 'M':
      return unmarshallItem((inner ?? {}) as Record<string, unknown>);
    default:
      return inner;
  }
}

function unmarshallItem(item: Readonly<Record<string, unknown>>): LedgerItem {
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) => [name, isAttributeValue(value) ? unmarshall(value) : value]),
  );
}

/**
 * The export state in a `GetItem` result of the ledger table, or `null` when the object has no item (the ledger
 * never saw it). Fields the item lacks are left out; nothing is thrown for an odd value.
 */
export function readExportState(result: GetItemResultLike | null | undefined): ExportState | null {
  const item = result?.Item;
  if (item === undefined || item === null) return null;
  // A low-level result has every attribute as an AttributeValue; `id` always is one there.
  const plain = isAttributeValue(item.id) ? unmarshallItem(item) : { ...item };
  const { claim: _claim, ...record } = fromLedgerItem(plain);
  return { ...record, receiptPending: pendingReceipt(record) !== undefined };
}

/**
 * Looks up one object's export state: `getItem` is your DynamoDB client's `GetItem`, for example
 * `(input) => client.send(new GetItemCommand(input))` with `@aws-sdk/client-dynamodb`. The read is strongly
 * consistent, so it sees the sync's last write.
 */
export async function fetchExportState(
  object: { readonly tableName: string; readonly bucket: string; readonly key: string },
  getItem: (input: ExportStateGetItemInput) => Promise<GetItemResultLike>,
): Promise<ExportState | null> {
  return readExportState(
    await getItem({
      TableName: object.tableName,
      Key: exportStateKey(object.bucket, object.key),
      ConsistentRead: true,
    }),
  );
}
