/**
 * The sync function's upload paths on the local stack: the small files of one batch committed together in one
 * `finish_batch_v2` (or one by one with `UPLOAD_BATCH_COMMITS=off`), and a large object read in ranged `GetObject`
 * calls into a concurrent upload session (`UPLOAD_CHUNK_MIB`, `UPLOAD_CHUNKS_IN_FLIGHT`).
 */
import { createHash } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, runtimeDeps } from '../../functions/sync-to-dropbox/handler.ts';
import { clearDropboxClientCache } from '../../lib/dropbox/client.ts';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { toSqsRecord } from '../../tools/local/poller.ts';
import type { Harness } from '../support/harness.ts';
import { startHarness } from '../support/harness.ts';

const SERVICE = { 'ticket-type': 'service' };
const MIB = 1024 * 1024;

/** Deterministic bytes (no Buffer comparison of megabytes in the assertions: hashes instead). */
function content(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.byteLength) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Runs every visible message through `handler` in batches of up to 10, as the event source mapping would. */
async function drainWith(harness: Harness, handler: ReturnType<typeof createHandler>): Promise<number> {
  let failed = 0;
  for (;;) {
    const { Messages = [] } = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: harness.stack.outputs.QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return failed;
    const event: SQSEvent = {
      Records: Messages.map((message) => toSqsRecord(message, harness.stack.outputs.QueueArn, 'us-east-1')),
    };
    const context = { getRemainingTimeInMillis: () => 900_000 } as Context;
    const response = await handler(event, context);
    const failedIds = new Set((response?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
    failed += failedIds.size;
    const done = event.Records.filter((record) => !failedIds.has(record.messageId));
    if (done.length > 0) {
      await harness.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: harness.stack.outputs.QueueUrl,
          Entries: done.map((record, index) => ({ Id: `m${index}`, ReceiptHandle: record.receiptHandle })),
        }),
      );
    }
  }
}

describe('the sync function’s upload paths', () => {
  let harness: Harness;
  let handler: ReturnType<typeof createHandler>;
  beforeAll(async () => {
    harness = await startHarness();
    // The client cache keeps the tuning of the first client for these credentials: this handler's must be first.
    clearDropboxClientCache();
    handler = createHandler(
      runtimeDeps({
        env: {
          ...process.env,
          ...harness.stack.env,
          SETTINGS_CACHE_TTL_SECONDS: '0',
          UPLOAD_CHUNK_MIB: '4',
          UPLOAD_CHUNKS_IN_FLIGHT: '3',
        },
        uploadTuning: { maxAttempts: 2, backoffBaseMs: 5, backoffCapMs: 20 },
      }),
    );
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('commits the small files of one batch with one finish_batch_v2, in four S3 calls per file', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Batched');
    const names = Array.from({ length: 8 }, (_, index) => `proof-${index}.pdf`);
    for (const name of names) await harness.put(`tickets/b/${name}`, content(1000, name), SERVICE);
    const dropboxBefore = harness.stack.dropbox?.requestLog.length ?? 0;
    const s3Before = harness.stack.s3.calls.length;

    // Act
    const failed = await drainWith(harness, handler);

    // Assess
    expect(failed).toBe(0);
    const routes = (harness.stack.dropbox?.requestLog ?? []).slice(dropboxBefore).map((entry) => entry.route);
    expect(routes.filter((route) => route === 'files/upload_session/finish_batch_v2')).toHaveLength(1);
    expect(routes.filter((route) => route === 'files/upload_session/start')).toHaveLength(8);
    expect(routes.filter((route) => route === 'files/upload')).toHaveLength(0);
    expect(harness.stack.s3.calls.length - s3Before).toBe(4 * names.length);
    const exported = await harness.dropbox.listFolder('/Batched');
    expect(exported.map((file) => file.name).sort()).toEqual([...names].sort());
    expect(exported.every((file) => file.contentHash === computeContentHash(content(1000, file.name)))).toBe(
      true,
    );
  });

  it('commits each small file with its own files/upload when batch commits are off', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/One by one');
    const single = createHandler(
      runtimeDeps({
        env: {
          ...process.env,
          ...harness.stack.env,
          SETTINGS_CACHE_TTL_SECONDS: '0',
          UPLOAD_BATCH_COMMITS: 'off',
        },
      }),
    );
    for (let index = 0; index < 3; index += 1)
      await harness.put(`tickets/o/file-${index}.pdf`, content(500, `o${index}`), SERVICE);
    const before = harness.stack.dropbox?.requestLog.length ?? 0;

    // Act
    const failed = await drainWith(harness, single);

    // Assess
    expect(failed).toBe(0);
    const routes = (harness.stack.dropbox?.requestLog ?? []).slice(before).map((entry) => entry.route);
    expect(routes.filter((route) => route === 'files/upload')).toHaveLength(3);
    expect(routes.filter((route) => route.startsWith('files/upload_session/'))).toHaveLength(0);
  });

  it('reads a large object in ranged GetObject calls into a concurrent session, its hash verified', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Large');
    const data = content(18 * MIB + 3, 'large');
    await harness.put('tickets/l/artwork.tif', data, SERVICE);
    const dropboxBefore = harness.stack.dropbox?.requestLog.length ?? 0;
    const s3Before = harness.stack.s3.calls.length;

    // Act
    const failed = await drainWith(harness, handler);

    // Assess
    expect(failed).toBe(0);
    expect(await harness.dropbox.getFileMetadata('/Large/artwork.tif')).toMatchObject({
      size: data.byteLength,
      contentHash: computeContentHash(data),
    });
    const sessions = (harness.stack.dropbox?.requestLog ?? [])
      .slice(dropboxBefore)
      .filter((entry) => entry.route.startsWith('files/upload_session/'));
    expect(sessions.map((entry) => [entry.route, entry.bytesIn])).toEqual([
      ['files/upload_session/start', 0],
      ...Array(4).fill(['files/upload_session/append_v2', 4 * MIB]),
      ['files/upload_session/append_v2', 2 * MIB + 3],
      ['files/upload_session/finish', 0],
    ]);
    const s3 = harness.stack.s3.calls.slice(s3Before).map((call) => call.action);
    expect(s3.filter((action) => action === 'GetObject')).toHaveLength(5);
  });
});
