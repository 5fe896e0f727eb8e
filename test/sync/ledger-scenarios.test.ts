/**
 * The export ledger's scenarios (issue 11), each on the local stack in the DEFAULT settings: `on-conflict` rename,
 * a single folder, file names `{fileName}`, base folder `/Ticket Files`, with names that collide across tickets.
 * What counts is what ends up in Dropbox and in the ledger, and how many times file data was sent.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/aws/clients.ts';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { SyncError } from '../../lib/errors.ts';
import { fileOwnershipId, ledgerId } from '../../lib/ledger.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

const PRINT = { 'ticket-type': 'print', 'publication-alias': 'Daily', 'issue-alias': 'Dec' } as const;
const BASE = '/Ticket Files';
const PROOF = `${BASE}/Proof.pdf`;
const PROOF_1 = `${BASE}/Proof (1).pdf`;

let harness: Harness;

beforeEach(async () => {
  harness = await startHarness();
});

afterEach(async () => {
  await harness?.close();
});

/** Requests that carried file data or committed it (every upload route). */
function dataCalls(): number {
  return (
    harness.stack.dropbox?.requestLog.filter((entry) => entry.route.startsWith('files/upload')).length ?? 0
  );
}

function hashOf(content: string): string {
  return computeContentHash(Buffer.from(content));
}

function md5(content: string): string {
  return createHash('md5').update(content).digest('hex');
}

async function contentHashAt(path: string): Promise<string | undefined> {
  return (await harness.dropbox.getFileMetadata(path))?.contentHash;
}

async function tree(folder = BASE): Promise<Record<string, number>> {
  return dropboxTree(harness.dropbox, folder);
}

function lastOutcome(key: string) {
  return harness.outcomes.filter((outcome) => outcome.key === key).at(-1);
}

/** S3 LastModified of an object, to the second (what Dropbox's `client_modified` keeps). */
async function secondOf(key: string): Promise<string> {
  const head = await harness.s3.send(
    new HeadObjectCommand({ Bucket: harness.stack.outputs.BucketName, Key: key }),
  );
  return head.LastModified?.toISOString().slice(0, 19) ?? '';
}

/** Puts both objects again until S3 gives them the same LastModified second (the scenario's premise). */
async function putInOneSecond(
  first: readonly [string, string],
  second: readonly [string, string],
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await harness.put(first[0], first[1], PRINT);
    await harness.put(second[0], second[1], PRINT);
    if ((await secondOf(first[0])) === (await secondOf(second[0]))) return;
  }
  throw new Error('could not put both objects within one second');
}

/** The notification the CLI's `backfill` sends for the object as it is now (no sequencer). */
async function sendBackfill(key: string): Promise<void> {
  const head = await harness.s3.send(
    new HeadObjectCommand({ Bucket: harness.stack.outputs.BucketName, Key: key }),
  );
  await harness.send(
    buildS3Notification([
      {
        eventName: 'ObjectCreated:Put',
        bucket: harness.stack.outputs.BucketName,
        key,
        size: head.ContentLength,
        eTag: head.ETag,
        versionId: head.VersionId,
        eventTime: head.LastModified,
      },
    ]),
  );
}

/** Receives the visible messages, keeps their bodies (to send one again: a redelivery) and processes them. */
async function drainKeepingBodies(): Promise<string[]> {
  const records = await harness.receive();
  await harness.invoke(records);
  return records.map((record) => record.body);
}

function keyOf(record: SQSRecord): string {
  return decodeURIComponent(JSON.parse(record.body).Records[0].s3.object.key.replaceAll('+', ' '));
}

/** Waits until the Dropbox emulator logged a request matching `test`. */
async function untilLogged(test: (entry: { route: string; status: number }) => boolean): Promise<void> {
  for (let waited = 0; waited < 20_000; waited += 20) {
    if (harness.stack.dropbox?.requestLog.some(test)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the expected Dropbox request never came');
}

describe('the export ledger, in the default settings', () => {
  it('exports both tickets’ Proof.pdf of the same size and second, each to its own file', async () => {
    // Prepare
    const a = ['tickets/9001/Proof.pdf', 'proof of ticket 9001'] as const;
    const b = ['tickets/9002/Proof.pdf', 'PROOF of ticket 9002'] as const;
    expect(a[1]).toHaveLength(b[1].length);
    await putInOneSecond(a, b);

    // Act
    expect(await harness.drain()).toEqual([]);
    const recordA = await harness.record(a[0]);
    const recordB = await harness.record(b[0]);

    // Assess
    expect(Object.keys(await tree())).toEqual([PROOF_1, PROOF]);
    expect(await contentHashAt(recordA?.export?.file.pathDisplay ?? '')).toBe(hashOf(a[1]));
    expect(await contentHashAt(recordB?.export?.file.pathDisplay ?? '')).toBe(hashOf(b[1]));
    expect(recordA?.export?.file.id).not.toBe(recordB?.export?.file.id);
    expect([recordA?.state, recordB?.state]).toEqual(['exported', 'exported']);
  });

  it('exports names that differ only in case to two files, and a new version replaces only its own', async () => {
    // Prepare
    await harness.put('tickets/9001/Proof.pdf', 'lower-case ticket', PRINT);
    await harness.drain();
    await harness.put('tickets/9002/PROOF.PDF', 'upper-case ticket', PRINT);
    await harness.drain();
    const before = await harness.record('tickets/9002/PROOF.PDF');

    // Act
    await harness.put('tickets/9002/PROOF.PDF', 'upper-case ticket, v2', PRINT);
    await harness.drain();
    const after = await harness.record('tickets/9002/PROOF.PDF');

    // Assess
    expect(await tree()).toEqual({ [PROOF]: 17, [`${BASE}/PROOF (1).PDF`]: 21 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('lower-case ticket'));
    expect(after?.export?.file).toMatchObject({
      id: before?.export?.file.id,
      pathDisplay: `${BASE}/PROOF (1).PDF`,
      contentHash: hashOf('upper-case ticket, v2'),
    });
  });

  it('sends no data for an object put again with identical bytes, or for its later events', async () => {
    // Prepare
    await harness.put('tickets/9001/Proof.pdf', 'the same bytes', PRINT);
    await harness.drain();
    const exported = await harness.record('tickets/9001/Proof.pdf');
    const calls = dataCalls();

    // Act
    await harness.put('tickets/9001/Proof.pdf', 'the same bytes', PRINT);
    await harness.drain();
    await harness.tag('tickets/9001/Proof.pdf', { review: 'ok' });
    await harness.drain();

    // Assess
    expect(dataCalls()).toBe(calls);
    expect(lastOutcome('tickets/9001/Proof.pdf')?.reason.code).toBe('already-exported');
    expect((await harness.record('tickets/9001/Proof.pdf'))?.export).toEqual(exported?.export);
    expect(await tree()).toEqual({ [PROOF]: 14 });
  });

  it('exports a new version written in the same second with the same size over the object’s own file', async () => {
    // Prepare
    const key = 'tickets/9001/Proof.pdf';
    let first = '';
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await harness.put(key, 'version one', PRINT);
      first = await secondOf(key);
      await harness.drain();
      await harness.put(key, 'version two', PRINT);
      if ((await secondOf(key)) === first) break;
    }
    const before = (await harness.record(key))?.export?.file;

    // Act
    await harness.drain();

    // Assess
    expect(await secondOf(key)).toBe(first);
    expect(await tree()).toEqual({ [PROOF]: 11 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('version two'));
    const after = await harness.record(key);
    expect(after?.export?.file.id).toBe(before?.id);
    expect(after?.object?.eTag).toBe(md5('version two'));
  });

  it('never leaves old bytes or a stale copy when an old upload, held by a 429, commits after the new version landed', async () => {
    // Prepare: the old version's first upload call is refused with Retry-After: 2 (the account waits that long)
    const key = 'tickets/9001/Proof.pdf';
    const instanceA = harness.instance({ uploadTuning: { maxAttempts: 3 } });
    const instanceB = harness.instance();
    await harness.put(key, 'old version', PRINT);
    const oldEvent = await harness.receive();
    harness.stack.dropbox?.setFaults({
      rateLimitRequest: { route: 'files/upload', nth: 1 },
      retryAfterSeconds: 2,
    });

    // Act: the new version lands and its event is handled by another instance while the old upload waits
    const oldRun = harness.invoke(oldEvent, { handler: instanceA });
    await untilLogged((entry) => entry.route === 'files/upload' && entry.status === 429);
    await harness.put(key, 'new version!', PRINT);
    const newRun = harness.invoke(await harness.receive(), { handler: instanceB });
    const failed = [...(await oldRun), ...(await newRun)];
    harness.stack.dropbox?.setFaults({});
    await harness.redeliver(failed);
    await harness.drain();

    // Assess
    expect(await tree()).toEqual({ [PROOF]: 12 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('new version!'));
    const record = await harness.record(key);
    expect(record?.object?.eTag).toBe(md5('new version!'));
    expect(record?.export?.file).toMatchObject({ pathDisplay: PROOF, contentHash: hashOf('new version!') });
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
  });

  it('exports the newest version on the retry after a HeadObject that failed once the old version was committed', async () => {
    // Prepare: an instance whose HeadObject after the commit fails, the new version landing just before
    const key = 'tickets/9001/Proof.pdf';
    let heads = 0;
    const failing = harness.instance({
      override: (deps) => ({
        ...deps,
        objects: {
          ...deps.objects,
          headObject: async (bucket, objectKey, signal) => {
            heads += 1;
            if (heads === 2) {
              await harness.put(key, 'the newest version', PRINT);
              throw new SyncError('S3 HeadObject failed (503 SlowDown)', {
                kind: 'transient',
                code: 's3-error',
              });
            }
            return deps.objects.headObject(bucket, objectKey, signal);
          },
        },
      }),
    });
    await harness.put(key, 'the first version', PRINT);
    const firstEvent = await harness.receive();

    // Act
    const failed = await harness.invoke(firstEvent, { handler: failing });
    const afterFailure = await harness.record(key);
    await harness.redeliver(failed);
    const queued = await harness.receive();
    const retry = queued.filter((record) => record.messageId === failed[0]?.messageId);
    expect(await harness.invoke(retry)).toEqual([]);
    const afterRetry = await harness.record(key);
    expect(await harness.invoke(queued.filter((record) => !retry.includes(record)))).toEqual([]);

    // Assess
    expect(failed).toHaveLength(1);
    expect(afterFailure?.export?.file.contentHash).toBe(hashOf('the first version'));
    expect(afterRetry?.export?.file.contentHash).toBe(hashOf('the newest version'));
    expect(await tree()).toEqual({ [PROOF]: 18 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('the newest version'));
    expect((await harness.record(key))?.object?.eTag).toBe(md5('the newest version'));
  });

  it('uploads nothing for a renamed export on tag changes, a redelivery and a backfill', async () => {
    // Prepare: another ticket's Proof.pdf first, so this one lands as Proof (1).pdf
    await harness.put('tickets/9001/Proof.pdf', 'ticket 9001', PRINT);
    await harness.drain();
    await harness.put('tickets/9002/Proof.pdf', 'ticket 9002!', PRINT);
    const [body] = await drainKeepingBodies();
    const calls = dataCalls();
    const exportedAt = (await harness.record('tickets/9002/Proof.pdf'))?.stateAt;

    // Act
    await harness.tag('tickets/9002/Proof.pdf', { review: 'ok' });
    await harness.drain();
    await harness.tag('tickets/9002/Proof.pdf', { review: 'ok', approved: 'yes' });
    await harness.drain();
    await harness.send(body ?? '');
    await harness.drain();
    await sendBackfill('tickets/9002/Proof.pdf');
    await harness.drain();

    // Assess
    expect(dataCalls()).toBe(calls);
    expect(await tree()).toEqual({ [PROOF]: 11, [PROOF_1]: 12 });
    const outcomes = harness.outcomes.filter((outcome) => outcome.key === 'tickets/9002/Proof.pdf').slice(1);
    expect(outcomes.map((outcome) => outcome.reason.code)).toEqual([
      'already-exported',
      'already-exported',
      'already-exported',
      'already-exported',
    ]);
    expect(outcomes.every((outcome) => outcome.dropboxPath === PROOF_1 && !outcome.stateChanged)).toBe(true);
    const record = await harness.record('tickets/9002/Proof.pdf');
    expect(record?.export?.file.pathDisplay).toBe(PROOF_1);
    // The state did not change, so neither did the time it was written.
    expect(exportedAt).toBeDefined();
    expect(record?.stateAt).toBe(exportedAt);
  });

  it('remembers every export across a restart, so a backfill afterwards uploads nothing', async () => {
    // Prepare: a stack on a data folder of its own, stopped after exporting two clashing files
    const dir = harness.dir;
    await harness.close();
    harness = await startHarness({ dir, ledger: 'disk' });
    await harness.put('tickets/9001/Proof.pdf', 'ticket 9001', PRINT);
    await harness.put('tickets/9002/Proof.pdf', 'ticket 9002!', PRINT);
    await harness.drain();
    const paths = [
      (await harness.record('tickets/9001/Proof.pdf'))?.export?.file.pathDisplay,
      (await harness.record('tickets/9002/Proof.pdf'))?.export?.file.pathDisplay,
    ];
    await harness.close();

    // Act
    harness = await startHarness({ dir, ledger: 'disk' });
    await sendBackfill('tickets/9001/Proof.pdf');
    await sendBackfill('tickets/9002/Proof.pdf');
    await harness.drain();

    // Assess
    expect(dataCalls()).toBe(0);
    expect(harness.outcomes.map((outcome) => [outcome.reason.code, outcome.dropboxPath]).sort()).toEqual(
      [
        ['already-exported', paths[0]],
        ['already-exported', paths[1]],
      ].sort(),
    );
    expect(await tree()).toEqual({ [PROOF]: 11, [PROOF_1]: 12 });
  });

  it('does not put back a file a person deleted on a tag change or a redelivery, and exports a new version', async () => {
    // Prepare
    const key = 'tickets/9001/Proof.pdf';
    await harness.put(key, 'exported once', PRINT);
    const [body] = await drainKeepingBodies();
    await harness.stack.dropbox?.deleteFile(PROOF);
    const calls = dataCalls();

    // Act
    await harness.tag(key, { review: 'ok' });
    await harness.drain();
    await harness.send(body ?? '');
    await harness.drain();
    const afterTag = await harness.record(key);
    const treeAfterTag = await tree();
    const callsAfterTag = dataCalls();
    await harness.put(key, 'a new version', PRINT);
    await harness.drain();

    // Assess
    expect(callsAfterTag).toBe(calls);
    expect(treeAfterTag).toEqual({});
    expect(afterTag).toMatchObject({ state: 'skipped', reason: { code: 'deleted-in-dropbox' } });
    expect(await tree()).toEqual({ [PROOF]: 13 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('a new version'));
    expect((await harness.record(key))?.state).toBe('exported');
  });

  it('finds a file a person moved by its id: a tag change uploads nothing, a new version replaces it there', async () => {
    // Prepare
    const key = 'tickets/9001/Proof.pdf';
    await harness.put(key, 'exported once', PRINT);
    await harness.drain();
    await harness.stack.dropbox?.moveFile(PROOF, '/Archive/Proof.pdf');
    const calls = dataCalls();

    // Act
    await harness.tag(key, { review: 'ok' });
    await harness.drain();
    const afterTag = await harness.record(key);
    const callsAfterTag = dataCalls();
    await harness.put(key, 'a new version', PRINT);
    await harness.drain();

    // Assess
    expect(callsAfterTag).toBe(calls);
    expect(afterTag?.export?.file.pathDisplay).toBe('/Archive/Proof.pdf');
    expect(await tree()).toEqual({});
    expect(await tree('/Archive')).toEqual({ '/Archive/Proof.pdf': 13 });
    expect(await contentHashAt('/Archive/Proof.pdf')).toBe(hashOf('a new version'));
  });

  it('leaves a file a person edited as it is on a tag change, and writes a new version beside it', async () => {
    // Prepare
    const key = 'tickets/9001/Proof.pdf';
    await harness.put(key, 'exported once', PRINT);
    await harness.drain();
    const edit = Buffer.from('edited by a person');
    await harness.dropbox.upload({
      path: PROOF,
      size: edit.byteLength,
      clientModified: new Date(),
      onConflict: 'overwrite',
      body: Readable.from([edit]),
    });
    const calls = dataCalls();

    // Act
    await harness.tag(key, { review: 'ok' });
    await harness.drain();
    const tagOutcome = lastOutcome(key);
    const callsAfterTag = dataCalls();
    await harness.put(key, 'a new version', PRINT);
    await harness.drain();

    // Assess
    expect(callsAfterTag).toBe(calls);
    expect(tagOutcome?.reason.code).toBe('edited-in-dropbox');
    expect(await tree()).toEqual({ [PROOF]: 18, [PROOF_1]: 13 });
    expect(await contentHashAt(PROOF)).toBe(computeContentHash(edit));
    expect((await harness.record(key))?.export?.file.pathDisplay).toBe(PROOF_1);
  });

  it('never replaces another ticket’s file that holds the same bytes: the new version goes beside it', async () => {
    // Prepare: two tickets upload identical bytes; Dropbox writes the second one nowhere
    await harness.put('tickets/9001/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    await harness.put('tickets/9002/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    const adopted = await harness.record('tickets/9002/Proof.pdf');

    // Act
    await harness.put('tickets/9002/Proof.pdf', 'changed artwork', PRINT);
    await harness.drain();

    // Assess
    expect(adopted?.export).toMatchObject({ adopted: true, file: { pathDisplay: PROOF } });
    expect(await tree()).toEqual({ [PROOF]: 14, [PROOF_1]: 15 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('shared artwork'));
    expect((await harness.record('tickets/9002/Proof.pdf'))?.export?.file.pathDisplay).toBe(PROOF_1);
    expect((await harness.record('tickets/9001/Proof.pdf'))?.export?.file.pathDisplay).toBe(PROOF);
  });

  it('keeps the adopter’s bytes when the owner of a shared file puts a new version: it goes beside', async () => {
    // Prepare: two tickets upload identical bytes; 9002 shares 9001's file (Dropbox writes nothing for it)
    await harness.put('tickets/9001/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    await harness.put('tickets/9002/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    const calls = dataCalls();

    // Act
    await harness.put('tickets/9001/Proof.pdf', 'owner changed it', PRINT);
    await harness.drain();
    const callsAfterNewVersion = dataCalls();
    await harness.tag('tickets/9002/Proof.pdf', { review: 'ok' });
    await harness.drain();

    // Assess
    expect(await tree()).toEqual({ [PROOF]: 14, [PROOF_1]: 16 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('shared artwork'));
    expect(await contentHashAt(PROOF_1)).toBe(hashOf('owner changed it'));
    expect((await harness.record('tickets/9001/Proof.pdf'))?.export?.file.pathDisplay).toBe(PROOF_1);
    expect((await harness.record('tickets/9002/Proof.pdf'))?.export?.file).toMatchObject({
      pathDisplay: PROOF,
      contentHash: hashOf('shared artwork'),
    });
    expect(lastOutcome('tickets/9002/Proof.pdf')?.reason.code).toBe('already-exported');
    expect(dataCalls()).toBe(callsAfterNewVersion);
    expect(callsAfterNewVersion).toBe(calls + 1);
  });

  it('gives a shared file to the adopter once the owner went beside: its new version replaces it in place', async () => {
    // Prepare: 9002 shares 9001's file, then 9001's new version goes beside it
    await harness.put('tickets/9001/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    await harness.put('tickets/9002/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    await harness.put('tickets/9001/Proof.pdf', 'owner changed it', PRINT);
    await harness.drain();
    const shared = (await harness.record('tickets/9002/Proof.pdf'))?.export?.file;

    // Act
    await harness.put('tickets/9002/Proof.pdf', 'adopter changed it', PRINT);
    await harness.drain();

    // Assess: no stale copy of the shared bytes is left behind
    expect(await tree()).toEqual({ [PROOF]: 18, [PROOF_1]: 16 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('adopter changed it'));
    expect(await contentHashAt(PROOF_1)).toBe(hashOf('owner changed it'));
    expect((await harness.record('tickets/9002/Proof.pdf'))?.export).toMatchObject({
      adopted: false,
      file: { id: shared?.id, pathDisplay: PROOF, contentHash: hashOf('adopter changed it') },
    });
  });

  it('never lets a ticket share a file while its owner replaces it: the sharer exports beside the new version', async () => {
    // Prepare: 9001's new version, held between the ledger's decision and its upload
    await harness.put('tickets/9001/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();
    let reached: () => void = () => undefined;
    const atUpload = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const owner = harness.instance({
      override: (deps) => ({
        ...deps,
        dropboxFor: (credentials) => {
          const target = deps.dropboxFor(credentials);
          return {
            getFileMetadata: (path, signal) => target.getFileMetadata(path, signal),
            upload: async (request) => {
              reached();
              await released;
              return target.upload(request);
            },
          };
        },
      }),
    });
    await harness.put('tickets/9001/Proof.pdf', 'owner changed it', PRINT);
    const ownerRun = harness.invoke(await harness.receive(), { handler: owner });
    await atUpload;

    // Act: 9002 uploads identical bytes meanwhile (Dropbox still holds them at the path), then the owner commits
    await harness.put('tickets/9002/Proof.pdf', 'shared artwork', PRINT);
    const failed = await harness.drain();
    release();
    expect(await ownerRun).toEqual([]);
    await harness.redeliver(failed);
    const failedAgain = await harness.drain();

    // Assess
    expect(failedAgain).toEqual([]);
    expect(await tree()).toEqual({ [PROOF]: 16, [PROOF_1]: 14 });
    expect(await contentHashAt(PROOF)).toBe(hashOf('owner changed it'));
    const sharer = await harness.record('tickets/9002/Proof.pdf');
    expect(sharer?.export?.file).toMatchObject({
      pathDisplay: PROOF_1,
      contentHash: hashOf('shared artwork'),
    });
    expect(await contentHashAt(sharer?.export?.file.pathDisplay ?? '')).toBe(hashOf('shared artwork'));
  });

  it('adopts a file an earlier deployment exported to its path without writing it, and replaces it with a new version', async () => {
    // Prepare: exported, then the ledger's items removed, as after an upgrade from a version without the ledger
    const key = 'tickets/9001/Proof.pdf';
    await harness.put(key, 'exported before the upgrade', PRINT);
    await harness.drain();
    const before = await harness.dropbox.getFileMetadata(PROOF);
    const client = createDynamoDbClient({ env: harness.stack.env });
    for (const id of [ledgerId(harness.stack.outputs.BucketName, key), fileOwnershipId(before?.id ?? '')]) {
      await client.send(new DeleteCommand({ TableName: harness.stack.outputs.LedgerTableName, Key: { id } }));
    }
    client.destroy();

    // Act
    await harness.tag(key, { review: 'ok' });
    await harness.drain();
    const adopted = await harness.record(key);
    await harness.tag(key, { review: 'ok', again: 'yes' });
    await harness.drain();
    const again = lastOutcome(key);
    await harness.put(key, 'the first version after the upgrade', PRINT);
    await harness.drain();

    // Assess
    expect(adopted?.export).toMatchObject({ adopted: false, file: { id: before?.id, rev: before?.rev } });
    expect(again?.reason.code).toBe('already-exported');
    expect(await tree()).toEqual({ [PROOF]: 35 });
    expect(await harness.dropbox.getFileMetadata(PROOF)).toMatchObject({
      id: before?.id,
      contentHash: hashOf('the first version after the upgrade'),
    });
  });
});

describe('what the ledger costs', () => {
  const calls = () => harness.stack.ledger.calls.map((call) => call.action);
  const dropboxRoutes = () => harness.stack.dropbox?.requestLog.map((entry) => entry.route) ?? [];
  const step = async (act: () => Promise<void>) => {
    const [ledgerBefore, dropboxBefore] = [calls().length, dropboxRoutes().length];
    await act();
    await harness.drain();
    return {
      ledger: calls().slice(ledgerBefore).sort(),
      dropbox: dropboxRoutes()
        .slice(dropboxBefore)
        .filter((route) => !route.startsWith('oauth2/') && route !== 'users/get_current_account'),
    };
  };

  it('takes four writes for a first export, two for a redelivery, four for a new version (receipts included)', async () => {
    // Prepare
    const key = 'tickets/9001/Proof.pdf';

    // Act
    const first = await step(() => harness.put(key, 'first export', PRINT));
    const redelivery = await step(() => sendBackfill(key));
    const newVersion = await step(() => harness.put(key, 'second version', PRINT));

    // Assess: claim, file owner, settle; claim, settle; claim, the file taken for the new version, settle; and for
    // each export-state change (the first export, the new version) the receipt's record of the receipt EventBridge
    // accepted
    expect(first).toEqual({
      ledger: ['UpdateItem', 'UpdateItem', 'UpdateItem', 'UpdateItem'],
      dropbox: ['files/get_metadata', 'files/upload'],
    });
    expect(redelivery).toEqual({ ledger: ['UpdateItem', 'UpdateItem'], dropbox: ['files/get_metadata'] });
    expect(newVersion).toEqual({
      ledger: ['UpdateItem', 'UpdateItem', 'UpdateItem', 'UpdateItem'],
      dropbox: ['files/get_metadata', 'files/upload'],
    });
  });

  it('takes five writes for a file two tickets share, and six for a new version that goes beside it (receipts included)', async () => {
    // Prepare
    await harness.put('tickets/9001/Proof.pdf', 'shared artwork', PRINT);
    await harness.drain();

    // Act
    const sharer = await step(() => harness.put('tickets/9002/Proof.pdf', 'shared artwork', PRINT));
    const beside = await step(() => harness.put('tickets/9001/Proof.pdf', 'owner changed it', PRINT));

    // Assess: claim, file owner (refused), sharer, settle, receipt; claim, take (refused), new file's owner, settle,
    // leave, receipt
    expect(sharer.ledger).toEqual(Array(5).fill('UpdateItem'));
    expect(beside).toEqual({
      ledger: Array(6).fill('UpdateItem'),
      dropbox: ['files/get_metadata', 'files/get_metadata', 'files/upload'],
    });
  });
});

describe('two instances of the function on one object', () => {
  it('export an upload and its tag change once, beside another ticket’s file, with no second copy', async () => {
    // Prepare: another ticket's Proof.pdf at the path; the upload and a tag change seconds later
    await harness.put('tickets/9001/Proof.pdf', 'ticket 9001', PRINT);
    await harness.drain();
    const key = 'tickets/9002/Proof.pdf';
    await harness.put(key, 'ticket 9002!', PRINT);
    await harness.tag(key, { review: 'ok' });
    const events = await harness.receive();
    harness.stack.dropbox?.setFaults({ latencyMs: 150 });

    // Act: each event to its own instance, at the same time
    const failed = await Promise.all(
      events.map((event) => harness.invoke([event], { handler: harness.instance() })),
    );
    harness.stack.dropbox?.setFaults({});

    // Assess
    expect(events.map(keyOf)).toEqual([key, key]);
    expect(failed.flat()).toEqual([]);
    expect(await tree()).toEqual({ [PROOF]: 11, [PROOF_1]: 12 });
    expect((await harness.record(key))?.export?.file.pathDisplay).toBe(PROOF_1);
    const outcomes = harness.outcomes.filter((outcome) => outcome.key === key);
    expect(outcomes.map((outcome) => outcome.decision).sort()).toEqual(['exported', 'skipped']);
  });

  /** `tickets/9001/Proof.pdf` claimed by another instance for a whole 15-minute invocation. */
  async function claimedElsewhere(): Promise<{ key: string; id: string }> {
    const key = 'tickets/9001/Proof.pdf';
    const bucket = harness.stack.outputs.BucketName;
    const id = ledgerId(bucket, key);
    const now = Date.now();
    await harness.ledger.claim({
      id,
      bucket,
      key,
      owner: 'the other instance',
      expiresAt: now + 900_000,
      now,
    });
    return { key, id };
  }

  it('give a record that meets the other’s claim back to the queue for seconds, growing, not for the claim’s whole length', async () => {
    // Prepare: another instance holds the object's claim for a whole 15-minute invocation
    const { key, id } = await claimedElsewhere();
    const waiting = harness.instance({
      override: (deps) => ({ ...deps, claimWaitMs: 0, random: () => 0.999 }),
    });
    await harness.put(key, 'exported once the claim is gone', PRINT);

    // Act: four receives meet the claim; the holder then finishes, and the fifth receive exports
    const delays: number[] = [];
    for (let receive = 1; receive <= 4; receive += 1) {
      const failed = await harness.invoke(await harness.receive(), { handler: waiting });
      delays.push(harness.failures.at(-1)?.retryInSeconds ?? -1);
      await harness.redeliver(failed);
    }
    await harness.ledger.release(id, 'the other instance');
    const failedAtLast = await harness.drain();

    // Assess: 10, 20, 40 s, then (one receive before the DLQ) until the claim ends
    expect(harness.failures.map((failure) => failure.code)).toEqual(Array(4).fill('export-in-progress'));
    expect(delays.slice(0, 3)).toEqual([10, 20, 40]);
    expect(delays[3]).toBeGreaterThan(850);
    expect(delays[3]).toBeLessThanOrEqual(901);
    expect(failedAtLast).toEqual([]);
    expect(await tree()).toEqual({ [PROOF]: 31 });
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
  });

  it('send a record that still meets the other’s claim on its last receive back as a fresh copy, never to the DLQ', async () => {
    // Prepare: the other instance's claim outlasts all five receives (a new claim of a later event, a long upload)
    const { key } = await claimedElsewhere();
    const waiting = harness.instance({ override: (deps) => ({ ...deps, claimWaitMs: 0 }) });
    await harness.put(key, 'exported once the claim is gone', PRINT);

    // Act: five receives meet the claim
    for (let receive = 1; receive <= 5; receive += 1) {
      const failed = await harness.invoke(await harness.receive(), { handler: waiting });
      await harness.redeliver(failed);
    }

    // Assess: four retries, then a copy that waits out the claim (at most SQS's 900 s delay); nothing in the DLQ
    expect(harness.failures.map((failure) => [failure.code, failure.route])).toEqual([
      ...Array(4).fill(['export-in-progress', 'retry']),
      ['export-in-progress', 'requeue'],
    ]);
    expect(harness.failures.at(-1)?.retryInSeconds).toBeGreaterThan(850);
    expect(harness.failures.at(-1)?.retryInSeconds).toBeLessThanOrEqual(900);
    expect(await harness.depth()).toMatchObject({ dlq: 0 });
  });

  it('end with the newest of two versions in Dropbox and in the ledger, and no copy of the older one', async () => {
    // Prepare
    await harness.put('tickets/9001/Proof.pdf', 'ticket 9001', PRINT);
    await harness.drain();
    const key = 'tickets/9002/Proof.pdf';
    await harness.put(key, 'version one', PRINT);
    await harness.put(key, 'version two!', PRINT);
    const events = await harness.receive();
    harness.stack.dropbox?.setFaults({ latencyMs: 150 });

    // Act
    const failed = await Promise.all(
      events.map((event) => harness.invoke([event], { handler: harness.instance() })),
    );
    harness.stack.dropbox?.setFaults({});
    await harness.redeliver(failed.flat());
    await harness.drain();

    // Assess
    expect(await tree()).toEqual({ [PROOF]: 11, [PROOF_1]: 12 });
    expect(await contentHashAt(PROOF_1)).toBe(hashOf('version two!'));
    expect((await harness.record(key))?.object?.eTag).toBe(md5('version two!'));
  });
});
