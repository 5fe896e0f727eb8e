import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_HASH_BLOCK_BYTES,
  computeContentHash,
  DropboxContentHasher,
} from '../../lib/dropbox/content-hash.ts';
import { bytes, MIB, referenceContentHash } from './helpers.ts';

const SIZES = [0, 1, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 8 * MIB, 9 * MIB + 7];

describe('Dropbox content hash', () => {
  it('uses Dropbox 4 MiB blocks', () => {
    // Prepare / Act / Assess
    expect(CONTENT_HASH_BLOCK_BYTES).toBe(4_194_304);
  });

  it('is the SHA-256 of nothing for empty content', () => {
    // Act
    const hash = computeContentHash(new Uint8Array(0));

    // Assess
    expect(hash).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it.each(SIZES)('matches the documented algorithm for %i bytes in one call', (size) => {
    // Prepare
    const data = bytes(size);

    // Act
    const hash = computeContentHash(data);

    // Assess
    expect(hash).toBe(referenceContentHash(data));
  });

  it.each([7, 1000, 65_536, 4 * MIB - 3, 4 * MIB + 5])(
    'gives the same hash whatever the chunking (pieces of %i bytes)',
    (piece) => {
      // Prepare
      const data = bytes(9 * MIB + 7);
      const hasher = new DropboxContentHasher();

      // Act
      for (let start = 0; start < data.byteLength; start += piece)
        hasher.update(data.subarray(start, start + piece));

      // Assess
      expect(hasher.digest()).toBe(referenceContentHash(data));
    },
  );

  it('is a hash of block hashes, not a plain SHA-256 of the content', () => {
    // Prepare
    const data = bytes(4 * MIB + 1);

    // Act
    const hash = computeContentHash(data);

    // Assess
    expect(hash).not.toBe(createHash('sha256').update(data).digest('hex'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses more content after the digest was read', () => {
    // Prepare
    const hasher = new DropboxContentHasher().update(bytes(10));
    hasher.digest();

    // Act / Assess
    expect(() => hasher.update(bytes(1))).toThrow(/after digest/);
  });
});
