/**
 * The receipt step of one S3 event (DESIGN.md "Flow", step 6): once the event has settled the object's ledger
 * record, the receipt that record is due goes out, unless EventBridge accepted it already, and the record then says
 * so. A receipt that cannot be sent fails the record for a transient reason: its retry finds the export done in the
 * ledger (nothing is uploaded again) and sends only the receipt.
 */
import { errorMessage } from './errors.ts';
import type { SyncLog } from './observability.ts';
import type { CommitGroupMember, ReceiptLedger } from './ports.ts';
import type { ReceiptBatch } from './receipt-batch.ts';
import { pendingReceipt, type Receipt, type ReceiptSource } from './receipts.ts';

/** What the receipt step needs; absent from the record's deps, no receipt is sent. */
export interface ReceiptDeps {
  /** The invocation's batch: the receipts of its records go out together. */
  readonly batch: ReceiptBatch;
  /** Where the ledger item records the receipt accepted. */
  readonly marks: ReceiptLedger;
  /** Reads an object's record, for a failure that settled its state itself (`blocked`). */
  readonly readRecord?: ((id: string, signal?: AbortSignal) => Promise<ReceiptSource | null>) | undefined;
}

/**
 * Sends the receipt `record` is due when it is pending, then records it as sent. Resolves with the receipt sent, or
 * `undefined` when none was pending; rejects with the transient `receipt-not-sent` error when it could not be sent.
 */
export async function sendPendingReceipt(
  record: ReceiptSource | null | undefined,
  deps: ReceiptDeps,
  context: {
    readonly log: SyncLog;
    readonly member?: CommitGroupMember | undefined;
    readonly messageId: string;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<Receipt | undefined> {
  const receipt = record === null || record === undefined ? undefined : pendingReceipt(record);
  if (record === null || record === undefined || receipt === undefined) return undefined;
  const { log, messageId } = context;
  const attributes = {
    messageId,
    key: receipt.detail.key,
    receipt: receipt.detailType,
    receiptId: receipt.detail.receiptId,
    sequence: receipt.detail.sequence,
  };
  const result = await deps.batch.send(receipt, context.member, context.signal);
  if (!result.sent) {
    log.warn('receipt not sent', { ...attributes, reason: result.error.message });
    throw result.error;
  }
  try {
    await deps.marks.markSent(
      record.id,
      {
        stateKey: receipt.stateKey,
        sequence: receipt.detail.sequence,
        eventId: result.eventId,
        sentAt: new Date().toISOString(),
      },
      context.signal,
    );
  } catch (error) {
    // The receipt went out: at least once, so the object's next event sends it again rather than fail this record.
    log.warn('receipt sent but not recorded in the ledger', { ...attributes, error: errorMessage(error) });
  }
  log.info('receipt sent', { ...attributes, eventId: result.eventId });
  return receipt;
}

/**
 * Sends the receipt of a failure that settled the object's state itself (`blocked`: the ledger records it before the
 * record goes to the DLQ), reading the object's record first. Never rejects: the record fails anyway, and a receipt
 * still pending goes out with the object's next event (after `redrive`, that of the export).
 */
export async function sendReceiptAfterFailure(
  id: string,
  deps: ReceiptDeps,
  context: Parameters<typeof sendPendingReceipt>[2],
): Promise<void> {
  if (deps.readRecord === undefined) return;
  try {
    await sendPendingReceipt(await deps.readRecord(id, context.signal), deps, context);
  } catch (error) {
    context.log.warn('receipt of a failure not sent', {
      messageId: context.messageId,
      id,
      error: errorMessage(error),
    });
  }
}
