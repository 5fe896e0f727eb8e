import { describe, expect, it } from 'vitest';
import {
  compareSequencers,
  fromLedgerItem,
  isStateChange,
  type LedgerRecord,
  laterSequencer,
  ledgerId,
  normalizeSequencer,
  SEQUENCER_WIDTH,
  toLedgerItem,
  withStateTime,
} from '../../lib/ledger.ts';

const exported: LedgerRecord = {
  id: 's3://ticket-files/tickets/9002/Proof.pdf',
  bucket: 'ticket-files',
  key: 'tickets/9002/Proof.pdf',
  sequencer: normalizeSequencer('0055AED6DCD90281E5'),
  object: {
    versionId: 'v2',
    eTag: 'e2',
    size: 14,
    lastModified: '2026-12-01T10:00:00.000Z',
  },
  ticket: { id: '9002', type: 'print', fileStatus: 'non-final' },
  state: 'exported',
  reason: { code: 'non-final-file', message: 'Export: not final' },
  stateAt: '2026-12-01T10:00:01.000Z',
  export: {
    versionId: 'v2',
    eTag: 'e2',
    exportedAt: '2026-12-01T10:00:01.000Z',
    targetPath: '/Ticket Files/Proof.pdf',
    adopted: false,
    file: {
      id: 'id:abc',
      rev: '015f0000000001',
      pathDisplay: '/Ticket Files/Proof (1).pdf',
      contentHash: 'hash',
      size: 14,
    },
  },
};

describe('S3 sequencers', () => {
  it('pads on the right to a fixed width, upper-case, so that longer values with the same prefix come later', () => {
    // Act
    const short = normalizeSequencer('0055aed6dcd9');
    const long = normalizeSequencer('0055AED6DCD90281E5');

    // Assess
    expect(short).toHaveLength(SEQUENCER_WIDTH);
    expect(short?.startsWith('0055AED6DCD9000000')).toBe(true);
    expect((short ?? '') < (long ?? '')).toBe(true);
    expect(compareSequencers('0055AED6DCD9', '0055AED6DCD90281E5')).toBeLessThan(0);
    expect(compareSequencers('0055AED6DCD9', '0055AED6DCD900')).toBe(0);
    expect(compareSequencers('0062E99A88DC407460', '0055AED6DCD90281E5')).toBeGreaterThan(0);
  });

  it('reads a missing, non-hex or overlong sequencer as none', () => {
    // Assess
    expect(normalizeSequencer(undefined)).toBeUndefined();
    expect(normalizeSequencer('')).toBeUndefined();
    expect(normalizeSequencer('0055-AED6')).toBeUndefined();
    expect(normalizeSequencer('F'.repeat(SEQUENCER_WIDTH + 1))).toBeUndefined();
  });

  it('keeps the later of two sequencers, either of which may be missing', () => {
    // Assess
    expect(laterSequencer(undefined, 'A')).toBe('A');
    expect(laterSequencer('B', undefined)).toBe('B');
    expect(laterSequencer('0A', '0B')).toBe('0B');
    expect(laterSequencer('0B', '0A')).toBe('0B');
  });
});

describe('the ledger item', () => {
  it('names the object s3://<bucket>/<key> with the key as S3 stores it', () => {
    // Assess
    expect(ledgerId('ticket-files', 'tickets/9001/Affiche été + plan.tif')).toBe(
      's3://ticket-files/tickets/9001/Affiche été + plan.tif',
    );
  });

  it('is a flat item that reads back into the same record, without its claim', () => {
    // Act
    const item = toLedgerItem({ ...exported, claim: { owner: 'o', expiresAt: 1 } });

    // Assess
    expect(item).toEqual({
      id: exported.id,
      bucket: 'ticket-files',
      key: 'tickets/9002/Proof.pdf',
      sequencer: exported.sequencer,
      versionId: 'v2',
      eTag: 'e2',
      size: 14,
      lastModified: '2026-12-01T10:00:00.000Z',
      ticketId: '9002',
      ticketType: 'print',
      fileStatus: 'non-final',
      state: 'exported',
      reason: { code: 'non-final-file', message: 'Export: not final' },
      stateAt: '2026-12-01T10:00:01.000Z',
      exportedVersionId: 'v2',
      exportedETag: 'e2',
      exportedAt: '2026-12-01T10:00:01.000Z',
      targetPath: '/Ticket Files/Proof.pdf',
      adopted: false,
      dropboxId: 'id:abc',
      dropboxRev: '015f0000000001',
      dropboxPath: '/Ticket Files/Proof (1).pdf',
      dropboxContentHash: 'hash',
      dropboxSize: 14,
    });
    expect(fromLedgerItem(item)).toEqual(exported);
    expect(fromLedgerItem({ ...item, claim: { owner: 'o', expiresAt: 5 } }).claim).toEqual({
      owner: 'o',
      expiresAt: 5,
    });
  });

  it('reads an item with fields of the wrong type without throwing, leaving them out', () => {
    // Act
    const record = fromLedgerItem({ id: 's3://b/k', bucket: 'b', key: 'k', state: 'lost', size: 'big' });

    // Assess
    expect(record).toEqual({ id: 's3://b/k', bucket: 'b', key: 'k' });
  });
});

describe('a change of the export state (what receipts report)', () => {
  const skipped = (code: string): LedgerRecord => ({
    ...exported,
    state: 'skipped',
    reason: { code, message: code },
  });

  it('is a first export, an export to a new revision, a first skip, a skip for a new reason and a block', () => {
    // Assess
    expect(isStateChange(null, exported)).toBe(true);
    const newRevision = { ...exported.export, file: { ...exported.export?.file, rev: 'r2' } };
    expect(isStateChange(exported, { ...exported, export: newRevision } as LedgerRecord)).toBe(true);
    expect(isStateChange(exported, skipped('final-excluded'))).toBe(true);
    expect(isStateChange(skipped('final-excluded'), skipped('deleted-in-dropbox'))).toBe(true);
    expect(isStateChange(exported, { ...exported, state: 'blocked' })).toBe(true);
    expect(isStateChange(skipped('final-excluded'), exported)).toBe(true);
  });

  it('is not the same export found again, the same skip again, or a failure', () => {
    // Assess
    expect(isStateChange(exported, { ...exported, stateAt: 'later' })).toBe(false);
    expect(isStateChange(skipped('final-excluded'), skipped('final-excluded'))).toBe(false);
    expect(isStateChange(exported, { ...exported, state: 'failed' })).toBe(false);
    expect(isStateChange(null, { ...exported, state: undefined })).toBe(false);
  });
});

describe('the time of the export state (stateAt)', () => {
  const now = new Date('2026-12-02T08:00:00.000Z');

  it('stays the time of the change while the state stays the same, a failure or a moved file included', () => {
    // Prepare
    const moved = { ...exported.export, file: { ...exported.export?.file, pathDisplay: '/Moved/Proof.pdf' } };
    const failing = { ...exported, failure: { kind: 'transient', code: 'x', message: 'x', at: 'now' } };

    // Act
    const again = withStateTime(exported, { ...exported, stateAt: undefined }, now);
    const found = withStateTime(exported, { ...exported, export: moved } as LedgerRecord, now);
    const failed = withStateTime(exported, failing, now);

    // Assess
    for (const record of [again, found, failed]) expect(record.stateAt).toBe(exported.stateAt);
  });

  it('is now for a first state, a new revision, a new reason, a new state, and a failure with a new code', () => {
    // Prepare
    const newRevision = { ...exported.export, file: { ...exported.export?.file, rev: 'r2' } };
    const failed = (code: string): LedgerRecord => ({
      ...exported,
      state: 'failed',
      reason: { code, message: code },
    });

    // Act
    const records = [
      withStateTime(null, exported, now),
      withStateTime(exported, { ...exported, export: newRevision } as LedgerRecord, now),
      withStateTime(exported, { ...exported, state: 'skipped', reason: { code: 'a', message: 'a' } }, now),
      withStateTime(failed('a'), failed('b'), now),
    ];

    // Assess
    for (const record of records) expect(record.stateAt).toBe(now.toISOString());
    expect(withStateTime(failed('a'), failed('a'), now).stateAt).toBe(exported.stateAt);
  });
});
