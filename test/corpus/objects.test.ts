/**
 * Objects that are not there any more, and objects with nothing in them: a missing object is a permanent skip
 * (`object-missing`, DESIGN.md "Errors"), a zero-byte file is a file like any other and exports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { PRINT, sendBody } from './support.ts';

describe('missing and empty objects', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Objects' } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('skips an object deleted before its event is processed as object-missing, and the message leaves the queue', async () => {
    // Prepare
    await harness.put('tickets/o/deleted.pdf', 'deleted at once', PRINT);
    await harness.remove('tickets/o/deleted.pdf');

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(harness.outcomes.at(-1)).toMatchObject({
      key: 'tickets/o/deleted.pdf',
      decision: 'skipped',
      reason: { code: 'object-missing' },
    });
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
    expect(await dropboxTree(harness.dropbox, '/Objects')).toEqual({});
  });

  it('skips an event for a key that never existed, and for a bucket that does not exist, as object-missing', async () => {
    // Prepare
    await sendBody(
      harness,
      buildS3Notification([
        { eventName: 'ObjectCreated:Put', bucket: 'ticket-files', key: 'tickets/o/never.pdf', size: 3 },
        { eventName: 'ObjectCreated:Put', bucket: 'no-such-bucket', key: 'tickets/o/never.pdf', size: 3 },
      ]),
    );

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(harness.outcomes.slice(-2).map((outcome) => [outcome.bucket, outcome.reason.code])).toEqual([
      ['ticket-files', 'object-missing'],
      ['no-such-bucket', 'object-missing'],
    ]);
  });

  it('exports a zero-byte file with the empty content hash, once', async () => {
    // Prepare
    await harness.put('tickets/o/empty.pdf', Buffer.alloc(0), PRINT);

    // Act
    const failed = await harness.drain();
    await harness.tag('tickets/o/empty.pdf', { 'av-scan': 'clean' });
    const failedAfterTag = await harness.drain();

    // Assess
    expect([...failed, ...failedAfterTag]).toEqual([]);
    const [exported, tagged] = harness.outcomes.slice(-2);
    expect(exported).toMatchObject({ decision: 'exported', size: 0, dropboxPath: '/Objects/empty.pdf' });
    expect(tagged).toMatchObject({ decision: 'skipped', reason: { code: 'already-exported' } });
    const file = await harness.dropbox.getFileMetadata('/Objects/empty.pdf');
    expect(file).toMatchObject({ size: 0, contentHash: computeContentHash(new Uint8Array(0)) });
  });
});
