/**
 * The EventBridge receipt sender against the local PutEvents endpoint, with the real client: calls planned within
 * the documented limits, failed entries retried, a failure that retries cannot fix reported per receipt.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEventBridgeClient } from '../../lib/aws/clients.ts';
import {
  createEventBridgeReceiptSender,
  PUT_EVENTS_MAX_BYTES,
  planPutEventsCalls,
  putEventsEntrySize,
  toPutEventsEntry,
} from '../../lib/aws/eventbridge-receipts.ts';
import { CommitGroup } from '../../lib/commit-group.ts';
import { isSyncError } from '../../lib/errors.ts';
import { ReceiptBatch } from '../../lib/receipt-batch.ts';
import { dueReceipt, type Receipt, type ReceiptDetail } from '../../lib/receipts.ts';
import { type EventBridgeEmulator, startEventBridgeEmulator } from '../../tools/emulators/events/server.ts';

const FAST_RETRY = { baseMs: 1, capMs: 4 };

function receiptFor(ticketId: number, reason = 'Export: the file is not final.'): Receipt {
  const receipt = dueReceipt({
    id: `s3://ticket-files/tickets/${ticketId}/Proof.pdf`,
    bucket: 'ticket-files',
    key: `tickets/${ticketId}/Proof.pdf`,
    object: { eTag: `etag-${ticketId}`, size: 1000 + ticketId },
    ticket: { id: String(ticketId), type: 'print', fileStatus: 'non-final' },
    state: 'exported',
    reason: { code: 'non-final-file', message: reason },
    stateAt: '2026-12-01T14:02:03.000Z',
    export: {
      exportedAt: '2026-12-01T14:02:03.000Z',
      file: {
        id: `id:${ticketId}`,
        rev: `rev${ticketId}`,
        pathDisplay: `/Ticket Files/Proof (${ticketId}).pdf`,
        contentHash: 'a'.repeat(64),
        size: 1000 + ticketId,
      },
    },
  });
  if (receipt === undefined) throw new Error('an exported record is due a receipt');
  return receipt;
}

describe('EventBridge receipt sender', () => {
  let events: EventBridgeEmulator;
  const env = (): NodeJS.ProcessEnv => ({
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });

  beforeEach(async () => {
    events = await startEventBridgeEmulator({ buses: ['tickets'] });
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  });

  afterEach(async () => {
    await events.close();
  });

  const sender = (eventBusName = 'tickets', maxAttempts = 4) =>
    createEventBridgeReceiptSender({
      client: createEventBridgeClient({ env: env(), region: 'us-east-1' }),
      eventBusName,
      retry: { ...FAST_RETRY, maxAttempts },
    });

  it('sends 23 receipts in 3 calls of at most 10, each event with the receipt as its detail', async () => {
    // Prepare
    const receipts = Array.from({ length: 23 }, (_, index) => receiptFor(9000 + index));

    // Act
    const results = await sender().send(receipts);

    // Assess
    expect(results.every((result) => result.sent)).toBe(true);
    expect(events.calls.map((call) => call.action)).toEqual(['PutEvents', 'PutEvents', 'PutEvents']);
    expect(events.events).toHaveLength(23);
    const first = events.events[0];
    expect(first).toMatchObject({
      source: 'ticket-dropbox-sync',
      'detail-type': 'Ticket File Exported',
      time: '2026-12-01T14:02:03Z',
      resources: ['arn:aws:s3:::ticket-files/tickets/9000/Proof.pdf'],
    });
    expect(first?.detail).toEqual(receipts[0]?.detail);
    const eventIds = results.map((result) => (result.sent ? result.eventId : ''));
    expect(eventIds).toEqual(events.events.map((event) => event.id));
  });

  it('splits calls by the documented entry size so that no call reaches 256 KB', async () => {
    // Prepare: reasons long enough that four entries would pass 256 KB, three do not.
    const message = 'x'.repeat(70 * 1024);
    const receipts = Array.from({ length: 7 }, (_, index) => receiptFor(index, message));
    const sizes = receipts.map((receipt) => putEventsEntrySize(toPutEventsEntry(receipt, 'tickets')));

    // Act
    const plan = planPutEventsCalls(
      sizes,
      receipts.map((_, index) => index),
    );
    const results = await sender().send(receipts);

    // Assess
    expect(plan).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    for (const call of plan) {
      expect(call.reduce((sum, index) => sum + (sizes[index] ?? 0), 0)).toBeLessThan(PUT_EVENTS_MAX_BYTES);
    }
    expect(results.every((result) => result.sent)).toBe(true);
    expect(events.calls).toHaveLength(3);
  });

  it('sends an entry refused once again, and only that one: each receipt arrives once', async () => {
    // Prepare
    events.setFaults({ refuseEntries: 1, errorCode: 'ThrottlingException' });
    const receipts = [receiptFor(1), receiptFor(2), receiptFor(3)];

    // Act
    const results = await sender().send(receipts);

    // Assess
    expect(results.every((result) => result.sent)).toBe(true);
    expect(events.calls).toHaveLength(2);
    const keys = events.events.map((event) => (event.detail as ReceiptDetail).key).sort();
    expect(keys).toEqual(receipts.map((receipt) => receipt.detail.key).sort());
  });

  it('reports every receipt as not sent, transient, when PutEvents is down through all its tries', async () => {
    // Prepare
    events.setFaults({ unavailable: true });

    // Act
    const results = await sender('tickets', 3).send([receiptFor(1), receiptFor(2)]);

    // Assess
    expect(events.calls).toHaveLength(3);
    expect(events.events).toHaveLength(0);
    for (const result of results) {
      expect(result.sent).toBe(false);
      if (!result.sent) {
        expect(isSyncError(result.error)).toBe(true);
        expect(result.error).toMatchObject({ kind: 'transient', code: 'receipt-not-sent' });
        expect(result.error.message).toContain('InternalException');
      }
    }
  });

  it('does not retry an entry refused for a reason another try cannot fix', async () => {
    // Act
    const results = await sender('no-such-bus').send([receiptFor(1)]);

    // Assess
    expect(events.calls).toHaveLength(1);
    expect(results[0]).toMatchObject({ sent: false });
    expect(results[0]?.sent === false && results[0].error.message).toContain('InvalidArgument');
  });

  it('stops at the deadline and reports the receipts not sent', async () => {
    // Prepare
    events.setFaults({ unavailable: true });
    const deadline = new AbortController();
    deadline.abort(new DOMException('deadline', 'TimeoutError'));

    // Act
    const results = await sender().send([receiptFor(1)], deadline.signal);

    // Assess
    expect(results[0]).toMatchObject({ sent: false, error: { code: 'receipt-not-sent' } });
    expect(events.calls).toHaveLength(0);
  });

  it('gives up on a call that hangs after its request timeout, and says so', async () => {
    // Prepare: an endpoint that accepts the request and never answers.
    const hung: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const hungSender = createEventBridgeReceiptSender({
      client: createEventBridgeClient({ env: { AWS_ENDPOINT_URL_EVENTBRIDGE: url }, region: 'us-east-1' }),
      eventBusName: 'default',
      retry: { ...FAST_RETRY, maxAttempts: 1 },
    });

    // Act
    const results = await hungSender.send([receiptFor(1)]);
    hung.closeAllConnections();
    hung.close();

    // Assess
    expect(results[0]).toMatchObject({ sent: false, error: { code: 'receipt-not-sent' } });
    expect(results[0]?.sent === false && results[0].error.message).toMatch(/TimeoutError|timed? ?out/i);
  });

  it('sends the receipts the records of one invocation queue in a single call', async () => {
    // Prepare
    const group = new CommitGroup(['m1', 'm2', 'm3']);
    const batch = new ReceiptBatch(sender());
    const members = ['m1', 'm2', 'm3'].map((id) => group.member(id));

    // Act
    const results = await Promise.all(
      members.map(async (member, index) => {
        // Records reach their receipt at different times.
        await new Promise((resolve) => setTimeout(resolve, index * 20));
        const result = await batch.send(receiptFor(index), member);
        member.leave();
        return result;
      }),
    );

    // Assess
    expect(results.every((result) => result.sent)).toBe(true);
    expect(events.calls).toHaveLength(1);
    expect(events.events).toHaveLength(3);
  });
});
