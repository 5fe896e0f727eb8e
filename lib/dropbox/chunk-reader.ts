/**
 * Fixed-size chunks from a byte stream, with backpressure: the source is pulled only when a chunk is asked for, so
 * memory stays at one chunk buffer plus the source's own read-ahead, whatever the stream's length.
 */
import { sourceSizeMismatch as sizeMismatch, toBytes } from './stream-body.ts';
import { raceSignal } from './tokens.ts';

/** Options of a {@link ChunkReader}. */
export interface ChunkReaderOptions {
  /** The size the source declared; more or fewer bytes are an error. */
  readonly expectedBytes: number;
  readonly chunkBytes: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * The buffer chunks are read into (a pooled one, at least `min(chunkBytes, expectedBytes)` bytes long).
   * @default a buffer of its own
   */
  readonly buffer?: Buffer | undefined;
}

/**
 * Reads a stream as consecutive chunks of `chunkBytes` (the last one shorter). The chunk returned by
 * {@link ChunkReader.next} is a view on one reused buffer: it is valid until the next call.
 */
export class ChunkReader {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #options: ChunkReaderOptions;
  readonly #buffer: Buffer;
  #pending: Uint8Array | undefined;
  #read = 0;
  #done = false;

  constructor(source: AsyncIterable<unknown>, options: ChunkReaderOptions) {
    if (!(options.chunkBytes > 0)) throw new RangeError('ChunkReader: chunkBytes must be positive');
    this.#iterator = source[Symbol.asyncIterator]();
    this.#options = options;
    const bytes = Math.max(1, Math.min(options.chunkBytes, options.expectedBytes));
    if (options.buffer !== undefined && options.buffer.byteLength < bytes) {
      throw new RangeError(
        `ChunkReader: the buffer holds ${options.buffer.byteLength} bytes, ${bytes} needed`,
      );
    }
    this.#buffer = options.buffer?.subarray(0, bytes) ?? Buffer.allocUnsafe(bytes);
  }

  /** Bytes handed out so far. */
  get offset(): number {
    return this.#read;
  }

  /**
   * The next chunk: exactly `chunkBytes` long except the last, empty once the declared size has been read. Throws
   * a transient `SyncError` (`source-size-mismatch`) when the stream ends early or runs past the declared size.
   */
  async next(): Promise<Uint8Array> {
    const { expectedBytes, signal } = this.#options;
    const want = Math.min(this.#buffer.byteLength, expectedBytes - this.#read);
    let filled = 0;
    while (filled < want) {
      let piece = this.#pending;
      this.#pending = undefined;
      if (piece === undefined) {
        const result = await raceSignal(this.#iterator.next(), signal);
        if (result.done === true) {
          this.#done = true;
          throw sizeMismatch(expectedBytes, this.#read + filled);
        }
        piece = toBytes(result.value);
      }
      const take = Math.min(piece.byteLength, want - filled);
      this.#buffer.set(piece.subarray(0, take), filled);
      filled += take;
      if (take < piece.byteLength) this.#pending = piece.subarray(take);
    }
    this.#read += filled;
    if (this.#read === expectedBytes) await this.#expectEnd();
    return this.#buffer.subarray(0, filled);
  }

  /** Stops reading and releases the source (destroys a Node stream). Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#iterator.return?.();
  }

  async #expectEnd(): Promise<void> {
    if (this.#done) return;
    const extra = this.#pending !== undefined && this.#pending.byteLength > 0;
    if (!extra) {
      let result = await raceSignal(this.#iterator.next(), this.#options.signal);
      // Streams may yield empty pieces; only bytes count.
      while (result.done !== true && toBytes(result.value).byteLength === 0) {
        result = await raceSignal(this.#iterator.next(), this.#options.signal);
      }
      if (result.done === true) {
        this.#done = true;
        return;
      }
    }
    await this.close();
    throw sizeMismatch(this.#options.expectedBytes, undefined);
  }
}
