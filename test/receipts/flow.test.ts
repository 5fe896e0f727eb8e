/**
 * Receipts on the local stack, in the default settings (`rename`, single folder, `{fileName}`) with names that
 * collide across tickets: one receipt per export-state change and none for the no-ops, a refused entry, EventBridge
 * down for a whole invocation, a blocked file exported after the fix, and every receipt in the README's shape.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReceiptDetail } from '../../lib/receipts.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { documentedDetailFields, shapeProblems } from './readme-shape.ts';

const print = (ticketId: string) => ({
  'ticket-type': 'print',
  'ticket-id': ticketId,
  'publication-alias': 'Daily',
  'issue-alias': 'Dec',
});

/** Content of a fixed size, different for each label. */
function bytes(label: string, size = 64): Buffer {
  return Buffer.from(label.padEnd(size, '.').slice(0, size));
}

interface Seen {
  readonly type: string;
  readonly key: string;
  readonly code: string;
  readonly path: string | null;
}

describe('receipts on the local stack', () => {
  let harness: Harness;
  /** Receipts (events accepted by the local EventBridge) seen so far. */
  let seen = 0;

  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(() => {
    harness.stack.events.setFaults({});
    harness.stack.dropbox?.setFaults({});
  });

  /** The receipts accepted since the last call, in order. */
  const newReceipts = (): ReceiptDetail[] => {
    const events = harness.stack.events.events.slice(seen);
    seen = harness.stack.events.events.length;
    return events.map((event) => event.detail as ReceiptDetail);
  };
  const summary = (details: readonly ReceiptDetail[]): Seen[] =>
    details.map((detail) => ({
      type: detail.state,
      key: detail.key,
      code: detail.reason.code,
      path: detail.dropbox?.path ?? null,
    }));
  /** Files whose content was sent to Dropbox: one `files/upload` or one upload session each. */
  const uploads = (): number =>
    harness.stack.dropbox?.requestLog.filter(
      (entry) => entry.route === 'files/upload' || entry.route === 'files/upload_session/start',
    ).length ?? 0;
  const sendNotification = async (key: string, eventName = 'ObjectCreated:Put'): Promise<void> => {
    const bucket = harness.stack.outputs.BucketName;
    const head = await harness.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await harness.sqs.send(
      new SendMessageCommand({
        QueueUrl: harness.stack.outputs.QueueUrl,
        MessageBody: buildS3Notification([
          { eventName, bucket, key, eTag: head.ETag, size: head.ContentLength, versionId: head.VersionId },
        ]),
      }),
    );
  };

  it('sends one receipt per export-state change and none for redeliveries, unchanged tags or backfills', async () => {
    // Prepare: two tickets' Proof.pdf, same size, different bytes, in the same second.
    newReceipts();
    const changesBefore = harness.outcomes.filter((outcome) => outcome.stateChanged).length;
    await harness.put('tickets/9001/Proof.pdf', bytes('ticket 9001 proof'), print('9001'));
    await harness.put('tickets/9002/Proof.pdf', bytes('ticket 9002 proof'), print('9002'));

    // Act + Assess, step by step
    expect(await harness.drain()).toEqual([]);
    const exports = newReceipts();
    expect(summary(exports).map(({ type, key, code }) => ({ type, key, code }))).toEqual(
      expect.arrayContaining([
        { type: 'exported', key: 'tickets/9001/Proof.pdf', code: 'non-final-file' },
        { type: 'exported', key: 'tickets/9002/Proof.pdf', code: 'non-final-file' },
      ]),
    );
    expect(exports).toHaveLength(2);
    expect(exports.map((detail) => detail.dropbox?.path).sort()).toEqual([
      '/Ticket Files/Proof (1).pdf',
      '/Ticket Files/Proof.pdf',
    ]);
    for (const detail of exports) {
      const record = await harness.record(detail.key);
      expect(detail.dropbox?.path).toBe(record?.export?.file.pathDisplay);
      expect(detail.dropbox?.rev).toBe(record?.export?.file.rev);
      expect(detail.ticketId).toBe(detail.key.split('/')[1]);
      expect(detail.sequence).toBe(1);
    }

    // The same bytes put again, a tag change that changes nothing, a redelivery and a backfill: no receipt.
    await harness.put('tickets/9001/Proof.pdf', bytes('ticket 9001 proof'), print('9001'));
    await harness.drain();
    await harness.tag('tickets/9002/Proof.pdf', { 'av-scan': 'clean' });
    await harness.drain();
    await sendNotification('tickets/9002/Proof.pdf');
    await sendNotification('tickets/9002/Proof.pdf');
    expect(await harness.drain()).toEqual([]);
    expect(newReceipts()).toEqual([]);

    // A new version (same size, same second): its export replaces the object's own file, one receipt.
    await harness.put('tickets/9001/Proof.pdf', bytes('ticket 9001 proof v2'), print('9001'));
    await harness.drain();
    const newVersion = newReceipts();
    expect(summary(newVersion)).toEqual([
      {
        type: 'exported',
        key: 'tickets/9001/Proof.pdf',
        code: 'non-final-file',
        path: exports.find((detail) => detail.key === 'tickets/9001/Proof.pdf')?.dropbox?.path ?? '',
      },
    ]);
    expect(newVersion[0]?.sequence).toBe(2);

    // Tagged final under the default export-by-status non-final: skipped (the file stays in Dropbox), once.
    await harness.tag('tickets/9002/Proof.pdf', { 'file-status': 'final' });
    await harness.drain();
    await harness.tag('tickets/9002/Proof.pdf', { 'file-status': 'final', 'av-scan': 'clean' });
    await harness.drain();
    const skipped = newReceipts();
    expect(summary(skipped)).toEqual([
      {
        type: 'skipped',
        key: 'tickets/9002/Proof.pdf',
        code: 'final-excluded',
        path: exports.find((detail) => detail.key === 'tickets/9002/Proof.pdf')?.dropbox?.path ?? '',
      },
    ]);

    // Not a ticket file: skipped once, a redelivery sends nothing.
    await harness.put('tickets/readme.txt', 'no ticket-type');
    await harness.drain();
    await sendNotification('tickets/readme.txt');
    await harness.drain();
    expect(summary(newReceipts())).toEqual([
      { type: 'skipped', key: 'tickets/readme.txt', code: 'not-a-ticket-file', path: null },
    ]);

    // Every receipt matches one state change the sync reported, and the other way round.
    const changes = harness.outcomes.filter((outcome) => outcome.stateChanged).length - changesBefore;
    expect(changes).toBe(exports.length + newVersion.length + skipped.length + 1);
    expect(await dropboxTree(harness.dropbox, '/Ticket Files')).toEqual({
      '/Ticket Files/Proof (1).pdf': 64,
      '/Ticket Files/Proof.pdf': 64,
    });
  });

  it('sends an entry EventBridge refused once again in the same invocation: one receipt, one upload', async () => {
    // Prepare
    newReceipts();
    harness.stack.events.setFaults({ refuseEntries: 1, errorCode: 'ThrottlingException' });
    const before = uploads();
    await harness.put('tickets/9101/Layout.pdf', bytes('refused once'), print('9101'));

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(summary(newReceipts())).toEqual([
      {
        type: 'exported',
        key: 'tickets/9101/Layout.pdf',
        code: 'non-final-file',
        path: '/Ticket Files/Layout.pdf',
      },
    ]);
    expect(uploads() - before).toBe(1);
    expect(await harness.record('tickets/9101/Layout.pdf')).toMatchObject({ receiptSequence: 1 });
  });

  it('keeps every export done while EventBridge is down, and sends the receipts on a later attempt', async () => {
    // Prepare
    newReceipts();
    harness.stack.events.setFaults({ unavailable: true });
    const keys = ['tickets/9201/A.pdf', 'tickets/9202/B.pdf', 'tickets/9203/C.pdf'];
    for (const key of keys) await harness.put(key, bytes(`down ${key}`), print(key.split('/')[1] ?? ''));
    const before = uploads();

    // Act
    const failed = await harness.drain();
    const exportedWhileDown = await Promise.all(keys.map((key) => harness.record(key)));
    const uploadsWhileDown = uploads() - before;
    harness.stack.events.setFaults({});
    await harness.redeliver(failed);
    const failedAgain = await harness.drain();

    // Assess
    expect(failed).toHaveLength(3);
    expect(harness.failures.slice(-3).map((failure) => failure.code)).toEqual([
      'receipt-not-sent',
      'receipt-not-sent',
      'receipt-not-sent',
    ]);
    expect(exportedWhileDown.map((record) => record?.state)).toEqual(['exported', 'exported', 'exported']);
    expect(uploadsWhileDown).toBe(3);
    expect(failedAgain).toEqual([]);
    expect(uploads() - before).toBe(3);
    const receipts = newReceipts();
    expect(receipts.map((detail) => detail.key).sort()).toEqual(keys);
    expect(receipts.every((detail) => detail.state === 'exported' && detail.sequence === 1)).toBe(true);
    for (const key of keys) expect(await harness.record(key)).toMatchObject({ receiptSequence: 1 });
    // The receipt sent on the redelivery tells when the file was exported, not when it was sent.
    const times = Object.fromEntries(receipts.map((detail) => [detail.key, detail.time]));
    expect(times).toEqual(
      Object.fromEntries(exportedWhileDown.map((record) => [record?.key, record?.stateAt])),
    );
  });

  it('sends the receipts of one invocation in one PutEvents call', async () => {
    // Prepare
    const calls = () => harness.stack.events.calls.filter((call) => call.action === 'PutEvents').length;
    for (let index = 0; index < 6; index += 1) {
      await harness.put(
        `tickets/93${index}0/Batch ${index}.pdf`,
        bytes(`batch ${index}`),
        print(`93${index}0`),
      );
    }
    newReceipts();
    const before = calls();

    // Act
    await harness.drain({ batchSize: 10 });

    // Assess
    expect(newReceipts()).toHaveLength(6);
    expect(calls() - before).toBe(1);
  });

  it('sends a receipt for a blocked file, and one for its export after the fix', async () => {
    // Prepare: the base folder is a file in Dropbox, so Dropbox refuses every path under it.
    newReceipts();
    await harness.setSetting('base-folder', '/Blocked base');
    const content = Buffer.from('a file where the base folder should be');
    await harness.dropbox.upload({
      path: '/Blocked base',
      size: content.length,
      clientModified: new Date(),
      onConflict: 'rename',
      body: Readable.from([content]),
    });
    await harness.put('tickets/9401/Blocked.pdf', bytes('blocked'), print('9401'));

    // Act
    await harness.drain();
    const blocked = newReceipts();
    await harness.setSetting('base-folder', '/Unblocked');
    await sendNotification('tickets/9401/Blocked.pdf');
    await harness.drain();
    const after = newReceipts();
    await harness.setSetting('base-folder', undefined);

    // Assess
    expect(blocked.map((detail) => ({ state: detail.state, key: detail.key }))).toEqual([
      { state: 'blocked', key: 'tickets/9401/Blocked.pdf' },
    ]);
    expect(blocked[0]?.reason.code).toMatch(/^dropbox-/);
    expect(summary(after)).toEqual([
      {
        type: 'exported',
        key: 'tickets/9401/Blocked.pdf',
        code: 'non-final-file',
        path: '/Unblocked/Blocked.pdf',
      },
    ]);
  });

  it('writes every receipt to receipts.jsonl in the shape the README documents, with no secret', () => {
    // Prepare
    const fields = documentedDetailFields();

    // Act
    const lines = readFileSync(harness.stack.outputs.ReceiptsFile, 'utf8').split('\n').filter(Boolean);
    const events = lines.map((line) => JSON.parse(line) as { source: string; detail: unknown });

    // Assess
    expect(events.length).toBeGreaterThanOrEqual(10);
    for (const event of events) {
      expect(event.source).toBe('ticket-dropbox-sync');
      expect(shapeProblems(event.detail, fields)).toEqual([]);
    }
    const text = lines.join('\n');
    for (const secret of [EMULATOR_CREDENTIALS.refreshToken, EMULATOR_CREDENTIALS.appSecret]) {
      expect(text).not.toContain(secret);
    }
  });
});
