/**
 * A streaming decoder for S3's `aws-chunked` content encoding: the framing AWS SDKs use to stream an upload of
 * known length with a trailing checksum (`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`) or with signed
 * chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`). s3rver stores such a body as it arrives, frames and all,
 * so the local S3 proxy decodes it on the way in. Chunk signatures are not checked (the local S3 does not
 * authenticate); a trailing CRC32, SHA-1 or SHA-256 checksum is verified.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

/** The body's framing is broken, its length is wrong, or its trailing checksum does not match. */
export class AwsChunkedDecodeError extends Error {
  /** The S3 error code to answer with (`IncompleteBody`, `BadDigest`, `InvalidRequest`). */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'AwsChunkedDecodeError';
    this.code = code;
  }
}

/** Whether a request's body is `aws-chunked` framed. */
export function isAwsChunked(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const encoding = String(headers['content-encoding'] ?? '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  return encoding.split(',').some((part) => part.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

/** Checksums that can be verified incrementally here (CRC32C and CRC64NVME are passed unchecked). */
type Verifier = { readonly kind: 'crc32'; value: number } | { readonly kind: 'hash'; readonly hash: Hash };

function verifierFor(trailerName: string | undefined): Verifier | undefined {
  switch (trailerName?.toLowerCase()) {
    case 'x-amz-checksum-crc32':
      return { kind: 'crc32', value: 0 };
    case 'x-amz-checksum-sha1':
      return { kind: 'hash', hash: createHash('sha1') };
    case 'x-amz-checksum-sha256':
      return { kind: 'hash', hash: createHash('sha256') };
    default:
      return undefined;
  }
}

const CRLF = Buffer.from('\r\n');
const MAX_LINE = 8192;

/** Decodes an `aws-chunked` body into its payload. */
export class AwsChunkedDecoder extends Transform {
  /** The trailing headers (checksums), lower-cased names, once the stream has finished. */
  readonly trailers: Record<string, string> = {};
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #decodedLength = 0;
  /**
   * The last decoded bytes, held back until the body has ended and its length and checksum are checked: the
   * proxy tells s3rver the decoded length, so s3rver would store the object on the last byte, before a failed
   * check could stop it (S3 keeps no object for a BadDigest or IncompleteBody).
   */
  #held: Buffer | undefined;
  readonly #expectedLength: number | undefined;
  readonly #checksumHeader: string | undefined;
  readonly #verifier: Verifier | undefined;

  /**
   * @param expectedLength `x-amz-decoded-content-length`, when the request gave it.
   * @param trailerName `x-amz-trailer`: the checksum header that follows the last chunk.
   */
  constructor(options: { expectedLength?: number | undefined; trailerName?: string | undefined } = {}) {
    super();
    this.#expectedLength = options.expectedLength;
    this.#checksumHeader = options.trailerName?.toLowerCase();
    this.#verifier = verifierFor(options.trailerName);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.#state === 'trailer' && this.#pending.length > 0) {
      // Lenient about a missing final empty line after the trailers.
      this.#readTrailerLine(this.#pending);
      this.#pending = Buffer.alloc(0);
      this.#state = 'done';
    }
    if (this.#state !== 'done' && this.#state !== 'trailer') {
      callback(
        new AwsChunkedDecodeError('IncompleteBody', 'The aws-chunked body ended before its last chunk.'),
      );
      return;
    }
    if (this.#expectedLength !== undefined && this.#decodedLength !== this.#expectedLength) {
      callback(
        new AwsChunkedDecodeError(
          'IncompleteBody',
          `The decoded body has ${this.#decodedLength} bytes, not the ${this.#expectedLength} of x-amz-decoded-content-length.`,
        ),
      );
      return;
    }
    const error = this.#checksumError();
    if (error !== undefined) {
      callback(error);
      return;
    }
    if (this.#held !== undefined) this.push(this.#held);
    this.#held = undefined;
    callback();
  }

  #checksumError(): AwsChunkedDecodeError | undefined {
    if (this.#verifier === undefined || this.#checksumHeader === undefined) return undefined;
    const expected = this.trailers[this.#checksumHeader];
    if (expected === undefined) return undefined;
    const actual =
      this.#verifier.kind === 'crc32'
        ? (() => {
            const bytes = Buffer.alloc(4);
            bytes.writeUInt32BE(this.#verifier.value >>> 0);
            return bytes.toString('base64');
          })()
        : this.#verifier.hash.digest('base64');
    if (actual === expected) return undefined;
    return new AwsChunkedDecodeError(
      'BadDigest',
      `The ${this.#checksumHeader.replace('x-amz-checksum-', '').toUpperCase()} you specified did not match the calculated checksum.`,
    );
  }

  #consume(chunk: Buffer): void {
    let input = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    while (input.length > 0) {
      if (this.#state === 'data') {
        const take = Math.min(this.#remaining, input.length);
        const data = input.subarray(0, take);
        this.#update(data);
        if (this.#held !== undefined) this.push(this.#held);
        this.#held = data;
        this.#remaining -= take;
        input = input.subarray(take);
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      if (this.#state === 'data-end') {
        if (input.length < 2) break;
        if (!input.subarray(0, 2).equals(CRLF)) {
          throw new AwsChunkedDecodeError('InvalidRequest', 'An aws-chunked chunk is not followed by CRLF.');
        }
        input = input.subarray(2);
        this.#state = 'size';
        continue;
      }
      if (this.#state === 'done') return;
      const end = input.indexOf(CRLF);
      if (end < 0) {
        if (input.length > MAX_LINE) {
          throw new AwsChunkedDecodeError('InvalidRequest', 'An aws-chunked header line is too long.');
        }
        break;
      }
      const line = input.subarray(0, end);
      input = input.subarray(end + 2);
      if (this.#state === 'size') this.#readSizeLine(line.toString('latin1'));
      else this.#readTrailerLine(line);
    }
    this.#pending = Buffer.from(input);
  }

  #readSizeLine(line: string): void {
    const hex = line.split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]+$/.test(hex)) {
      throw new AwsChunkedDecodeError('InvalidRequest', 'An aws-chunked chunk size is not hexadecimal.');
    }
    const size = Number.parseInt(hex, 16);
    if (size === 0) {
      this.#state = 'trailer';
      return;
    }
    this.#remaining = size;
    this.#state = 'data';
  }

  #readTrailerLine(line: Buffer): void {
    const text = line.toString('utf8');
    if (text === '') {
      this.#state = 'done';
      return;
    }
    const colon = text.indexOf(':');
    if (colon > 0) this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }

  #update(data: Buffer): void {
    this.#decodedLength += data.length;
    if (this.#verifier === undefined) return;
    if (this.#verifier.kind === 'crc32') this.#verifier.value = crc32(data, this.#verifier.value);
    else this.#verifier.hash.update(data);
  }
}
