/**
 * Receipts: the events that tell the ticket system where each file went, or why it did not go (issue 14). One
 * receipt per change of an object's export state: exported, skipped (first, or for a new reason), blocked. Pure: the
 * shape and identity of a receipt, made from the object's ledger record; sending is an adapter's
 * (lib/aws/eventbridge-receipts.ts), batching the invocation's (lib/receipt-batch.ts).
 *
 * A receipt is never stored apart from the ledger: the receipt due for an object follows from its record's state,
 * and the record keeps the state of the last receipt EventBridge accepted (`receiptSent`, `receiptSequence`). A
 * receipt is pending while the two differ, so a receipt that could not be sent is sent by the object's next event
 * (the record's retry) without any write on the export path, and an export is never repeated or undone for it.
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

/** The object's file in Dropbox, as Dropbox reported it when the upload committed (or the ledger last saw it). */
export interface ReceiptDropboxFile {
  /** Where the file is (`path_display`), the renamed name included (`/Ticket Files/Proof (1).pdf`). */
  readonly path: string;
  /** Dropbox's file `id` (`id:…`), stable across renames and moves. */
  readonly id: string;
  /** The revision written. */
  readonly rev: string;
  /** Dropbox's `content_hash` of the file. */
  readonly contentHash: string;
  readonly size: number;
  /** When this file was written (or found) for the object, ISO 8601. */
  readonly exportedAt: string;
}

/**
 * The `detail` of a receipt. Never a secret and never file content: the object's coordinates, the ticket fields of
 * its metadata, where its file is in Dropbox, and why.
 */
export interface ReceiptDetail {
  /**
   * Identifies this receipt: the same on every delivery of it (EventBridge delivers at least once), different for
   * every state change. Deduplicate on it.
   */
  readonly receiptId: string;
  /** The object's receipts in the order of its state changes: 1 for its first. Order by it (delivery may not). */
  readonly sequence: number;
  readonly state: ReceiptState;
  readonly bucket: string;
  /** The S3 key, decoded. */
  readonly key: string;
  /** The S3 version the state is about, where the bucket keeps versions, else `null`. */
  readonly versionId: string | null;
  /** That version's ETag (without quotes), `null` when the object could not be read. */
  readonly eTag: string | null;
  readonly ticketId: string | null;
  readonly ticketType: string | null;
  readonly fileStatus: string | null;
  /** The S3 object's size in bytes, `null` when it could not be read. */
  readonly size: number | null;
  /**
   * The object's file in Dropbox: for `exported`, the version just exported; for a skip or a block, an earlier
   * export of the object when there is one; else `null`.
   */
  readonly dropbox: ReceiptDropboxFile | null;
  /** Why: the rule that exported or skipped the file, or the refusal that blocked it. */
  readonly reason: { readonly code: string; readonly message: string };
  /** When the export state changed (ISO 8601, UTC); the event's `time` too. */
  readonly time: string;
}

/** One receipt to send. */
export interface Receipt {
  readonly detailType: string;
  readonly detail: ReceiptDetail;
  /** The state the receipt reports, as the ledger keeps it once sent (`receiptSent`). */
  readonly stateKey: string;
}

/**
 * The parts of an object's ledger record (lib/ledger.ts `LedgerRecord`) a receipt is made of, with the receipts'
 * own two attributes.
 */
export interface ReceiptSource {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  readonly object?:
    | {
        readonly versionId?: string | undefined;
        readonly eTag: string;
        readonly size: number;
      }
    | undefined;
  readonly ticket?:
    | {
        readonly id?: string | undefined;
        readonly type?: string | undefined;
        readonly fileStatus?: string | undefined;
      }
    | undefined;
  readonly state?: string | undefined;
  readonly reason?: { readonly code: string; readonly message: string } | undefined;
  readonly stateAt?: string | undefined;
  readonly export?:
    | {
        readonly exportedAt: string;
        readonly file: {
          readonly id: string;
          readonly rev: string;
          readonly pathDisplay: string;
          readonly contentHash: string;
          readonly size: number;
        };
      }
    | undefined;
  /** The state key of the last receipt EventBridge accepted for the object (see {@link receiptStateKey}). */
  readonly receiptSent?: string | undefined;
  /** How many of the object's receipts EventBridge accepted. */
  readonly receiptSequence?: number | undefined;
}

function isReceiptState(value: unknown): value is ReceiptState {
  return (RECEIPT_STATES as readonly unknown[]).includes(value);
}

/**
 * What a receipt reports of a record's state, as a string: `exported <Dropbox id> <rev>`, or `skipped <reason code>`
 * / `blocked <reason code>`. Two records with the same key are the same export state, exactly as the ledger's
 * `isStateChange` compares them, so a redelivery, an unchanged tag change or a backfill is due no receipt.
 * `undefined` for a state receipts do not report (none yet, or `failed` while nothing has settled).
 */
export function receiptStateKey(record: ReceiptSource): string | undefined {
  if (!isReceiptState(record.state)) return undefined;
  if (record.state === 'exported') {
    const file = record.export?.file;
    return file === undefined ? undefined : `exported ${file.id} ${file.rev}`;
  }
  return `${record.state} ${record.reason?.code ?? ''}`;
}

/** The receipt an object's record is due: the receipt of its current state, whether sent already or not. */
export function dueReceipt(record: ReceiptSource): Receipt | undefined {
  const stateKey = receiptStateKey(record);
  if (stateKey === undefined || !isReceiptState(record.state)) return undefined;
  const sequence = (record.receiptSequence ?? 0) + 1;
  const file = record.export?.file;
  const detail: ReceiptDetail = {
    receiptId: createHash('sha256')
      .update(JSON.stringify([record.bucket, record.key, sequence, stateKey]))
      .digest('hex')
      .slice(0, 32),
    sequence,
    state: record.state,
    bucket: record.bucket,
    key: record.key,
    versionId: record.object?.versionId ?? null,
    eTag: record.object?.eTag ?? null,
    ticketId: record.ticket?.id ?? null,
    ticketType: record.ticket?.type ?? null,
    fileStatus: record.ticket?.fileStatus ?? null,
    size: record.object?.size ?? null,
    dropbox:
      file === undefined || record.export === undefined
        ? null
        : {
            path: file.pathDisplay,
            id: file.id,
            rev: file.rev,
            contentHash: file.contentHash,
            size: file.size,
            exportedAt: record.export.exportedAt,
          },
    reason: { code: record.reason?.code ?? '', message: record.reason?.message ?? '' },
    time: record.stateAt ?? new Date(0).toISOString(),
  };
  return { detailType: RECEIPT_DETAIL_TYPES[record.state], detail, stateKey };
}

/** The receipt still to send for a record: due and not the last one EventBridge accepted; else `undefined`. */
export function pendingReceipt(record: ReceiptSource): Receipt | undefined {
  const due = dueReceipt(record);
  return due === undefined || due.stateKey === record.receiptSent ? undefined : due;
}

/** A one-line summary of a receipt's detail, for logs and the local stack's live view. */
export function summariseReceipt(detail: ReceiptDetail): string {
  const where = detail.dropbox && detail.state === 'exported' ? ` → ${detail.dropbox.path}` : '';
  return `${RECEIPT_DETAIL_TYPES[detail.state]} #${detail.sequence} ${detail.key}${where} (${detail.reason.code})`;
}
