/**
 * The ledger item as the ticket system reads it, and the receipts' attributes on it, against dynalite over HTTP with
 * the real SDK clients: the typed reader of the package entry (low-level and document client results alike), the
 * receipt mark that never goes back, and the ledger's own writes leaving the mark alone.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/aws/clients.ts';
import { createDynamoDbLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { createDynamoDbReceiptLedger } from '../../lib/aws/dynamodb-receipts.ts';
import { exportStateKey, fetchExportState, readExportState } from '../../lib/index.ts';
import { type LedgerRecord, ledgerId } from '../../lib/ledger.ts';
import { dueReceipt } from '../../lib/receipts.ts';
import { type LocalLedger, startLocalLedger } from '../../tools/local/ledger.ts';

const TABLE = 'export-state-test';
let local: LocalLedger;
let documents: ReturnType<typeof createDynamoDbClient>;
let lowLevel: DynamoDBClient;

function exportedRecord(key: string, rev: string): LedgerRecord {
  return {
    id: ledgerId('ticket-files', key),
    bucket: 'ticket-files',
    key,
    sequencer: '0055AED6DCD90281E5'.padEnd(64, '0'),
    object: { versionId: 'v1', eTag: 'e1', size: 70, lastModified: '2026-12-01T14:02:00.000Z' },
    ticket: { id: '9002', type: 'print', fileStatus: 'non-final' },
    state: 'exported',
    reason: { code: 'non-final-file', message: 'Export: not final.' },
    stateAt: '2026-12-01T14:02:03.000Z',
    export: {
      versionId: 'v1',
      eTag: 'e1',
      exportedAt: '2026-12-01T14:02:03.000Z',
      targetPath: '/Ticket Files/Proof.pdf',
      adopted: false,
      file: {
        id: `id:${key.split('/')[1]}`,
        rev,
        pathDisplay: '/Ticket Files/Proof (1).pdf',
        contentHash: 'h',
        size: 70,
      },
    },
  };
}

describe('the export state in the ledger table', () => {
  const ledger = () => createDynamoDbLedger({ client: documents, tableName: TABLE });
  const marks = () => createDynamoDbReceiptLedger({ client: documents, tableName: TABLE });
  const write = async (record: LedgerRecord): Promise<void> => {
    const owner = `owner-${Math.random()}`;
    const claim = await ledger().claim({
      id: record.id,
      bucket: record.bucket,
      key: record.key,
      owner,
      expiresAt: Date.now() + 60_000,
      now: Date.now(),
    });
    expect(claim.taken).toBe(true);
    expect(await ledger().settle(record, owner)).toBe(true);
  };
  const markDue = async (record: LedgerRecord): Promise<boolean> => {
    const current = await ledger().read(record.id);
    const receipt = dueReceipt(current ?? record);
    if (receipt === undefined) throw new Error('no receipt due');
    return marks().markSent(record.id, {
      stateKey: receipt.stateKey,
      sequence: receipt.detail.sequence,
      eventId: `event-${receipt.detail.sequence}`,
      sentAt: '2026-12-01T14:02:04.000Z',
    });
  };

  beforeAll(async () => {
    // The SDK reads credentials from the process environment; any value does for dynalite.
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    local = await startLocalLedger({ tableName: TABLE, region: 'us-east-1' });
    documents = createDynamoDbClient({ env: { AWS_ENDPOINT_URL_DYNAMODB: local.url }, region: 'us-east-1' });
    lowLevel = new DynamoDBClient({
      endpoint: local.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    lowLevel?.destroy();
    documents?.destroy();
    await local?.close();
  });

  it('reads the same typed state from a low-level and a document client GetItem result', async () => {
    // Prepare
    const record = exportedRecord('tickets/9002/Proof.pdf', 'r1');
    await write(record);

    // Act
    const fromLowLevel = readExportState(
      await lowLevel.send(
        new GetItemCommand({
          TableName: TABLE,
          Key: exportStateKey('ticket-files', 'tickets/9002/Proof.pdf'),
        }),
      ),
    );
    const fromDocuments = readExportState(
      await documents.send(new GetCommand({ TableName: TABLE, Key: { id: record.id } })),
    );

    // Assess
    expect(fromLowLevel).toEqual(fromDocuments);
    expect(fromLowLevel).toMatchObject({
      id: 's3://ticket-files/tickets/9002/Proof.pdf',
      state: 'exported',
      reason: { code: 'non-final-file' },
      object: { versionId: 'v1', eTag: 'e1', size: 70 },
      ticket: { id: '9002', type: 'print', fileStatus: 'non-final' },
      export: {
        exportedAt: '2026-12-01T14:02:03.000Z',
        file: { pathDisplay: '/Ticket Files/Proof (1).pdf' },
      },
      receiptPending: true,
    });
    expect(fromLowLevel).not.toHaveProperty('claim');
  });

  it('records a receipt accepted, keeps it through the ledger’s own writes, and never goes back', async () => {
    // Prepare
    const record = exportedRecord('tickets/9003/Proof.pdf', 'r1');
    await write(record);

    // Act
    const first = await markDue(record);
    await write({ ...record, stateAt: '2026-12-01T15:00:00.000Z' });
    const afterRedelivery = await fetchExportState(
      { tableName: TABLE, bucket: 'ticket-files', key: 'tickets/9003/Proof.pdf' },
      (input) => lowLevel.send(new GetItemCommand(input)),
    );
    const stale = await marks().markSent(record.id, {
      stateKey: 'exported id:9003 r0',
      sequence: 1,
      eventId: 'late',
      sentAt: '2026-12-01T14:03:00.000Z',
    });
    await write(exportedRecord('tickets/9003/Proof.pdf', 'r2'));
    const newRevision = await ledger().read(record.id);
    const newRevisionState = await fetchExportState(
      { tableName: TABLE, bucket: 'ticket-files', key: 'tickets/9003/Proof.pdf' },
      (input) => lowLevel.send(new GetItemCommand(input)),
    );

    // Assess
    expect(first).toBe(true);
    expect(afterRedelivery).toMatchObject({ receiptSent: 'exported id:9003 r1', receiptSequence: 1 });
    expect(afterRedelivery?.receiptPending).toBe(false);
    expect(stale).toBe(false);
    expect(dueReceipt(newRevision ?? record)?.detail.sequence).toBe(2);
    expect(newRevisionState?.receiptPending).toBe(true);
  });

  it('writes no item for an object the ledger does not have, and reads it as null', async () => {
    // Act
    const written = await marks().markSent(ledgerId('ticket-files', 'tickets/none.pdf'), {
      stateKey: 'skipped x',
      sequence: 1,
      eventId: 'e',
      sentAt: '2026-12-01T14:02:04.000Z',
    });
    const state = await fetchExportState(
      { tableName: TABLE, bucket: 'ticket-files', key: 'tickets/none.pdf' },
      (input) => lowLevel.send(new GetItemCommand(input)),
    );

    // Assess
    expect(written).toBe(false);
    expect(state).toBeNull();
    expect(readExportState(undefined)).toBeNull();
  });
});
