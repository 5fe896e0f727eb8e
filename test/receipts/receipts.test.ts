/** The receipt an object's ledger record is due, and when it is pending. Pure. */
import { describe, expect, it } from 'vitest';
import { isStateChange, type LedgerRecord } from '../../lib/ledger.ts';
import { dueReceipt, pendingReceipt, type ReceiptSource, receiptStateKey } from '../../lib/receipts.ts';

const exported: ReceiptSource = {
  id: 's3://ticket-files/tickets/9002/Proof.pdf',
  bucket: 'ticket-files',
  key: 'tickets/9002/Proof.pdf',
  object: { versionId: 'v2', eTag: 'e2', size: 71_000 },
  ticket: { id: '9002', type: 'print', fileStatus: 'non-final' },
  state: 'exported',
  reason: { code: 'non-final-file', message: 'Export: the file is not final.' },
  stateAt: '2026-12-01T14:02:03.000Z',
  export: {
    exportedAt: '2026-12-01T14:02:03.000Z',
    file: {
      id: 'id:b',
      rev: 'r2',
      pathDisplay: '/Ticket Files/Proof (1).pdf',
      contentHash: 'h2',
      size: 71_000,
    },
  },
};

const exportedFile = {
  id: 'id:b',
  rev: 'r2',
  pathDisplay: '/Ticket Files/Proof (1).pdf',
  contentHash: 'h2',
  size: 71_000,
};

const skipped = (code: string, extra: Partial<ReceiptSource> = {}): ReceiptSource => ({
  ...exported,
  state: 'skipped',
  reason: { code, message: `Skip: ${code}` },
  ...extra,
});

describe('receipts from the ledger record', () => {
  it('makes an export receipt with where the file went, the version, the ticket and the time of the change', () => {
    // Act
    const receipt = dueReceipt(exported);

    // Assess
    expect(receipt?.detailType).toBe('Ticket File Exported');
    expect(receipt?.detail).toEqual({
      receiptId: expect.stringMatching(/^[0-9a-f]{32}$/),
      sequence: 1,
      state: 'exported',
      bucket: 'ticket-files',
      key: 'tickets/9002/Proof.pdf',
      versionId: 'v2',
      eTag: 'e2',
      ticketId: '9002',
      ticketType: 'print',
      fileStatus: 'non-final',
      size: 71_000,
      dropbox: {
        path: '/Ticket Files/Proof (1).pdf',
        id: 'id:b',
        rev: 'r2',
        contentHash: 'h2',
        size: 71_000,
        exportedAt: '2026-12-01T14:02:03.000Z',
      },
      reason: { code: 'non-final-file', message: 'Export: the file is not final.' },
      time: '2026-12-01T14:02:03.000Z',
    });
  });

  it('is pending until the ledger holds it as sent, and not again for the same state written later', () => {
    // Prepare
    const key = receiptStateKey(exported);
    const redelivered: ReceiptSource = { ...exported, stateAt: '2026-12-01T15:00:00.000Z' };

    // Act
    const before = pendingReceipt(exported);
    const after = pendingReceipt({ ...redelivered, receiptSent: key, receiptSequence: 1 });

    // Assess
    expect(before).toBeDefined();
    expect(after).toBeUndefined();
  });

  it('is due again for a new revision, a new skip reason or another state, and never for failed', () => {
    // Prepare
    const sent = { receiptSent: receiptStateKey(exported), receiptSequence: 1 };
    const newRevision: ReceiptSource = {
      ...exported,
      ...sent,
      export: { exportedAt: 'later', file: { ...exportedFile, rev: 'r3' } },
    };
    const skippedOnce = skipped('final-excluded', {
      receiptSent: 'skipped final-excluded',
      receiptSequence: 2,
    });

    // Act
    const due = {
      newRevision: pendingReceipt(newRevision),
      skippedFirst: pendingReceipt(skipped('final-excluded', sent)),
      sameReason: pendingReceipt(skippedOnce),
      newReason: pendingReceipt(skipped('not-a-ticket-file', { receiptSent: 'skipped final-excluded' })),
      blocked: pendingReceipt({
        ...exported,
        ...sent,
        state: 'blocked',
        reason: { code: 'path-conflict', message: '' },
      }),
      failed: dueReceipt({ ...exported, state: 'failed' }),
      none: dueReceipt({ id: exported.id, bucket: 'ticket-files', key: exported.key }),
    };

    // Assess
    expect(due.newRevision?.detail.sequence).toBe(2);
    expect(due.skippedFirst?.detailType).toBe('Ticket File Skipped');
    expect(due.sameReason).toBeUndefined();
    expect(due.newReason?.detail.reason.code).toBe('not-a-ticket-file');
    expect(due.blocked?.detailType).toBe('Ticket File Blocked');
    expect(due.failed).toBeUndefined();
    expect(due.none).toBeUndefined();
  });

  it('gives a state that comes back a new identity, and one receipt the same identity on every send', () => {
    // Prepare: skipped, then exported, then skipped for the first reason again.
    const first = dueReceipt(skipped('final-excluded'));
    const again = dueReceipt(
      skipped('final-excluded', { receiptSent: receiptStateKey(exported), receiptSequence: 2 }),
    );

    // Act
    const resent = dueReceipt(skipped('final-excluded', { stateAt: '2026-12-02T00:00:00.000Z' }));

    // Assess
    expect(again?.detail.receiptId).not.toBe(first?.detail.receiptId);
    expect(again?.detail.sequence).toBe(3);
    expect(resent?.detail.receiptId).toBe(first?.detail.receiptId);
  });

  it('keeps an earlier export in a skip receipt, and leaves fields it does not know null', () => {
    // Act
    const skip = dueReceipt(skipped('final-excluded'));
    const bare = dueReceipt({
      id: 's3://ticket-files/tickets/readme.txt',
      bucket: 'ticket-files',
      key: 'tickets/readme.txt',
      state: 'skipped',
      reason: { code: 'not-a-ticket-file', message: 'Skip: no ticket-type' },
      stateAt: '2026-12-01T14:02:03.000Z',
    });

    // Assess
    expect(skip?.detail.dropbox?.path).toBe('/Ticket Files/Proof (1).pdf');
    expect(bare?.detail).toMatchObject({
      versionId: null,
      eTag: null,
      ticketId: null,
      ticketType: null,
      fileStatus: null,
      size: null,
      dropbox: null,
    });
  });

  it("is due exactly when the ledger's isStateChange says the export state changed", () => {
    // Prepare: every pair of a few settled states, files and reasons.
    const file = (id: string, rev: string) => ({
      exportedAt: 'at',
      targetPath: '/Ticket Files/Proof.pdf',
      adopted: false,
      versionId: undefined,
      eTag: 'e',
      file: { id, rev, pathDisplay: '/Ticket Files/Proof.pdf', contentHash: 'h', size: 1 },
    });
    const base = { id: 's3://b/k', bucket: 'b', key: 'k', stateAt: 't' };
    const records: LedgerRecord[] = [
      {
        ...base,
        state: 'exported',
        reason: { code: 'non-final-file', message: '' },
        export: file('id:a', 'r1'),
      },
      { ...base, state: 'exported', reason: { code: 'final-file', message: '' }, export: file('id:a', 'r1') },
      {
        ...base,
        state: 'exported',
        reason: { code: 'non-final-file', message: '' },
        export: file('id:a', 'r2'),
      },
      {
        ...base,
        state: 'exported',
        reason: { code: 'non-final-file', message: '' },
        export: file('id:b', 'r1'),
      },
      {
        ...base,
        state: 'skipped',
        reason: { code: 'final-excluded', message: '' },
        export: file('id:a', 'r1'),
      },
      { ...base, state: 'skipped', reason: { code: 'final-excluded', message: '' } },
      { ...base, state: 'skipped', reason: { code: 'not-a-ticket-file', message: '' } },
      { ...base, state: 'blocked', reason: { code: 'dropbox-path-conflict', message: '' } },
      { ...base, state: 'blocked', reason: { code: 'dropbox-malformed-path', message: '' } },
    ];

    // Act
    const disagreements = records.flatMap((previous) =>
      records
        .filter(
          (next) => isStateChange(previous, next) !== (receiptStateKey(previous) !== receiptStateKey(next)),
        )
        .map((next) => `${receiptStateKey(previous)} → ${receiptStateKey(next)}`),
    );

    // Assess
    expect(disagreements).toEqual([]);
    for (const record of records) expect(isStateChange(null, record)).toBe(dueReceipt(record) !== undefined);
  });
});
