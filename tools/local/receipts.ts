/** The local stack's short line for a receipt the local EventBridge accepted. */
import { RECEIPT_SOURCE, type ReceiptDetail, summariseReceipt } from '../../lib/receipts.ts';
import type { DeliveredEvent } from '../emulators/events/server.ts';

function isReceiptDetail(detail: unknown): detail is ReceiptDetail {
  if (detail === null || typeof detail !== 'object') return false;
  const fields = detail as Partial<Record<keyof ReceiptDetail, unknown>>;
  return (
    typeof fields.key === 'string' &&
    typeof fields.state === 'string' &&
    typeof (fields.reason as { code?: unknown } | undefined)?.code === 'string'
  );
}

/** `Ticket File Exported tickets/1001/Proof v1.pdf → /Ticket Files/…/Proof v1.pdf (non-final-file)`, or the raw type. */
export function describeReceipt(event: DeliveredEvent): string {
  if (event.source === RECEIPT_SOURCE && isReceiptDetail(event.detail)) return summariseReceipt(event.detail);
  return `${event.source} ${event['detail-type']}`;
}
