/**
 * The upload buffers of one Dropbox client: at most `capacity` buffers of `bufferBytes` each, allocated on first
 * use and reused, shared by every upload session of the process. Reuse keeps the process's memory at
 * `bufferBytes × capacity` (V8 frees a dropped buffer only at its next major collection, often tens of MiB later),
 * and sharing keeps that bound when the records of a batch upload large files at the same time.
 */

/** A fixed set of reusable byte buffers, handed out one at a time. */
export class BufferPool {
  readonly #bufferBytes: number;
  readonly #capacity: number;
  readonly #free: Buffer[] = [];
  readonly #waiting: Array<(buffer: Buffer) => void> = [];
  #allocated = 0;

  constructor(bufferBytes: number, capacity: number) {
    if (!Number.isSafeInteger(bufferBytes) || bufferBytes < 1)
      throw new RangeError('BufferPool: bufferBytes must be a positive integer');
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError('BufferPool: capacity must be a positive integer');
    this.#bufferBytes = bufferBytes;
    this.#capacity = capacity;
  }

  /** Bytes of each buffer. */
  get bufferBytes(): number {
    return this.#bufferBytes;
  }

  /** Buffers allocated so far (never more than the capacity). */
  get allocated(): number {
    return this.#allocated;
  }

  /** A buffer for the caller alone until it gives it back with {@link BufferPool.release}; waits for one if need be. */
  acquire(signal?: AbortSignal): Promise<Buffer> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const free = this.#free.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (this.#allocated < this.#capacity) {
      this.#allocated += 1;
      return Promise.resolve(Buffer.allocUnsafe(this.#bufferBytes));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(take);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      const take = (buffer: Buffer): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(buffer);
      };
      this.#waiting.push(take);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Gives a buffer back: the longest waiter gets it, else it is kept for the next {@link BufferPool.acquire}. */
  release(buffer: Buffer): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(buffer);
    else this.#free.push(buffer);
  }
}
