/**
 * Receipts: the events that tell the ticket system where each file went, or why it did not go (issue 14). One
 * receipt per change of an object's export state: exported, skipped (first, or for a new reason), blocked. Pure: the
 * shape and identity of a receipt; sending is an adapter's (lib/aws/eventbridge-receipts.ts), batching the
 * invocation's (lib/receipt-batch.ts).
 */
import { createHash } from 'node:crypto';

/** The `source` of every receipt. */
export const RECEIPT_SOURCE = 'ticket-dropbox-sync';

/** The export states a receipt reports. */
export const RECEIPT_STATES = ['exported', 'skipped', 'blocked'] as const;
export type ReceiptState = (typeof RECEIPT_STATES)[number];

/** The `detail-type` of a receipt for each state. */
export const RECEIPT_DETAIL_TYPES: Readonly<Record<ReceiptState, string>> = {
  exported: 'Ticket File Exported',
  skipped: 'Ticket File Skipped',
  blocked: 'Ticket File Blocked',
};

/** The Dropbox file of an export, as Dropbox reported it when the upload committed. */
export interface ReceiptDropboxFile {
  /** Where the file is (`path_display`): the renamed name included (`/Ticket Files/Proof (1).pdf`). */
  readonly path: string;
  /** Dropbox's file `id` (`id:…`), stable across renames and moves. */
  readonly id: string;
  /** The revision written. */
  readonly rev: string;
  /** Dropbox's `content_hash` of the bytes written. */
  readonly contentHash: string;
}

/**
 * The `detail` of a receipt. Never a secret and never file content: the object's coordinates, the ticket fields of
 * its metadata, where the file is in Dropbox, and why.
 */
export interface ReceiptDetail {
  readonly state: ReceiptState;
  readonly bucket: string;
  /** The S3 key, decoded. */
  readonly key: string;
  /** The S3 version, where the bucket keeps versions, else `null`. */
  readonly versionId: string | null;
  /** The object's ETag without quotes, `null` when the object could not be read. */
  readonly eTag: string | null;
  readonly ticketId: string | null;
  readonly ticketType: string | null;
  readonly fileStatus: string | null;
  /** The object's size in bytes (the Dropbox file's too, when exported), `null` when not read. */
  readonly size: number | null;
  /** The Dropbox file, for an export; `null` otherwise. */
  readonly dropbox: ReceiptDropboxFile | null;
  /** Why: the rule that exported or skipped the file, or the refusal that blocked it. */
  readonly reason: { readonly code: string; readonly message: string };
  /** When the export state changed (ISO 8601, UTC); the event's `time` too. */
  readonly time: string;
}

/** One receipt to send: its detail, its `detail-type` and its identity. */
export interface Receipt {
  /**
   * Identifies the state change the receipt reports, the same on every send of it: a hash of the key, the version
   * (`versionId` or else ETag), the state and the reason code. A ledger item keeps it while the receipt is pending.
   */
  readonly id: string;
  readonly detailType: string;
  readonly detail: ReceiptDetail;
}

/** The identity of the state change a detail reports (see {@link Receipt.id}). */
export function receiptIdOf(detail: ReceiptDetail): string {
  const identity = [
    detail.bucket,
    detail.key,
    detail.versionId ?? detail.eTag ?? '',
    detail.state,
    detail.reason.code,
    detail.dropbox?.rev ?? '',
  ];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
}

/** Makes the receipt of `detail`. */
export function createReceipt(detail: ReceiptDetail): Receipt {
  return { id: receiptIdOf(detail), detailType: RECEIPT_DETAIL_TYPES[detail.state], detail };
}

/** A one-line summary of a receipt's detail, for logs and the local stack's live view. */
export function summariseReceipt(detail: ReceiptDetail): string {
  const where = detail.dropbox ? ` → ${detail.dropbox.path}` : '';
  return `${RECEIPT_DETAIL_TYPES[detail.state]} ${detail.key}${where} (${detail.reason.code})`;
}
