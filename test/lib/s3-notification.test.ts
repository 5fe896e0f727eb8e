import { describe, expect, it } from 'vitest';
import { parseS3Message } from '../../lib/s3-event.ts';
import { buildS3Notification, encodeS3Key } from '../../lib/s3-notification.ts';

const AWKWARD_KEYS = [
  'tickets/red flower.jpg',
  'tickets/a+b=c&d.pdf',
  'tickets/100% final (v2).pdf',
  'tickets/#hash?query.pdf',
  'tickets/🎉 party/Ünïcödé ファイル.pdf',
  'tickets/ΑΒΓ/עברית/العربية.pdf',
  "tickets/it's ~tilde~ *star*.pdf",
  'tickets/already%20encoded%2B.pdf',
];

describe('encodeS3Key', () => {
  it('encodes a space as + like the "red flower.jpg" example of the AWS documentation', () => {
    // Act
    const encoded = encodeS3Key('red flower.jpg');

    // Assess
    expect(encoded).toBe('red+flower.jpg');
  });

  it('percent-encodes +, %, reserved characters and UTF-8 bytes but keeps slashes', () => {
    // Act
    const encoded = encodeS3Key('a/b+c%d=e:f(g)/é🎉');

    // Assess
    expect(encoded).toBe('a/b%2Bc%25d%3De%3Af%28g%29/%C3%A9%F0%9F%8E%89');
  });
});

describe('buildS3Notification', () => {
  it('builds the documented record structure with eventVersion 2.1 for an object write', () => {
    // Prepare
    const eventTime = new Date('2026-11-27T10:00:00.123Z');

    // Act
    const body = JSON.parse(
      buildS3Notification([
        {
          eventName: 'ObjectCreated:Put',
          bucket: 'ticket-files',
          key: 'tickets/Proof 1.pdf',
          size: 1234,
          eTag: '"0123456789abcdef0123456789abcdef"',
          sequencer: '0055AED6DCD90281E5',
          eventTime,
          region: 'eu-west-1',
        },
      ]),
    ) as { Records: Record<string, unknown>[] };

    // Assess
    expect(body.Records).toHaveLength(1);
    expect(body.Records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2026-11-27T10:00:00.123Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: expect.any(String) },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': expect.any(String), 'x-amz-id-2': expect.any(String) },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: expect.any(String),
        bucket: {
          name: 'ticket-files',
          ownerIdentity: { principalId: expect.any(String) },
          arn: 'arn:aws:s3:::ticket-files',
        },
        object: {
          key: 'tickets/Proof+1.pdf',
          size: 1234,
          eTag: '0123456789abcdef0123456789abcdef',
          sequencer: '0055AED6DCD90281E5',
        },
      },
    });
  });

  it('marks a tag change with the eventVersion S3 uses for tagging events and leaves out unknown fields', () => {
    // Act
    const body = JSON.parse(
      buildS3Notification([
        { eventName: 'ObjectTagging:Put', bucket: 'b', key: 'tickets/x.pdf', eTag: 'abc' },
      ]),
    ) as { Records: { eventVersion: string; s3: { object: Record<string, unknown> } }[] };

    // Assess
    expect(body.Records[0]?.eventVersion).toBe('2.3');
    expect(body.Records[0]?.s3.object).toEqual({ key: 'tickets/x.pdf', eTag: 'abc' });
  });

  it('produces bodies that the S3 event parser decodes back to the original keys', () => {
    // Prepare
    const body = buildS3Notification(
      AWKWARD_KEYS.map((key, index) => ({
        eventName: 'ObjectCreated:Put',
        bucket: 'ticket-files',
        key,
        size: index,
        eTag: `etag${index}`,
        sequencer: `00${index}`,
      })),
    );

    // Act
    const parsed = parseS3Message('message-1', body);

    // Assess
    expect(parsed.kind).toBe('records');
    if (parsed.kind !== 'records') return;
    expect(parsed.records.map((record) => record.key)).toEqual(AWKWARD_KEYS);
    expect(parsed.records.map((record) => record.eTag)).toEqual(
      AWKWARD_KEYS.map((_, index) => `etag${index}`),
    );
    expect(parsed.records[2]).toMatchObject({ bucket: 'ticket-files', size: 2, sequencer: '002' });
  });

  it('produces a tag-change body that the S3 event parser keeps', () => {
    // Act
    const parsed = parseS3Message(
      'message-2',
      buildS3Notification([
        { eventName: 'ObjectTagging:Put', bucket: 'b', key: 'tickets/a b.pdf', eTag: 'e1' },
      ]),
    );

    // Assess
    expect(parsed).toMatchObject({
      kind: 'records',
      records: [{ eventName: 'ObjectTagging:Put', key: 'tickets/a b.pdf' }],
    });
  });

  it('gives the same body for the same input, so that it can be compared and deduplicated', () => {
    // Prepare
    const input = { eventName: 'ObjectCreated:Copy', bucket: 'b', key: 'k', eventTime: new Date(0) };

    // Act
    const first = buildS3Notification([input]);
    const second = buildS3Notification([input]);

    // Assess
    expect(first).toBe(second);
  });
});
