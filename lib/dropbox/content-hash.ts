/**
 * Dropbox's `content_hash` (https://www.dropbox.com/developers/reference/content-hash): the content is split into
 * 4 MiB blocks, each block is hashed with SHA-256, and the concatenation of the block digests is hashed again with
 * SHA-256, written as lowercase hex. The hash of empty content is the SHA-256 of nothing (no blocks).
 */
import { createHash, type Hash } from 'node:crypto';

/** Dropbox's hashing block: 4 MiB. */
export const CONTENT_HASH_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * Content fed in chunks of any size, cut into 4 MiB blocks: each block is hashed with SHA-256 as it streams past,
 * and its digest handed to `onBlock` once the block is full (or, at `flush`, the last partial one).
 */
class BlockSplitter {
  #block: Hash = createHash('sha256');
  #fill = 0;
  readonly #onBlock: (digest: Buffer) => void;

  constructor(onBlock: (digest: Buffer) => void) {
    this.#onBlock = onBlock;
  }

  /** A splitter in the same state, handing its blocks to `onBlock`. */
  copy(onBlock: (digest: Buffer) => void): BlockSplitter {
    const copy = new BlockSplitter(onBlock);
    copy.#block = this.#block.copy();
    copy.#fill = this.#fill;
    return copy;
  }

  update(chunk: Uint8Array): void {
    let position = 0;
    while (position < chunk.byteLength) {
      const take = Math.min(CONTENT_HASH_BLOCK_BYTES - this.#fill, chunk.byteLength - position);
      this.#block.update(chunk.subarray(position, position + take));
      this.#fill += take;
      position += take;
      if (this.#fill === CONTENT_HASH_BLOCK_BYTES) this.#finishBlock();
    }
  }

  /** Hands on the last, partial block, if any. */
  flush(): void {
    if (this.#fill > 0) this.#finishBlock();
  }

  #finishBlock(): void {
    this.#onBlock(this.#block.digest());
    this.#block = createHash('sha256');
    this.#fill = 0;
  }
}

/**
 * Incremental Dropbox content hasher: feed the content in chunks of any size, in order, then read the digest once.
 * Keeps one block hasher and 32 bytes per finished block; never the content itself.
 */
export class DropboxContentHasher {
  #overall: Hash = createHash('sha256');
  #blocks = new BlockSplitter((digest) => this.#overall.update(digest));
  #digest: string | undefined;

  /** An independent hasher in the same state: fed on, it leaves this one as it was (a read that may be redone). */
  copy(): DropboxContentHasher {
    if (this.#digest !== undefined) throw new Error('DropboxContentHasher: copy() after digest()');
    const copy = new DropboxContentHasher();
    copy.#overall = this.#overall.copy();
    copy.#blocks = this.#blocks.copy((digest) => copy.#overall.update(digest));
    return copy;
  }

  /** Adds the next piece of content. */
  update(chunk: Uint8Array): this {
    if (this.#digest !== undefined) throw new Error('DropboxContentHasher: update() after digest()');
    this.#blocks.update(chunk);
    return this;
  }

  /** The content hash of everything fed so far, as lowercase hex. The hasher is finished afterwards. */
  digest(): string {
    if (this.#digest === undefined) {
      this.#blocks.flush();
      this.#digest = this.#overall.digest('hex');
    }
    return this.#digest;
  }
}

/**
 * The SHA-256 digests of the 4 MiB blocks of content fed in order, in chunks of any size: a piece of a file that
 * starts on a block boundary, hashed as it streams past and never held.
 */
export class BlockDigester {
  readonly #digests: Buffer[] = [];
  readonly #blocks = new BlockSplitter((digest) => this.#digests.push(digest));
  #bytes = 0;

  /** Bytes fed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds the next piece of content. */
  update(chunk: Uint8Array): this {
    this.#blocks.update(chunk);
    this.#bytes += chunk.byteLength;
    return this;
  }

  /** The digests of every block, the last (partial) one included. The digester is finished afterwards. */
  digests(): Buffer[] {
    this.#blocks.flush();
    return this.#digests;
  }
}

/** The Dropbox content hash of `data`, in one call. */
export function computeContentHash(data: Uint8Array): string {
  return new DropboxContentHasher().update(data).digest();
}

/**
 * The SHA-256 digests of the 4 MiB blocks of `data`, which must start on a block boundary of its file: a piece of
 * a file can be hashed on its own and its digests combined with the other pieces' in file order.
 */
export function digestBlocks(data: Uint8Array): Buffer[] {
  const digests: Buffer[] = [];
  for (let start = 0; start < data.byteLength; start += CONTENT_HASH_BLOCK_BYTES) {
    const end = Math.min(data.byteLength, start + CONTENT_HASH_BLOCK_BYTES);
    digests.push(createHash('sha256').update(data.subarray(start, end)).digest());
  }
  return digests;
}

/** The content hash of content whose 4 MiB blocks have `digests`, in order. */
export function combineBlockDigests(digests: readonly Uint8Array[]): string {
  const overall = createHash('sha256');
  for (const digest of digests) overall.update(digest);
  return overall.digest('hex');
}
