/**
 * Bad SQS messages: bodies that are not JSON, JSON that is not an S3 notification, records missing the fields the
 * sync needs, s3:TestEvent, and records of other event types. DESIGN.md and docs/architecture.md: each is a
 * permanent skip with a reason (logged and counted), the message is deleted, and nothing reaches Dropbox or the DLQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { PRINT, processBody, sendBody } from './support.ts';

const BUCKET = 'ticket-files';

const createdRecord = (key: string) => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  eventName: 'ObjectCreated:Put',
  eventTime: '2026-11-27T10:00:00.000Z',
  s3: { bucket: { name: BUCKET }, object: { key, size: 1 } },
});

const MALFORMED: readonly (readonly [string, string, string])[] = [
  // SQS refuses an empty body; whitespace is the emptiest one it carries.
  ['a blank body', ' \n ', 'malformed-event'],
  ['a body that is not JSON', 'this is not json {', 'malformed-event'],
  ['truncated JSON', '{"Records":[{"eventName":"ObjectCreated:Put"', 'malformed-event'],
  [
    'a record without its s3 section',
    JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', eventTime: 'x' }] }),
    'malformed-event',
  ],
  [
    'a record without a bucket name',
    JSON.stringify({
      Records: [
        { ...createdRecord('tickets/m/a.pdf'), s3: { bucket: {}, object: { key: 'tickets/m/a.pdf' } } },
      ],
    }),
    'malformed-event',
  ],
  [
    'a record that is not from S3',
    JSON.stringify({ Records: [{ eventSource: 'aws:sqs', body: '{}' }] }),
    'not-s3-notification',
  ],
  [
    'a record whose key is not URL-encoded',
    JSON.stringify({ Records: [createdRecord('tickets/m/100%.pdf')] }),
    'malformed-event',
  ],
  ['JSON that is not an object', '[1, 2, 3]', 'not-s3-notification'],
  ['a JSON string', '"ObjectCreated:Put"', 'not-s3-notification'],
  ['an SNS envelope', JSON.stringify({ Type: 'Notification', Message: '{}' }), 'not-s3-notification'],
  [
    'an EventBridge event',
    JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }),
    'not-s3-notification',
  ],
  [
    's3:TestEvent',
    JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2026-11-27T10:00:00.000Z',
      Bucket: BUCKET,
      RequestId: 'R',
      HostId: 'H',
    }),
    'test-event',
  ],
];

describe('bad SQS messages', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Messages' } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it.each(MALFORMED)('skips %s with its reason and never retries it', async (_label, body, reason) => {
    // Prepare
    await sendBody(harness, body);

    // Act
    const report = await processBody(harness, body);
    const failed = await harness.drain();

    // Assess
    expect(report.error).toBeUndefined();
    expect(report.skipped).toEqual([reason]);
    expect(report.lines.find((line) => line.message === 'skipped')?.attributes).toMatchObject({
      decision: 'skipped',
      reason,
    });
    expect(failed).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
  });

  it('skips ObjectRemoved and other event types as unsupported, deleting nothing in Dropbox', async () => {
    // Prepare
    await harness.put('tickets/m/kept.pdf', 'kept after its S3 delete', PRINT);
    await harness.drain();
    const before = await dropboxTree(harness.dropbox, '/Messages');
    const body = buildS3Notification(
      [
        'ObjectRemoved:Delete',
        'ObjectRemoved:DeleteMarkerCreated',
        'ObjectRestore:Completed',
        'LifecycleExpiration:Delete',
      ].map((eventName) => ({ eventName, bucket: BUCKET, key: 'tickets/m/kept.pdf' })),
    );
    await harness.remove('tickets/m/kept.pdf');
    await sendBody(harness, body);

    // Act
    const report = await processBody(harness, body);
    const failed = await harness.drain();

    // Assess
    expect(report.error).toBeUndefined();
    expect(report.skipped).toEqual(Array(4).fill('unsupported-event'));
    expect(report.lines.map((line) => line.attributes.eventName)).toEqual([
      'ObjectRemoved:Delete',
      'ObjectRemoved:DeleteMarkerCreated',
      'ObjectRestore:Completed',
      'LifecycleExpiration:Delete',
    ]);
    expect(failed).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
    expect(before).toEqual({ '/Messages/kept.pdf': 24 });
    expect(await dropboxTree(harness.dropbox, '/Messages')).toEqual(before);
  });

  it('exports the created object of a message that also carries a delete record', async () => {
    // Prepare: the upload's own event is drained as a skip, so that the object is not exported yet
    await harness.setSetting('export-by-status', 'final');
    await harness.put('tickets/m/mixed.pdf', 'mixed', PRINT);
    await harness.drain();
    await harness.setSetting('export-by-status', undefined);
    await harness.setSetting('base-folder', '/Messages mixed');
    const body = buildS3Notification([
      { eventName: 'ObjectRemoved:Delete', bucket: BUCKET, key: 'tickets/m/other.pdf' },
      { eventName: 'ObjectCreated:Put', bucket: BUCKET, key: 'tickets/m/mixed.pdf', size: 5 },
    ]);

    // Act
    const report = await processBody(harness, body);

    // Assess
    await harness.setSetting('base-folder', '/Messages');
    expect(report.skipped).toEqual(['unsupported-event']);
    expect(report.outcomes.map((outcome) => [outcome.decision, outcome.dropboxPath])).toEqual([
      ['exported', '/Messages mixed/mixed.pdf'],
    ]);
  });
});
