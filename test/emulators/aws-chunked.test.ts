import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AwsChunkedDecodeError, AwsChunkedDecoder } from '../../tools/emulators/s3/aws-chunked.ts';

function crc32Base64(data: Buffer): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data) >>> 0);
  return bytes.toString('base64');
}

function frame(chunks: readonly Buffer[], trailer: string, extension = ''): Buffer {
  const parts = chunks.flatMap((chunk) => [
    Buffer.from(`${chunk.length.toString(16)}${extension}\r\n`),
    chunk,
    Buffer.from('\r\n'),
  ]);
  return Buffer.concat([...parts, Buffer.from(`0${extension}\r\n${trailer}\r\n`)]);
}

/** Feeds `encoded` to a decoder in pieces of `pieceSize` bytes and collects the payload. */
async function decode(
  encoded: Buffer,
  pieceSize: number,
  options: ConstructorParameters<typeof AwsChunkedDecoder>[0],
): Promise<{ payload: Buffer; decoder: AwsChunkedDecoder }> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < encoded.length; offset += pieceSize) {
    pieces.push(encoded.subarray(offset, offset + pieceSize));
  }
  const decoder = new AwsChunkedDecoder(options);
  const output: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    decoder.on('data', (chunk: Buffer) => output.push(chunk));
    decoder.on('end', resolve);
    decoder.on('error', reject);
    Readable.from(pieces).pipe(decoder);
  });
  return { payload: Buffer.concat(output), decoder };
}

describe('AwsChunkedDecoder', () => {
  const payload = Buffer.from('the quick brown fox jumps over the lazy dog '.repeat(300));
  const chunks = [payload.subarray(0, 8192), payload.subarray(8192)];

  it.each([1, 3, 7, 64, 100_000])(
    'decodes a body with a CRC32 trailer split into %i-byte pieces',
    async (pieceSize) => {
      // Prepare
      const encoded = frame(chunks, `x-amz-checksum-crc32:${crc32Base64(payload)}\r\n`);

      // Act
      const { payload: decoded, decoder } = await decode(encoded, pieceSize, {
        expectedLength: payload.length,
        trailerName: 'x-amz-checksum-crc32',
      });

      // Assess
      expect(decoded.equals(payload)).toBe(true);
      expect(decoder.trailers['x-amz-checksum-crc32']).toBe(crc32Base64(payload));
    },
  );

  it('decodes signed chunks, ignoring their chunk-signature extensions', async () => {
    // Prepare
    const encoded = frame(chunks, '', `;chunk-signature=${'a'.repeat(64)}`);

    // Act
    const { payload: decoded } = await decode(encoded, 500, { expectedLength: payload.length });

    // Assess
    expect(decoded.equals(payload)).toBe(true);
  });

  it('verifies a SHA-256 trailer', async () => {
    // Prepare
    const sha = createHash('sha256').update(payload).digest('base64');
    const encoded = frame(chunks, `x-amz-checksum-sha256:${sha}\r\n`);

    // Act
    const { payload: decoded } = await decode(encoded, 1000, { trailerName: 'x-amz-checksum-sha256' });

    // Assess
    expect(decoded.equals(payload)).toBe(true);
  });

  it('fails with BadDigest when the trailing checksum does not match the content', async () => {
    // Prepare
    const encoded = frame(chunks, `x-amz-checksum-crc32:${crc32Base64(Buffer.from('other'))}\r\n`);

    // Act
    const error = await decode(encoded, 512, { trailerName: 'x-amz-checksum-crc32' }).catch(
      (caught: unknown) => caught,
    );

    // Assess
    expect(error).toBeInstanceOf(AwsChunkedDecodeError);
    expect((error as AwsChunkedDecodeError).code).toBe('BadDigest');
  });

  it('passes on none of the last chunk when the checksum does not match, so s3rver never sees the whole body', async () => {
    // Prepare
    const encoded = frame(chunks, `x-amz-checksum-crc32:${crc32Base64(Buffer.from('other'))}\r\n`);
    const decoder = new AwsChunkedDecoder({
      expectedLength: payload.length,
      trailerName: 'x-amz-checksum-crc32',
    });
    let passed = 0;
    decoder.on('data', (chunk: Buffer) => (passed += chunk.length));

    // Act
    const error = await new Promise<unknown>((resolve) => {
      decoder.on('error', resolve);
      decoder.on('end', () => resolve(undefined));
      Readable.from([encoded]).pipe(decoder);
    });

    // Assess
    expect((error as AwsChunkedDecodeError).code).toBe('BadDigest');
    expect(passed).toBe(chunks[0]?.length);
  });

  it('fails with IncompleteBody when the body ends before its last chunk or has another length', async () => {
    // Prepare
    const encoded = frame(chunks, '');

    // Act
    const truncated = await decode(encoded.subarray(0, 5000), 512, {}).catch((caught: unknown) => caught);
    const wrongLength = await decode(encoded, 512, { expectedLength: payload.length + 1 }).catch(
      (caught: unknown) => caught,
    );

    // Assess
    expect((truncated as AwsChunkedDecodeError).code).toBe('IncompleteBody');
    expect((wrongLength as AwsChunkedDecodeError).code).toBe('IncompleteBody');
  });
});
