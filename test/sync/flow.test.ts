import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { toSqsRecord } from '../../tools/local/poller.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

const print = { 'ticket-type': 'print', 'publication-alias': 'Daily', 'issue-alias': 'Dec' };

function dataCalls(harness: Harness): number {
  return harness.stack.dropbox?.requestLog.filter((entry) => /files\/upload/.test(entry.route)).length ?? 0;
}

describe('the sync function on the local stack', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(async () => {
    harness.stack.dropbox?.setFaults({});
    await harness.setSetting('export-by-status', undefined);
    await harness.setSetting('export-to-single-folder', undefined);
    await harness.setSetting('on-conflict', undefined);
    await harness.setSetting('file-name-template', undefined);
  });

  it('exports a file tagged final after upload under export-by-status final, and a later tag change uploads nothing', async () => {
    // Prepare
    await harness.setSetting('export-by-status', 'final');
    await harness.setSetting('base-folder', '/Tagged');
    await harness.put('tickets/t1/late.pdf', 'late final', print);
    expect(await harness.drain()).toEqual([]);
    expect(harness.outcomes.at(-1)?.reason.code).toBe('non-final-excluded');
    // Act
    await harness.tag('tickets/t1/late.pdf', { 'file-status': 'final' });
    await harness.drain();
    const afterFinal = dataCalls(harness);
    await harness.tag('tickets/t1/late.pdf', { 'file-status': 'final', 'av-scan': 'clean' });
    await harness.drain();
    // Assess
    expect(await dropboxTree(harness.dropbox, '/Tagged')).toEqual({ '/Tagged/late.pdf': 10 });
    expect(harness.outcomes.at(-1)?.reason.code).toBe('already-exported');
    expect(dataCalls(harness)).toBe(afterFinal);
  });

  it('keeps both tickets’ Proof.pdf under rename and replaces it under overwrite', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Clash rename');
    await harness.put('tickets/a1/Proof.pdf', 'first ticket', print);
    await harness.put('tickets/a2/Proof.pdf', 'second ticket!', print);
    // Act
    await harness.drain();
    await harness.setSetting('base-folder', '/Clash overwrite');
    await harness.setSetting('on-conflict', 'overwrite');
    await harness.put('tickets/b1/Proof.pdf', 'first ticket', print);
    await harness.drain();
    await harness.put('tickets/b2/Proof.pdf', 'second ticket!', print);
    await harness.drain();
    // Assess
    expect(await dropboxTree(harness.dropbox, '/Clash rename')).toEqual({
      '/Clash rename/Proof (1).pdf': 14,
      '/Clash rename/Proof.pdf': 12,
    });
    expect(await dropboxTree(harness.dropbox, '/Clash overwrite')).toEqual({
      '/Clash overwrite/Proof.pdf': 14,
    });
  });

  it('leaves one file for a redelivered event, skips a stale event as superseded and a deleted object as missing', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Redelivery');
    await harness.put('tickets/r1/once.pdf', 'exactly once', print);
    const queued = await harness.depth();
    expect(queued.queue).toBe(1);
    await harness.drain();
    const head = harness.outcomes.at(-1);
    // Act: the same notification again (at-least-once delivery), a stale one, and one for a deleted object
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    const send = (body: string) =>
      harness.sqs.send(
        new SendMessageCommand({ QueueUrl: harness.stack.outputs.QueueUrl, MessageBody: body }),
      );
    const bucket = harness.stack.outputs.BucketName;
    await harness.put('tickets/r1/once.pdf', 'exactly once', print);
    await harness.drain();
    await send(
      buildS3Notification([
        {
          eventName: 'ObjectCreated:Put',
          bucket,
          key: 'tickets/r1/once.pdf',
          eTag: '0123456789abcdef0123456789abcdef',
          size: 12,
        },
      ]),
    );
    await harness.drain();
    const stale = harness.outcomes.at(-1);
    await harness.put('tickets/r1/gone.pdf', 'soon deleted', print);
    await harness.remove('tickets/r1/gone.pdf');
    await harness.drain();
    const gone = harness.outcomes.at(-1);
    // Assess
    expect(head?.decision).toBe('exported');
    expect(await dropboxTree(harness.dropbox, '/Redelivery')).toEqual({ '/Redelivery/once.pdf': 12 });
    expect(stale?.reason.code).toBe('superseded');
    expect(gone?.reason.code).toBe('object-missing');
  });

  it('ends with the newest version in Dropbox when two versions race', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Race');
    await harness.put('tickets/v/art.pdf', 'version one', print);
    await harness.put('tickets/v/art.pdf', 'version two, newer', print);
    // Act
    await harness.drain();
    // Assess
    const file = await harness.dropbox.getFileMetadata('/Race/art.pdf');
    expect(file?.contentHash).toBe(computeContentHash(Buffer.from('version two, newer')));
    expect(await dropboxTree(harness.dropbox, '/Race')).toEqual({ '/Race/art.pdf': 18 });
  });

  it('fails records on a bad setting with an error naming the parameter, and exports them after the fix', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Bad setting');
    await harness.setSetting('export-by-status', 'sometimes');
    await harness.put('tickets/s1/one.pdf', 'one', print);
    await harness.put('tickets/s1/two.pdf', 'two', print);
    // Act
    const failed = await harness.drain();
    const failures = harness.failures.slice(-2);
    const pausedWhileBad = harness.paused();
    await harness.setSetting('export-by-status', 'non-final');
    const probed = await harness.probe();
    const failedAgain = await harness.drain();
    // Assess: account-wide, so the breaker holds the flow and the records wait, requeued, until the probe sees the fix
    expect(failed).toEqual([]);
    expect(failures.map((f) => [f.kind, f.route])).toEqual([
      ['account', 'requeue'],
      ['account', 'requeue'],
    ]);
    expect(pausedWhileBad).toBe(true);
    expect(probed).toMatchObject({ action: 'released' });
    expect(failures[0]?.message).toContain('export-by-status');
    expect(failures[0]?.message).toMatch(/non-final.*final.*all/);
    expect(failedAgain).toEqual([]);
    expect(Object.keys(await dropboxTree(harness.dropbox, '/Bad setting'))).toEqual([
      '/Bad setting/one.pdf',
      '/Bad setting/two.pdf',
    ]);
  });

  it('fails exactly the records that need Dropbox during an outage, and they succeed on redelivery', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Outage');
    await harness.put('tickets/o/a.pdf', 'a', print);
    await harness.put('tickets/o/b.pdf', 'b', print);
    await harness.put('tickets/o/skip.pdf', 'not a ticket', {});
    harness.stack.dropbox?.setFaults({ rate5xx: 1 });
    // Act
    const failed = await harness.drain();
    const kinds = harness.failures.slice(-2).map((f) => f.kind);
    harness.stack.dropbox?.setFaults({});
    await harness.redeliver(failed);
    const failedAgain = await harness.drain();
    // Assess
    expect(failed).toHaveLength(2);
    expect(kinds).toEqual(['transient', 'transient']);
    expect(harness.failures.slice(-2).every((f) => f.retryInSeconds >= 1)).toBe(true);
    expect(failedAgain).toEqual([]);
    expect(Object.keys(await dropboxTree(harness.dropbox, '/Outage'))).toEqual([
      '/Outage/a.pdf',
      '/Outage/b.pdf',
    ]);
  });

  it('reports the records still running at the deadline as failed, and they succeed on redelivery', async () => {
    // Prepare: every Dropbox call takes 4 s; the function has 11.5 s left and keeps 10 s back
    await harness.setSetting('base-folder', '/Deadline');
    await harness.put('tickets/d/slow-1.pdf', 'slow one', print);
    await harness.put('tickets/d/slow-2.pdf', 'slow two', print);
    harness.stack.dropbox?.setFaults({ latencyMs: 4000 });
    // Act
    const failed = await harness.drain({ remainingMs: 11_500 });
    const kinds = harness.failures.slice(-2).map((f) => f.kind);
    harness.stack.dropbox?.setFaults({});
    await harness.redeliver(failed);
    const failedAgain = await harness.drain();
    // Assess
    expect(failed).toHaveLength(2);
    expect(kinds).toEqual(['aborted', 'aborted']);
    expect(failedAgain).toEqual([]);
    expect(Object.keys(await dropboxTree(harness.dropbox, '/Deadline'))).toEqual([
      '/Deadline/slow-1.pdf',
      '/Deadline/slow-2.pdf',
    ]);
  });

  it('makes one settings call for a batch of 50 records', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Fifty');
    for (let i = 0; i < 50; i += 1) await harness.put(`tickets/f/${i}.pdf`, `file ${i}`, print);
    const before = harness.stack.ssm.calls.filter((c) => c.action === 'GetParametersByPath').length;
    const { createHandler, runtimeDeps } = await import('../../functions/sync-to-dropbox/handler.ts');
    const handler = createHandler(
      runtimeDeps({ env: { ...process.env, ...harness.stack.env, SETTINGS_CACHE_TTL_SECONDS: '60' } }),
    );
    const { ReceiveMessageCommand, DeleteMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    const records = [];
    while (records.length < 50) {
      const received = await harness.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: harness.stack.outputs.QueueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      for (const message of received.Messages ?? []) {
        records.push(toSqsRecord(message, harness.stack.outputs.QueueArn, 'us-east-1'));
      }
    }
    // Act
    const response = await handler({ Records: records }, {
      getRemainingTimeInMillis: () => 900_000,
    } as never);
    for (let i = 0; i < records.length; i += 10) {
      await harness.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: harness.stack.outputs.QueueUrl,
          Entries: records.slice(i, i + 10).map((r, j) => ({ Id: `e${j}`, ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
    // Assess
    const after = harness.stack.ssm.calls.filter((c) => c.action === 'GetParametersByPath').length;
    expect(response?.batchItemFailures).toEqual([]);
    expect(after - before).toBe(1);
    expect(Object.keys(await dropboxTree(harness.dropbox, '/Fifty'))).toHaveLength(50);
  });
});
