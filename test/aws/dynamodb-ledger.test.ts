/**
 * The DynamoDB adapter of the export ledger against dynalite (DynamoDB on LevelDB, in memory) over HTTP, with the
 * real SDK client: its claim, settle and release conditions.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/aws/clients.ts';
import { createDynamoDbLedger } from '../../lib/aws/dynamodb-ledger.ts';
import type { SyncError } from '../../lib/errors.ts';
import { type LedgerRecord, normalizeSequencer } from '../../lib/ledger.ts';
import type { ExportLedger } from '../../lib/ports.ts';
import { type LocalLedger, startLocalLedger } from '../../tools/local/ledger.ts';
import { rejectionOf } from '../support/rejection.ts';

const TABLE = 'ledger-test';
let local: LocalLedger;
let client: ReturnType<typeof createDynamoDbClient>;
let ledger: ExportLedger;
let counter = 0;

function nextId(): { id: string; bucket: string; key: string } {
  counter += 1;
  return { id: `s3://b/k${counter}`, bucket: 'b', key: `k${counter}` };
}

function recordOf(object: { id: string; bucket: string; key: string }, sequencer: string): LedgerRecord {
  return {
    ...object,
    sequencer: normalizeSequencer(sequencer),
    object: { eTag: `e${sequencer}`, size: 1, lastModified: '2026-01-01T00:00:00.000Z' },
    state: 'skipped',
    reason: { code: 'final-excluded', message: 'skip' },
    stateAt: '2026-01-01T00:00:01.000Z',
  };
}

beforeAll(async () => {
  // The SDK reads credentials from the process environment; any value does for dynalite.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  local = await startLocalLedger({ tableName: TABLE, region: 'us-east-1' });
  client = createDynamoDbClient({
    env: { AWS_ENDPOINT_URL_DYNAMODB: local.url },
    region: 'us-east-1',
  });
  ledger = createDynamoDbLedger({ client, tableName: TABLE });
});

afterAll(async () => {
  client?.destroy();
  await local?.close();
});

describe('the DynamoDB export ledger', () => {
  it('claims an object no one holds, creating its item, and reads it as having no record yet', async () => {
    // Prepare
    const object = nextId();

    // Act
    const claimed = await ledger.claim({
      ...object,
      owner: 'a',
      expiresAt: Date.now() + 60_000,
      now: Date.now(),
    });
    const read = await ledger.read(object.id);

    // Assess
    expect(claimed).toEqual({ taken: true, record: null });
    expect(read?.claim?.owner).toBe('a');
    expect(read?.state).toBeUndefined();
  });

  it('refuses a claim while another owner holds a live one, and grants it once that one expired', async () => {
    // Prepare
    const object = nextId();
    const now = Date.now();
    await ledger.claim({ ...object, owner: 'a', expiresAt: now + 1_000, now });

    // Act
    const refused = await ledger.claim({ ...object, owner: 'b', expiresAt: now + 60_000, now });
    const again = await ledger.claim({ ...object, owner: 'a', expiresAt: now + 2_000, now });
    const afterExpiry = await ledger.claim({
      ...object,
      owner: 'b',
      expiresAt: now + 60_000,
      now: now + 5_000,
    });

    // Assess
    expect(refused).toEqual({ taken: false, holder: { owner: 'a', expiresAt: now + 1_000 } });
    expect(again.taken).toBe(true);
    expect(afterExpiry.taken).toBe(true);
    expect((await ledger.read(object.id))?.claim).toEqual({ owner: 'b', expiresAt: now + 60_000 });
  });

  it('settles only for the claim holder, releasing the claim with the same write', async () => {
    // Prepare
    const object = nextId();
    const now = Date.now();
    await ledger.claim({ ...object, owner: 'a', expiresAt: now + 60_000, now });

    // Act
    const byOther = await ledger.settle(recordOf(object, '0A'), 'b');
    const byHolder = await ledger.settle(recordOf(object, '0A'), 'a');
    const afterRelease = await ledger.settle(recordOf(object, '0B'), 'a');

    // Assess
    expect([byOther, byHolder, afterRelease]).toEqual([false, true, false]);
    const read = await ledger.read(object.id);
    expect(read?.claim).toBeUndefined();
    expect(read?.sequencer).toBe(normalizeSequencer('0A'));
    expect(read?.state).toBe('skipped');
  });

  it('never writes an older sequencer over a newer one', async () => {
    // Prepare
    const object = nextId();
    const take = () =>
      ledger.claim({ ...object, owner: 'a', expiresAt: Date.now() + 60_000, now: Date.now() });
    await take();
    await ledger.settle(recordOf(object, '0055AED6DCD90281E5'), 'a');
    await take();

    // Act: a shorter sequencer is older once right-padded, though it would sort later left-padded
    const older = await ledger.settle(recordOf(object, '0055AED6DCD9'), 'a');
    const newer = await ledger.settle(recordOf(object, '0055AED6DCD90281F0'), 'a');

    // Assess
    expect([older, newer]).toEqual([false, true]);
    expect((await ledger.read(object.id))?.sequencer).toBe(normalizeSequencer('0055AED6DCD90281F0'));
  });

  it('keeps attributes another feature wrote on the item, and removes the fields a record no longer has', async () => {
    // Prepare
    const object = nextId();
    await ledger.claim({ ...object, owner: 'a', expiresAt: Date.now() + 60_000, now: Date.now() });
    await ledger.settle(
      { ...recordOf(object, '01'), failure: { kind: 'transient', code: 'x', message: 'm', at: 't' } },
      'a',
    );
    await client.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { id: object.id },
        UpdateExpression: 'SET receiptSentAt = :at',
        ExpressionAttributeValues: { ':at': '2026-01-01T00:00:02.000Z' },
      }),
    );
    await ledger.claim({ ...object, owner: 'a', expiresAt: Date.now() + 60_000, now: Date.now() });

    // Act
    await ledger.settle(recordOf(object, '02'), 'a');

    // Assess
    const { Item } = await client.send(new GetCommand({ TableName: TABLE, Key: { id: object.id } }));
    expect(Item?.receiptSentAt).toBe('2026-01-01T00:00:02.000Z');
    expect(Item?.failure).toBeUndefined();
  });

  it('releases only its own claim', async () => {
    // Prepare
    const object = nextId();
    const now = Date.now();
    await ledger.claim({ ...object, owner: 'a', expiresAt: now + 60_000, now });

    // Act
    await ledger.release(object.id, 'b');
    const stillHeld = (await ledger.read(object.id))?.claim?.owner;
    await ledger.release(object.id, 'a');

    // Assess
    expect(stillHeld).toBe('a');
    expect((await ledger.read(object.id))?.claim).toBeUndefined();
  });

  it('gives a Dropbox file to the object that wrote it, to one that found it in place only when unowned, and lets the others share it', async () => {
    // Act
    const unowned = await ledger.fileOwnership('id:file-1');
    const found = await ledger.ownFile({ id: 'id:file-1', rev: 'r1' }, 's3://b/first', false);
    const foundAgain = await ledger.ownFile({ id: 'id:file-1', rev: 'r1' }, 's3://b/second', false);
    const shared = await ledger.fileOwnership('id:file-1');
    const written = await ledger.ownFile({ id: 'id:file-1', rev: 'r2' }, 's3://b/third', true);

    // Assess
    expect(unowned).toBeNull();
    expect([found, foundAgain, written]).toEqual(['s3://b/first', 's3://b/first', 's3://b/third']);
    expect(shared).toEqual({ owner: 's3://b/first', sharedBy: ['s3://b/second'] });
    expect((await ledger.fileOwnership('id:file-1'))?.owner).toBe('s3://b/third');
  });

  it('gives a file two objects wrote at once (identical bytes, which Dropbox stores once) to the first to register its revision; the other shares it', async () => {
    // Act: both uploads succeeded with the same file and revision, so each thinks it wrote the file
    const first = await ledger.ownFile({ id: 'id:file-7', rev: 'r1' }, 's3://b/first', true);
    const second = await ledger.ownFile({ id: 'id:file-7', rev: 'r1' }, 's3://b/second', true);
    const ownerTakes = await ledger.takeFile('id:file-7', 's3://b/first', 'r1', Date.now() + 60_000);
    const secondTakes = await ledger.takeFile('id:file-7', 's3://b/second', 'r1', Date.now() + 60_000);

    // Assess: neither object's new version may replace the file the other's ledger item names
    expect([first, second]).toEqual(['s3://b/first', 's3://b/first']);
    expect(await ledger.fileOwnership('id:file-7')).toEqual({
      owner: 's3://b/first',
      sharedBy: ['s3://b/second'],
    });
    expect([ownerTakes, secondTakes]).toEqual([false, false]);
  });

  it('lets a writer of identical bytes share, not take, a file its owner is replacing', async () => {
    // Prepare
    await ledger.ownFile({ id: 'id:file-8', rev: 'r1' }, 's3://b/first', true);
    await ledger.takeFile('id:file-8', 's3://b/first', 'r1', Date.now() + 60_000);

    // Act: the owner's new revision r2 is written; another object's upload of the same bytes met it
    const other = await ledger.ownFile({ id: 'id:file-8', rev: 'r2' }, 's3://b/second', true);

    // Assess
    expect(other).toBe('s3://b/first');
    expect(await ledger.fileOwnership('id:file-8')).toEqual({
      owner: 's3://b/first',
      sharedBy: ['s3://b/second'],
    });
  });

  it('lets a new version take a file only when no other object owns or shares it', async () => {
    // Prepare: file-2 owned by first and shared by second; file-3 owned by first alone
    const until = Date.now() + 60_000;
    await ledger.ownFile({ id: 'id:file-2', rev: 'r1' }, 's3://b/first', true);
    await ledger.ownFile({ id: 'id:file-2', rev: 'r1' }, 's3://b/second', false);
    await ledger.ownFile({ id: 'id:file-3', rev: 'r1' }, 's3://b/first', true);

    // Act
    const ownerOfShared = await ledger.takeFile('id:file-2', 's3://b/first', 'r1', until);
    const sharerWhileOwned = await ledger.takeFile('id:file-2', 's3://b/second', 'r1', until);
    await ledger.leaveFile('id:file-2', 's3://b/first', true);
    const sharerAlone = await ledger.takeFile('id:file-2', 's3://b/second', 'r1', until);
    const owner = await ledger.takeFile('id:file-3', 's3://b/first', 'r1', until);
    const unknown = await ledger.takeFile('id:file-4', 's3://b/first', 'r1', until);

    // Assess
    expect([ownerOfShared, sharerWhileOwned, sharerAlone, owner, unknown]).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(await ledger.fileOwnership('id:file-2')).toEqual({ owner: 's3://b/second', sharedBy: [] });
  });

  it('leaves a file by whichever role the object holds, even when its record says the other', async () => {
    // Prepare: second shared file-9, then took it (its version was then not written there)
    await ledger.ownFile({ id: 'id:file-9', rev: 'r1' }, 's3://b/first', true);
    await ledger.ownFile({ id: 'id:file-9', rev: 'r1' }, 's3://b/second', false);
    await ledger.leaveFile('id:file-9', 's3://b/first', true);
    await ledger.takeFile('id:file-9', 's3://b/second', 'r1', Date.now() + 60_000);

    // Act: second's record still says it shares the file
    await ledger.leaveFile('id:file-9', 's3://b/second', false);

    // Assess
    expect(await ledger.fileOwnership('id:file-9')).toEqual({ owner: undefined, sharedBy: [] });
  });

  it('refuses a sharer the revision its owner is replacing, and takes it once replaced or expired', async () => {
    // Prepare
    await ledger.ownFile({ id: 'id:file-5', rev: 'r1' }, 's3://b/first', true);
    await ledger.takeFile('id:file-5', 's3://b/first', 'r1', Date.now() + 60_000);
    await ledger.ownFile({ id: 'id:file-6', rev: 'r1' }, 's3://b/first', true);
    await ledger.takeFile('id:file-6', 's3://b/first', 'r1', Date.now() - 1);

    // Act
    const refused = await rejectionOf(ledger.ownFile({ id: 'id:file-5', rev: 'r1' }, 's3://b/second', false));
    const newRevision = await ledger.ownFile({ id: 'id:file-5', rev: 'r2' }, 's3://b/second', false);
    const expired = await ledger.ownFile({ id: 'id:file-6', rev: 'r1' }, 's3://b/second', false);

    // Assess
    expect(refused).toMatchObject({ kind: 'transient', code: 'file-being-replaced' });
    // Its retry waits for the mark's end (the owner's invocation), as for another instance's claim.
    expect((refused as SyncError).retryByMs).toBeGreaterThan(55_000);
    expect((refused as SyncError).retryByMs).toBeLessThanOrEqual(61_000);
    expect([newRevision, expired]).toEqual(['s3://b/first', 's3://b/first']);
    expect((await ledger.fileOwnership('id:file-5'))?.sharedBy).toEqual(['s3://b/second']);
  });

  it('fails account-wide, naming the variable, when no table is configured', async () => {
    // Act
    const error = await rejectionOf(createDynamoDbLedger({ client, tableName: '' }).read('s3://b/k'));

    // Assess
    expect(error).toMatchObject({ kind: 'account', code: 'ledger-not-configured' });
    expect(String(error)).toContain('LEDGER_TABLE');
  });
});
