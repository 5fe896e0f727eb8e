import { describe, expect, it } from 'vitest';
import { describeExportState } from '../../lib/export-status.ts';
import type { LedgerRecord } from '../../lib/ledger.ts';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');

const exported: LedgerRecord = {
  id: 's3://ticket-files/tickets/9002/Proof.pdf',
  bucket: 'ticket-files',
  key: 'tickets/9002/Proof.pdf',
  object: { versionId: 'v2', eTag: 'e2', size: 14, lastModified: '2026-12-01T10:00:00.000Z' },
  ticket: { id: '9002', type: 'print', fileStatus: 'non-final' },
  state: 'exported',
  reason: { code: 'non-final-file', message: 'Export: not final' },
  stateAt: '2026-12-01T10:00:01.000Z',
  export: {
    versionId: 'v2',
    eTag: 'e2',
    exportedAt: '2026-12-01T10:00:02.000Z',
    targetPath: '/Ticket Files/Proof.pdf',
    adopted: false,
    file: {
      id: 'id:abc',
      rev: '015f01',
      pathDisplay: '/Ticket Files/Proof (1).pdf',
      contentHash: 'hash2',
      size: 14,
    },
  },
};

describe('describeExportState', () => {
  it('says where a renamed export really is, which version and when', () => {
    // Act
    const status = describeExportState(exported, exported.id, NOW);

    // Assess
    expect(status).toMatchObject({
      state: 'exported',
      file: {
        path: '/Ticket Files/Proof (1).pdf',
        targetPath: '/Ticket Files/Proof.pdf',
        renamed: true,
        id: 'id:abc',
        versionId: 'v2',
        current: true,
      },
      ticket: { id: '9002' },
    });
    expect(status.summary).toBe(
      'In Dropbox: /Ticket Files/Proof (1).pdf (asked for /Ticket Files/Proof.pdf; Dropbox kept the file already there ' +
        'and renamed this one), version v2, exported 2026-12-01T10:00:02.000Z.',
    );
  });

  it('tells an export at its own path from an adopted one, and an older exported version from the newest', () => {
    // Prepare
    const atPath: LedgerRecord = {
      ...exported,
      export: {
        ...(exported.export as NonNullable<LedgerRecord['export']>),
        versionId: undefined,
        eTag: 'e1',
        adopted: true,
        file: {
          ...(exported.export?.file as NonNullable<LedgerRecord['export']>['file']),
          pathDisplay: '/ticket files/PROOF.pdf',
        },
      },
    };

    // Act
    const status = describeExportState(atPath, atPath.id, NOW);

    // Assess: Dropbox paths compare without case
    expect(status.file).toMatchObject({ renamed: false, adopted: true, current: false, eTag: 'e1' });
    expect(status.summary).toContain('(identical content was there already: nothing written), ETag e1');
  });

  it('gives the last skip, block or failure with its reason, and keeps an earlier export in view', () => {
    // Prepare
    const skipped: LedgerRecord = {
      ...exported,
      state: 'skipped',
      reason: { code: 'final-excluded', message: 'Skip: the file is final' },
      stateAt: '2026-12-01T11:00:00.000Z',
    };
    const blocked: LedgerRecord = {
      id: 's3://ticket-files/tickets/1/Daily',
      bucket: 'ticket-files',
      key: 'tickets/1/Daily',
      state: 'blocked',
      reason: { code: 'dropbox-path-conflict', message: 'a folder holds the name' },
      stateAt: '2026-12-01T11:30:00.000Z',
    };
    const failing: LedgerRecord = {
      ...blocked,
      state: 'failed',
      reason: { code: 'dropbox-unavailable', message: '503' },
    };

    // Act
    const [a, b, c] = [skipped, blocked, failing].map((record) =>
      describeExportState(record, record.id, NOW),
    );

    // Assess
    expect(a?.summary).toBe(
      'Not exported since 2026-12-01T11:00:00.000Z: Skip: the file is final (final-excluded). An earlier export ' +
        'stays in Dropbox: /Ticket Files/Proof (1).pdf (asked for /Ticket Files/Proof.pdf; Dropbox kept the file ' +
        'already there and renamed this one), version v2, exported 2026-12-01T10:00:02.000Z.',
    );
    expect(b).toMatchObject({ state: 'blocked', reason: { code: 'dropbox-path-conflict' } });
    expect(b?.file).toBeUndefined();
    expect(b?.summary).toMatch(
      /^Blocked since 2026-12-01T11:30:00\.000Z: a folder holds the name .*`redrive`\.$/,
    );
    expect(c?.summary).toBe(
      'Failing since 2026-12-01T11:30:00.000Z: 503 (dropbox-unavailable). The event is retried through the queue.',
    );
  });

  it('reports a failure after a settled state and an export in progress, and an object the ledger never saw', () => {
    // Prepare
    const retrying: LedgerRecord = {
      ...exported,
      failure: {
        kind: 'transient',
        code: 'dropbox-rate-limited',
        message: '429',
        at: '2026-12-01T11:59:00.000Z',
      },
      claim: { owner: 'x', expiresAt: NOW + 60_000 },
    };
    const expiredClaim: LedgerRecord = { ...exported, claim: { owner: 'x', expiresAt: NOW - 1 } };

    // Act
    const status = describeExportState(retrying, retrying.id, NOW);
    const none = describeExportState(null, 's3://ticket-files/tickets/new.pdf', NOW);

    // Assess
    expect(status.failure).toMatchObject({ code: 'dropbox-rate-limited' });
    expect(status.inProgressUntil).toBe('2026-12-01T12:01:00.000Z');
    expect(status.summary).toContain(
      'Its last event failed at 2026-12-01T11:59:00.000Z: 429 (transient, dropbox-rate-limited)',
    );
    expect(describeExportState(expiredClaim, expiredClaim.id, NOW).inProgressUntil).toBeUndefined();
    expect(none).toMatchObject({ id: 's3://ticket-files/tickets/new.pdf', state: 'none' });
    expect(none.file).toBeUndefined();
    expect(none.summary).toMatch(/^No ledger record: /);
  });
});
