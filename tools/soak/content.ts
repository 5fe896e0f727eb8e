/**
 * Deterministic file contents for the soak and the bad-input corpus: any size up to S3's 5 GiB single-PUT maximum,
 * generated piece by piece from a seed, so a 5 GiB object is streamed and hashed without ever being held in memory.
 * The same `(seed, size)` always yields the same bytes, so a verifier can recompute the Dropbox content hash of the
 * version it expects without keeping the file.
 */
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { DropboxContentHasher } from '../../lib/dropbox/content-hash.ts';

/** Bytes per generated piece (what one `read()` of the stream yields). */
export const PIECE_BYTES = 1024 * 1024;

/** One piece of pseudo-random bytes per seed, reused for every piece of a file (xorshift32 filled). */
function patternFor(seed: number): Buffer {
  const pattern = Buffer.allocUnsafe(PIECE_BYTES);
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let offset = 0; offset < PIECE_BYTES; offset += 4) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    pattern.writeUInt32LE(state, offset);
  }
  return pattern;
}

/**
 * The pieces of a generated file: each is the seed's pattern with the piece number stamped in its first 8 bytes,
 * so no two 4 MiB blocks of one file hash alike. Each piece is a fresh buffer (a consumer may keep it).
 */
export function* generatePieces(size: number, seed: number): Generator<Buffer> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a byte count, got ${size}`);
  const pattern = patternFor(seed);
  let index = 0;
  for (let sent = 0; sent < size; sent += PIECE_BYTES) {
    const length = Math.min(PIECE_BYTES, size - sent);
    const piece = Buffer.from(pattern.subarray(0, length));
    if (length >= 8) piece.writeBigUInt64LE(BigInt(index), 0);
    index += 1;
    yield piece;
  }
}

/** A readable stream of the generated file (never more than a piece or two in memory). */
export function generatedBody(size: number, seed: number): Readable {
  return Readable.from(generatePieces(size, seed), { objectMode: false });
}

/**
 * Bytes `start` to `end` (inclusive, as an HTTP `Range`) of the generated file, as a stream: what a ranged
 * `GetObject` of it would serve. Only the pieces the range touches are generated.
 */
export function generatedRange(size: number, seed: number, start: number, end: number): Readable {
  if (!(0 <= start && start <= end && end < size))
    throw new RangeError(`bad range ${start}-${end} of ${size}`);
  function* pieces(): Generator<Buffer> {
    const pattern = patternFor(seed);
    for (let index = Math.floor(start / PIECE_BYTES); index * PIECE_BYTES <= end; index += 1) {
      const pieceStart = index * PIECE_BYTES;
      const length = Math.min(PIECE_BYTES, size - pieceStart);
      const piece = Buffer.from(pattern.subarray(0, length));
      if (length >= 8) piece.writeBigUInt64LE(BigInt(index), 0);
      yield piece.subarray(Math.max(0, start - pieceStart), Math.min(length, end + 1 - pieceStart));
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}

/** The generated file as one buffer: only for small files. */
export function generatedBytes(size: number, seed: number): Buffer {
  return Buffer.concat([...generatePieces(size, seed)]);
}

/** Dropbox's content hash of the generated file, computed piece by piece. */
export function generatedContentHash(size: number, seed: number): string {
  const hasher = new DropboxContentHasher();
  for (const piece of generatePieces(size, seed)) hasher.update(piece);
  return hasher.digest();
}

/** {@link generatedContentHash} in a worker thread: the main thread stays free for the upload being checked. */
export function generatedContentHashInWorker(size: number, seed: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./content-hash-worker.ts', import.meta.url), {
      workerData: { size, seed },
    });
    worker.once('message', (hash: unknown) => {
      if (typeof hash === 'string') resolve(hash);
      else reject(new TypeError('the content hash worker answered without a hash'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the content hash worker exited with code ${code}`));
    });
  });
}
