import { describe, expect, test } from 'vitest';
import { decodeS3Key, MalformedEventError, parseS3Message, SyncError } from '../../lib/index.ts';

/** One record in the structure of AWS's documented example (event message structure, version 2.1). */
function awsRecord(
  encodedKey: string,
  overrides: { eventName?: string; object?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-west-2',
    eventTime: '2026-11-27T13:40:08.123Z',
    eventName: overrides.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.10' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'ticket-files',
      bucket: {
        name: 'amzn-s3-demo-bucket',
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: 'arn:aws:s3:::amzn-s3-demo-bucket',
      },
      object: {
        key: encodedKey,
        size: 1024,
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
        sequencer: '0055AED6DCD90281E5',
        ...overrides.object,
      },
    },
  };
}

function body(...records: Record<string, unknown>[]): string {
  return JSON.stringify({ Records: records });
}

describe('parseS3Message', () => {
  // The encoded forms are written by hand as S3 sends them: form-URL-encoded, a space as '+'.
  test.each([
    ['spaces', 'tickets/1234/Final+Proof+v2.pdf', 'tickets/1234/Final Proof v2.pdf'],
    ['a plus', 'tickets/1234/A%2BB.pdf', 'tickets/1234/A+B.pdf'],
    ['a percent', 'tickets/1234/100%25+done.pdf', 'tickets/1234/100% done.pdf'],
    ['an encoded percent sequence, decoded once only', 'tickets/1234/a%252Bb.pdf', 'tickets/1234/a%2Bb.pdf'],
    ['a hash and a question mark', 'tickets/1234/Proof%232%3F.pdf', 'tickets/1234/Proof#2?.pdf'],
    ['an emoji', 'tickets/1234/%F0%9F%8E%89+Launch.pdf', 'tickets/1234/🎉 Launch.pdf'],
    ['Japanese', 'tickets/1234/%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf', 'tickets/1234/日本語.pdf'],
    ['Cyrillic', 'tickets/%D0%9C%D0%B0%D0%BA%D0%B5%D1%82.pdf', 'tickets/Макет.pdf'],
    ['Arabic', 'tickets/%D8%B9%D8%B1%D8%B6.pdf', 'tickets/عرض.pdf'],
    ['reserved characters', 'tickets/a%26b%3Dc%3Bd%2Ce%40f.pdf', 'tickets/a&b=c;d,e@f.pdf'],
    ['encoded slashes', 'tickets/a%2Fb.pdf', 'tickets/a/b.pdf'],
  ])('decodes a key holding %s exactly once', (_label, encoded, decoded) => {
    // Act
    const parsed = parseS3Message('msg-1', body(awsRecord(encoded)));

    // Assess
    expect(parsed.kind).toBe('records');
    if (parsed.kind !== 'records') return;
    expect(parsed.records.map((record) => record.key)).toEqual([decoded]);
  });

  test('carries bucket, time, size, eTag, versionId and sequencer along', () => {
    // Act
    const parsed = parseS3Message('msg-1', body(awsRecord('tickets/1/a.pdf')));

    // Assess
    expect(parsed).toEqual({
      kind: 'records',
      records: [
        {
          eventName: 'ObjectCreated:Put',
          eventTime: '2026-11-27T13:40:08.123Z',
          bucket: 'amzn-s3-demo-bucket',
          key: 'tickets/1/a.pdf',
          size: 1024,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
          sequencer: '0055AED6DCD90281E5',
        },
      ],
      ignored: [],
    });
  });

  test('reads a record of an unversioned bucket with a null versionId and a quoted eTag', () => {
    // Act
    const parsed = parseS3Message(
      'msg-1',
      body(awsRecord('a.pdf', { object: { versionId: null, eTag: '"abc-2"', size: '2048' } })),
    );

    // Assess
    expect(parsed).toMatchObject({
      kind: 'records',
      records: [{ versionId: undefined, eTag: 'abc-2', size: 2048 }],
    });
  });

  test('reads a tagging record without size or sequencer', () => {
    // Prepare
    const record = awsRecord('tickets/1/a.pdf', { eventName: 'ObjectTagging:Put' });
    const s3 = record.s3 as { object: Record<string, unknown> };
    s3.object = { key: 'tickets/1/a.pdf', eTag: 'e1', versionId: 'v1' };

    // Act
    const parsed = parseS3Message('msg-1', body(record));

    // Assess
    expect(parsed).toMatchObject({
      kind: 'records',
      records: [{ eventName: 'ObjectTagging:Put', eTag: 'e1', size: undefined, sequencer: undefined }],
    });
  });

  test.each([
    ['ObjectCreated:Put'],
    ['ObjectCreated:Post'],
    ['ObjectCreated:Copy'],
    ['ObjectCreated:CompleteMultipartUpload'],
    ['ObjectTagging:Put'],
  ])('keeps %s', (eventName) => {
    // Act
    const parsed = parseS3Message('msg-1', body(awsRecord('a.pdf', { eventName })));

    // Assess
    expect(parsed).toMatchObject({ kind: 'records', records: [{ eventName }], ignored: [] });
  });

  test.each([
    ['ObjectRemoved:Delete'],
    ['ObjectRemoved:DeleteMarkerCreated'],
    ['ObjectTagging:Delete'],
    ['ObjectRestore:Completed'],
    ['LifecycleExpiration:Delete'],
  ])('ignores %s as an unsupported event, keeping its decoded key', (eventName) => {
    // Act
    const parsed = parseS3Message('msg-1', body(awsRecord('tickets/My+File.pdf', { eventName })));

    // Assess
    expect(parsed).toMatchObject({
      kind: 'records',
      records: [],
      ignored: [{ eventName, key: 'tickets/My File.pdf', reason: { code: 'unsupported-event' } }],
    });
  });

  test('strips the s3: prefix some emitters put on the event name', () => {
    // Act
    const parsed = parseS3Message('msg-1', body(awsRecord('a.pdf', { eventName: 's3:ObjectCreated:Put' })));

    // Assess
    expect(parsed).toMatchObject({ kind: 'records', records: [{ eventName: 'ObjectCreated:Put' }] });
  });

  test('reads every record of a message holding several', () => {
    // Act
    const parsed = parseS3Message(
      'msg-1',
      body(
        awsRecord('a.pdf'),
        awsRecord('b.pdf', { eventName: 'ObjectRemoved:Delete' }),
        awsRecord('c.pdf', { eventName: 'ObjectTagging:Put' }),
      ),
    );

    // Assess
    expect(parsed.kind === 'records' && parsed.records.map((record) => record.key)).toEqual([
      'a.pdf',
      'c.pdf',
    ]);
    expect(parsed.kind === 'records' && parsed.ignored.map((entry) => entry.key)).toEqual(['b.pdf']);
  });

  test('skips the s3:TestEvent S3 sends when the notification is configured', () => {
    // Prepare
    const testEvent = JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2026-11-27T13:40:08.089Z',
      Bucket: 'amzn-s3-demo-bucket',
      RequestId: '5582815E1AEA5ADF',
      HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
    });

    // Act
    const parsed = parseS3Message('msg-1', testEvent);

    // Assess
    expect(parsed).toMatchObject({ kind: 'skip', reason: { code: 'test-event' } });
  });

  test('skips a notification whose Records are empty with its own reason, so that it gets an outcome', () => {
    // Act
    const parsed = parseS3Message('msg-1', '{"Records":[]}');

    // Assess
    expect(parsed).toMatchObject({ kind: 'skip', reason: { code: 'no-event-records' } });
  });

  test.each([
    ['an object without Records', '{"hello":"world"}'],
    ['an array', '[1,2]'],
    ['a string', '"text"'],
    ['null', 'null'],
    ['an SNS envelope', JSON.stringify({ Type: 'Notification', Message: '{}', TopicArn: 'arn:aws:sns:x' })],
    ['records from another source', JSON.stringify({ Records: [{ eventSource: 'aws:sqs', body: 'x' }] })],
  ])('skips %s as not an S3 notification', (_label, text) => {
    // Act
    const parsed = parseS3Message('msg-1', text);

    // Assess
    expect(parsed).toMatchObject({ kind: 'skip', reason: { code: 'not-s3-notification' } });
  });

  test.each([
    ['a body that is not JSON', 'not json {'],
    ['an empty body', ''],
    ['a record without a key', body(awsRecord('a.pdf', { object: { key: undefined } }))],
    ['a record with a numeric key', body(awsRecord('a.pdf', { object: { key: 42 } }))],
    ['a key with a broken percent escape', body(awsRecord('tickets/%E0%A4%A.pdf'))],
  ])('throws MalformedEventError naming the message id for %s', (_label, text) => {
    // Act
    const parse = () => parseS3Message('3f1c2b7e-message-id', text);

    // Assess
    expect(parse).toThrowError(MalformedEventError);
    expect(parse).toThrowError(/3f1c2b7e-message-id/);
  });

  test('classifies a malformed event as a permanent failure with code malformed-event', () => {
    // Act
    let caught: unknown;
    try {
      parseS3Message('msg-9', body({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: {} }));
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(SyncError);
    expect(caught).toMatchObject({ kind: 'permanent', code: 'malformed-event', messageId: 'msg-9' });
    expect(String(caught)).toContain('Records[0]');
  });
});

describe('decodeS3Key', () => {
  test('reads + as a space and %2B as a plus', () => {
    // Act
    const decoded = decodeS3Key('a+b%2Bc');

    // Assess
    expect(decoded).toBe('a b+c');
  });
});
