import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseS3Message, type S3ObjectEvent } from '../../lib/s3-event.ts';
import { type LocalS3, startLocalS3 } from '../../tools/emulators/s3/server.ts';
import { localClientConfig, rejectionOf } from './support.ts';

const BUCKET = 'ticket-files';

function clientFor(url: string, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    ...localClientConfig(url),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

function eventsOf(bodies: readonly string[]): S3ObjectEvent[] {
  return bodies.flatMap((body, index) => {
    const parsed = parseS3Message(`m${index}`, body);
    return parsed.kind === 'records' ? [...parsed.records] : [];
  });
}

/** A deterministic byte stream of `size` bytes, produced chunk by chunk, with its MD5 computed on the way. */
function generatedBody(size: number): { stream: Readable; md5: () => string } {
  const hash = createHash('md5');
  const chunkSize = 1024 * 1024;
  async function* generate() {
    for (let offset = 0; offset < size; offset += chunkSize) {
      const length = Math.min(chunkSize, size - offset);
      const chunk = Buffer.alloc(length);
      for (let index = 0; index < length; index += 1) chunk[index] = (offset + index) % 251;
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(generate()), md5: () => hash.digest('hex') };
}

async function md5OfStream(stream: AsyncIterable<Uint8Array>): Promise<{ md5: string; bytes: number }> {
  const hash = createHash('md5');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { md5: hash.digest('hex'), bytes };
}

describe('local S3 (s3rver behind the notifying proxy)', () => {
  let directory: string;
  let local: LocalS3;
  let s3: S3Client;
  const sent: string[] = [];
  const notifyErrors: string[] = [];
  let failNotify = false;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'local-s3-'));
    local = await startLocalS3({
      directory,
      buckets: [BUCKET],
      prefix: 'tickets/',
      notify: async (body) => {
        if (failNotify) throw new Error('queue unavailable');
        sent.push(body);
      },
      onNotifyError: (error, _bucket, key) => notifyErrors.push(`${key}: ${(error as Error).message}`),
    });
    s3 = clientFor(local.url);
  });

  afterAll(async () => {
    s3.destroy();
    await local.close();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    sent.length = 0;
    notifyErrors.length = 0;
    failNotify = false;
  });

  it('notifies a put with awkward characters in the key so that the event parser gets the same key back', async () => {
    // Prepare
    const key = 'tickets/42/Proof 1+2 100% 🎉 ü.pdf';

    // Act
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: 'proof content',
        Metadata: { 'ticket-type': 'print', 'file-name': 'Proof 1.pdf' },
        Tagging: 'file-status=final&note=a%20b',
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const events = eventsOf(sent);

    // Assess
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      eventName: 'ObjectCreated:Put',
      bucket: BUCKET,
      key,
      size: 13,
      eTag: put.ETag?.replaceAll('"', ''),
    });
    expect(events[0]?.sequencer).toMatch(/^[0-9A-F]{18}$/);
    expect(JSON.parse(sent[0] ?? '{}').Records[0].eventVersion).toBe('2.1');
    expect(head.Metadata).toEqual({ 'ticket-type': 'print', 'file-name': 'Proof 1.pdf' });
    expect(head.TagCount).toBe(2);
    expect(local.notifications).toBeGreaterThanOrEqual(1);
  });

  it('keeps tag values exactly as given and notifies a tag change without a sequencer (S3 sends one for writes)', async () => {
    // Prepare
    const key = 'tickets/tags/x.pdf';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    const tagSet = [
      { Key: 'file-status', Value: '007' },
      { Key: 'spaced', Value: ' a&b<c> ' },
      { Key: 'flag', Value: 'true' },
    ];

    // Act
    await s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: key, Tagging: { TagSet: tagSet } }));
    const read = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    const [created, tagged] = eventsOf(sent);

    // Assess
    expect(read.TagSet).toEqual(tagSet);
    expect(tagged).toMatchObject({ eventName: 'ObjectTagging:Put', key, eTag: created?.eTag });
    expect(created?.sequencer).toMatch(/^[0-9A-F]{18}$/);
    expect(tagged?.sequencer).toBeUndefined();
  });

  it('replaces the tags of an object that is written again without tags', async () => {
    // Prepare
    const key = 'tickets/tags/rewritten.pdf';
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v1', Tagging: 'file-status=final' }),
    );

    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v2' }));
    const read = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));

    // Assess
    expect(read.TagSet).toEqual([]);
  });

  it('keeps the ETag of a rewrite with the same content and changes it with other content', async () => {
    // Prepare
    const key = 'tickets/etag/same.pdf';
    const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'same' }));

    // Act
    const again = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'same' }));
    const other = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'other' }));

    // Assess
    expect(again.ETag).toBe(first.ETag);
    expect(other.ETag).not.toBe(first.ETag);
  });

  it('answers GetObject with 412 PreconditionFailed when If-Match names another ETag', async () => {
    // Prepare
    const key = 'tickets/cond/a.pdf';
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'current' }));

    // Act
    const stale = await rejectionOf(
      s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: key, IfMatch: '"00000000000000000000000000000000"' }),
      ),
    );
    const staleHead = await rejectionOf(
      s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: key, IfMatch: '00000000000000000000000000000000' }),
      ),
    );
    const current = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, IfMatch: put.ETag }));
    const unquoted = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: key, IfMatch: put.ETag?.replaceAll('"', '') }),
    );

    // Assess
    expect(stale).toBeInstanceOf(S3ServiceException);
    expect((stale as S3ServiceException).name).toBe('PreconditionFailed');
    expect((stale as S3ServiceException).$metadata.httpStatusCode).toBe(412);
    expect((staleHead as S3ServiceException).$metadata.httpStatusCode).toBe(412);
    expect(await current.Body?.transformToString()).toBe('current');
    expect(await unquoted.Body?.transformToString()).toBe('current');
  });

  it('answers 304 when If-None-Match names the current ETag', async () => {
    // Prepare
    const key = 'tickets/cond/b.pdf';
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'unchanged' }));

    // Act
    const error = await rejectionOf(
      s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, IfNoneMatch: put.ETag })),
    );

    // Assess
    expect((error as S3ServiceException).$metadata.httpStatusCode).toBe(304);
  });

  it('serves a byte range', async () => {
    // Prepare
    const key = 'tickets/range/r.bin';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '0123456789' }));

    // Act
    const part = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=2-5' }));

    // Assess
    expect(await part.Body?.transformToString()).toBe('2345');
    expect(part.ContentRange).toBe('bytes 2-5/10');
    expect(part.$metadata.httpStatusCode).toBe(206);
  });

  it('stores a streamed 64 MiB upload sent with the SDK default checksums (aws-chunked) unchanged', async () => {
    // Prepare
    const size = 64 * 1024 * 1024;
    const key = 'tickets/large/64mib.bin';
    const body = generatedBody(size);
    const defaults = clientFor(local.url, {
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
    });

    // Act
    const put = await defaults.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body.stream, ContentLength: size }),
    );
    const read = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const stored = await md5OfStream(read.Body as AsyncIterable<Uint8Array>);
    defaults.destroy();

    // Assess
    expect(stored).toEqual({ md5: body.md5(), bytes: size });
    expect(put.ETag).toBe(`"${stored.md5}"`);
    expect(eventsOf(sent).at(-1)).toMatchObject({ key, size });
  });

  it('refuses an aws-chunked upload whose trailing checksum does not match, and keeps no object', async () => {
    // Prepare
    const key = 'tickets/digest/bad.bin';
    const content = Buffer.from('payload that will not match');
    const encoded = Buffer.concat([
      Buffer.from(`${content.length.toString(16)}\r\n`),
      content,
      Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
    ]);

    // Act
    const response = await fetch(`${local.url}/${BUCKET}/${key}`, {
      method: 'PUT',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': String(content.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body: encoded,
    });
    const text = await response.text();
    const missing = await rejectionOf(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })));

    // Assess
    expect(response.status).toBe(400);
    expect(text).toContain('<Code>BadDigest</Code>');
    expect((missing as S3ServiceException).$metadata.httpStatusCode).toBe(404);
    expect(sent).toEqual([]);
  });

  it('stores a streamed upload sent without flexible checksums unchanged', async () => {
    // Prepare
    const size = 3 * 1024 * 1024 + 17;
    const key = 'tickets/large/plain.bin';
    const body = generatedBody(size);

    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body.stream, ContentLength: size }));
    const read = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const stored = await md5OfStream(read.Body as AsyncIterable<Uint8Array>);

    // Assess
    expect(stored).toEqual({ md5: body.md5(), bytes: size });
  });

  it('notifies a copy and copies the source tags by default', async () => {
    // Prepare
    const source = 'tickets/copy/source a+b.pdf';
    const target = 'tickets/copy/target.pdf';
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: source, Body: 'copied', Tagging: 'file-status=final' }),
    );

    // Act
    await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: target,
        CopySource: `${BUCKET}/${encodeURIComponent(source)}`,
      }),
    );
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: target }));
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: target }))
    ).Body?.transformToString();

    // Assess
    expect(eventsOf(sent).at(-1)).toMatchObject({ eventName: 'ObjectCreated:Copy', key: target, size: 6 });
    expect(tags.TagSet).toEqual([{ Key: 'file-status', Value: 'final' }]);
    expect(body).toBe('copied');
  });

  it('notifies a completed multipart upload with the tags given at its start', async () => {
    // Prepare
    const key = 'tickets/multipart/big.bin';
    const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const part2 = Buffer.from('tail');
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, Tagging: 'file-status=ready-to-deliver' }),
    );
    const first = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: part1 }),
    );
    const second = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: part2 }),
    );

    // Act
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.ETag },
            { PartNumber: 2, ETag: second.ETag },
          ],
        },
      }),
    );
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));

    // Assess
    expect(eventsOf(sent)).toEqual([
      expect.objectContaining({
        eventName: 'ObjectCreated:CompleteMultipartUpload',
        key,
        size: part1.length + 4,
      }),
    ]);
    expect(tags.TagSet).toEqual([{ Key: 'file-status', Value: 'ready-to-deliver' }]);
  });

  it('sends no notification for keys outside the prefix', async () => {
    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'elsewhere/file.pdf', Body: 'x' }));

    // Assess
    expect(sent).toEqual([]);
  });

  it('keeps the write when the notification fails, and reports the failure', async () => {
    // Prepare
    failNotify = true;

    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tickets/lost/event.pdf', Body: 'kept' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'tickets/lost/event.pdf' }));

    // Assess
    expect(head.ContentLength).toBe(4);
    expect(notifyErrors).toEqual(['tickets/lost/event.pdf: queue unavailable']);
  });

  it('pages ListObjectsV2 with continuation tokens', async () => {
    // Prepare
    for (let index = 0; index < 5; index += 1) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `list/k${index}`, Body: 'x' }));
    }

    // Act
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/', MaxKeys: 2, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token !== undefined);

    // Assess
    expect(keys).toEqual(['list/k0', 'list/k1', 'list/k2', 'list/k3', 'list/k4']);
  });

  it('answers NoSuchKey for the tags and the content of a deleted object', async () => {
    // Prepare
    const key = 'tickets/deleted/gone.pdf';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', Tagging: 'a=b' }));

    // Act
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const tags = await rejectionOf(s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key })));
    const content = await rejectionOf(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })));

    // Assess
    expect(tags).toBeInstanceOf(NoSuchKey);
    expect(content).toBeInstanceOf(NoSuchKey);
  });

  it('refuses a key with a ".." segment instead of writing outside its directory', async () => {
    // Act
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // node:http sends the path as given; fetch would resolve the ".." segments before sending.
      const { hostname, port } = new URL(local.url);
      const outgoing = httpRequest(
        { host: hostname, port, method: 'PUT', path: `/${BUCKET}/tickets/../../escape.txt` },
        (incoming) => {
          let text = '';
          incoming.setEncoding('utf8');
          incoming.on('data', (chunk: string) => {
            text += chunk;
          });
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: text }));
        },
      );
      outgoing.on('error', reject);
      outgoing.end('x');
    });

    // Assess
    expect(status).toBe(400);
    expect(body).toContain('<Code>InvalidArgument</Code>');
  });

  it('records each request by S3 operation name', async () => {
    // Prepare
    const before = local.calls.length;

    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tickets/log/a.pdf', Body: 'x' }));
    await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'tickets/log/a.pdf' }));

    // Assess
    expect(local.calls.slice(before).map((call) => call.action)).toEqual(['PutObject', 'GetObjectTagging']);
  });
});
