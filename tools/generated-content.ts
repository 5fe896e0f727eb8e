/**
 * Generated content for the benchmarks: any size as a stream, never held whole. Pieces come from a small pool of
 * seeded pseudo-random buffers, each stamped with its piece number so that no two pieces of a file are alike, and
 * reused in turn (the stream holds at most a few pieces ahead): a 1 GiB object costs 1 MiB of memory to produce.
 */
import { Readable } from 'node:stream';
import { DropboxContentHasher } from '../lib/dropbox/content-hash.ts';
import { createRandomUint32 } from './seeded-random.ts';

const PIECE_BYTES = 64 * 1024;
const POOL_PIECES = 16;

function createPool(seed: number, pieces = POOL_PIECES): Buffer[] {
  const random = createRandomUint32(seed);
  return Array.from({ length: Math.min(POOL_PIECES, pieces) }, () => {
    const piece = Buffer.allocUnsafe(PIECE_BYTES);
    for (let at = 0; at < PIECE_BYTES; at += 4) piece.writeUInt32LE(random(), at);
    return piece;
  });
}

/**
 * `size` bytes of content derived from `seed`, as a stream of 64 KiB pieces. `onPiece` sees each piece before it
 * is pushed (to hash what is being written, for instance).
 */
export function generateStream(size: number, seed: number, onPiece?: (piece: Buffer) => void): Readable {
  const pool = createPool(seed);
  let offset = 0;
  let count = 0;
  return new Readable({
    highWaterMark: PIECE_BYTES,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const buffer = pool[count % POOL_PIECES] as Buffer;
      const piece = buffer.subarray(0, Math.min(PIECE_BYTES, size - offset));
      piece.writeUInt32LE(count >>> 0, 0);
      onPiece?.(piece);
      offset += piece.byteLength;
      count += 1;
      this.push(piece);
    },
  });
}

/** The whole of a small generated content, in memory. */
export function generateBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  const pool = createPool(seed, Math.ceil(size / PIECE_BYTES));
  for (let offset = 0, count = 0; offset < size; offset += PIECE_BYTES, count += 1) {
    const piece = (pool[count % POOL_PIECES] as Buffer).subarray(0, Math.min(PIECE_BYTES, size - offset));
    piece.writeUInt32LE(count >>> 0, 0);
    piece.copy(out, offset);
  }
  return out;
}

/** The Dropbox content hash of a generated content, computed by generating it again. */
export async function hashGenerated(size: number, seed: number): Promise<string> {
  const hasher = new DropboxContentHasher();
  for await (const piece of generateStream(size, seed)) hasher.update(piece as Buffer);
  return hasher.digest();
}
