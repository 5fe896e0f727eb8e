/**
 * The local stack's receipts: the short line it prints for each receipt the local EventBridge accepted, and the demo
 * check that every demo file has the receipt of its current export state in `receipts.jsonl`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { LedgerRecord } from '../../lib/ledger.ts';
import {
  pendingReceipt,
  RECEIPT_SOURCE,
  type ReceiptDetail,
  receiptStateKey,
  summariseReceipt,
} from '../../lib/receipts.ts';
import type { DeliveredEvent } from '../emulators/events/server.ts';

function isReceiptDetail(detail: unknown): detail is ReceiptDetail {
  if (detail === null || typeof detail !== 'object') return false;
  const fields = detail as Partial<Record<keyof ReceiptDetail, unknown>>;
  return (
    typeof fields.key === 'string' &&
    typeof fields.state === 'string' &&
    typeof fields.sequence === 'number' &&
    typeof (fields.reason as { code?: unknown } | undefined)?.code === 'string'
  );
}

/** `Ticket File Exported #1 tickets/1001/Proof v1.pdf → /Ticket Files/…/Proof v1.pdf (non-final-file)`. */
export function describeReceipt(event: DeliveredEvent): string {
  if (event.source === RECEIPT_SOURCE && isReceiptDetail(event.detail)) return summariseReceipt(event.detail);
  return `${event.source} ${event['detail-type']}`;
}

/** The receipts of `file` (JSON Lines, as the local EventBridge writes them), by S3 key, in file order. */
export function readReceipts(file: string): Map<string, ReceiptDetail[]> {
  const byKey = new Map<string, ReceiptDetail[]>();
  if (!existsSync(file)) return byKey;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const event = JSON.parse(line) as { source?: unknown; detail?: unknown };
    if (event.source !== RECEIPT_SOURCE || !isReceiptDetail(event.detail)) continue;
    const list = byKey.get(event.detail.key) ?? [];
    list.push(event.detail);
    byKey.set(event.detail.key, list);
  }
  return byKey;
}

/**
 * What is wrong with the receipts of one object: none sent for its current state (the ledger still has it pending),
 * or none in the file for the state the ledger records as sent. Empty when its receipt is there.
 */
export function receiptProblems(
  key: string,
  record: LedgerRecord | null,
  receipts: ReadonlyMap<string, readonly ReceiptDetail[]>,
): string[] {
  if (record === null) return [`${key} has no ledger record`];
  const stateKey = receiptStateKey(record);
  if (stateKey === undefined) return [`${key} has no settled export state (${record.state ?? 'none'})`];
  if (pendingReceipt(record) !== undefined)
    return [`${key}: the receipt of its state (${stateKey}) was not sent`];
  const found = (receipts.get(key) ?? []).some(
    (detail) => detail.sequence === record.receiptSequence && detail.state === record.state,
  );
  return found
    ? []
    : [`${key}: receipt #${record.receiptSequence ?? 0} (${record.state}) is not in receipts.jsonl`];
}
