/**
 * The pieces of an upload session, hashed before they are sent but never held in memory. Each call that carries
 * data declares the `content_hash` of exactly its bytes, in the `Dropbox-API-Arg` header ahead of them ("a hash of
 * the file content uploaded in this call", Dropbox's `UploadSessionAppendArg.content_hash`), so a piece's bytes must
 * be known before its call, and a failed call must send the same bytes again. Two ways to have them known without
 * keeping them (BENCHMARKS.md measures both):
 * - `reread`: a first pass reads the piece's range to hash it; the call streams the range again, read anew from the
 *   source pinned to the same version (S3's `IfMatch` on the ETag), and a retry reads it once more. Dropbox refuses a
 *   call whose bytes do not match the hash, so a second read that differed could never be committed;
 * - `spool`: one pass writes the piece to a file in the spool folder (the function's `/tmp`) while hashing it; the
 *   call streams the file, and a retry reads the file again. A source that can only be read once (a stream) is
 *   always spooled.
 * Memory is then the streams' own buffers whatever the piece size, and pieces can grow towards Dropbox's 150 MB
 * limit on the data of one call, for fewer calls per GiB.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SyncError } from '../errors.ts';
import type { ByteRange } from '../ports.ts';
import { withRetry } from '../retry.ts';
import {
  BlockDigester,
  CONTENT_HASH_BLOCK_BYTES,
  combineBlockDigests,
  type DropboxContentHasher,
} from './content-hash.ts';
import { isDropboxApiError } from './errors.ts';
import { createStreamBody, type StreamBody, sourceSizeMismatch, toBytes } from './stream-body.ts';

/** How a piece's bytes are kept between its hashing and its call. */
export type PieceStore = 'reread' | 'spool';

/** A run of bytes of a file: `length` bytes from `offset`. */
export interface SessionPiece {
  readonly offset: number;
  readonly length: number;
}

/** A piece of a file, hashed, whose bytes can be streamed into a call as often as needed. */
export interface PreparedPiece extends SessionPiece {
  /** SHA-256 digests of the piece's 4 MiB blocks (the piece starts on a block boundary of its file). */
  readonly digests: readonly Buffer[];
  /** The Dropbox content hash of the whole piece. */
  readonly contentHash: string;
  /** The piece's bytes from `from` (counted from the piece's start) to its end, as a request body. */
  body(from?: number): StreamBody;
  /** The content hash of the piece's bytes from `from` on (a call that resumes mid-piece declares only those). */
  contentHashFrom(from: number): Promise<string>;
  /** Frees what keeps the bytes (the spool file); the piece is unusable afterwards. */
  release(): Promise<void>;
}

/** A counting semaphore: at most `capacity` holders at once, the others waiting in turn. */
export class Slots {
  readonly #capacity: number;
  readonly #waiting: Array<() => void> = [];
  #held = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError('Slots: capacity must be a positive integer');
    this.#capacity = capacity;
  }

  /** Slots held right now. */
  get held(): number {
    return this.#held;
  }

  /** Takes a slot (waiting for one if need be); resolves with the function that gives it back, once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = (): (() => void) => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = this.#waiting.shift();
        if (next !== undefined) next();
        else this.#held -= 1;
      };
    };
    if (this.#held < this.#capacity) {
      this.#held += 1;
      return Promise.resolve(release());
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(take);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      const take = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release());
      };
      this.#waiting.push(take);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A read that failed on the way (a reset connection, a short body) is worth a second try; a changed object is not. */
export function isRetryableRead(error: unknown): boolean {
  if (error instanceof SyncError) return error.kind === 'transient' && !isDropboxApiError(error);
  return error instanceof Error && error.name !== 'AbortError' && error.name !== 'TimeoutError';
}

/** What preparing a piece needs. */
export interface PieceOptions {
  readonly store: PieceStore;
  /** Folder of the spool files. @default the OS's temporary folder (`/tmp` on Lambda) */
  readonly spoolDir?: string | undefined;
  /** Tries of a read that fails on the way (the first included). */
  readonly readAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly signal: AbortSignal | undefined;
  /**
   * The whole file's hasher, fed with each piece in file order (a sequential session's pieces need not start on
   * 4 MiB blocks, so their block digests do not combine into the file's hash). A read that is redone feeds a copy.
   */
  readonly whole?: { current: DropboxContentHasher } | undefined;
}

type OpenRange = (range: ByteRange | undefined, signal?: AbortSignal) => Promise<Readable>;

function rangeOf(piece: SessionPiece, from = 0): ByteRange {
  return { start: piece.offset + from, end: piece.offset + piece.length - 1 };
}

/** Streams `source` through `onBytes`, failing unless it yields exactly `length` bytes. */
async function* exactly(
  source: AsyncIterable<unknown>,
  length: number,
  onBytes: (bytes: Uint8Array) => void,
) {
  let seen = 0;
  for await (const piece of source) {
    const bytes = toBytes(piece);
    seen += bytes.byteLength;
    if (seen > length) throw sourceSizeMismatch(length, undefined);
    onBytes(bytes);
    yield bytes;
  }
  if (seen !== length) throw sourceSizeMismatch(length, seen);
}

/** Reads `source` to its end, handing each piece to `onBytes`, without keeping it. */
async function drain(source: AsyncIterable<unknown>, length: number, onBytes: (bytes: Uint8Array) => void) {
  for await (const _ of exactly(source, length, onBytes)) {
    // Nothing is kept: the bytes were hashed on their way past.
  }
}

/** This process's spool folders, by spool root, created (and their stale siblings removed) once. */
const spoolFolders = new Map<string, Promise<string>>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is someone else's.
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

/**
 * This process's own folder under the spool root (`<pid>-<random>`), created on first use. Folders of processes that
 * are gone (a function instance stopped at its timeout, before its pieces were removed) are removed then, so the
 * spool never fills the function's `/tmp` across instances.
 */
function processSpoolFolder(root: string): Promise<string> {
  let folder = spoolFolders.get(root);
  if (folder === undefined) {
    folder = (async () => {
      await mkdir(root, { recursive: true });
      for (const name of await readdir(root)) {
        const pid = Number(/^(\d+)-/.exec(name)?.[1]);
        if (Number.isSafeInteger(pid) && pid !== process.pid && !isRunning(pid)) {
          await rm(join(root, name), { recursive: true, force: true });
        }
      }
      const own = join(root, `${process.pid}-${randomBytes(6).toString('hex')}`);
      await mkdir(own, { recursive: true });
      return own;
    })();
    spoolFolders.set(root, folder);
    // A failed attempt is not remembered: the next piece tries again.
    folder.catch(() => spoolFolders.delete(root));
  }
  return folder;
}

async function spoolFile(dir: string | undefined): Promise<string> {
  const folder = await processSpoolFolder(dir ?? join(tmpdir(), 'ticket-dropbox-sync-spool'));
  return join(folder, `piece-${randomBytes(12).toString('hex')}`);
}

/** Bytes of one read or write of a spool file. */
const SPOOL_IO_BYTES = 1024 * 1024;

/**
 * Reads `length` bytes of `file` from `from`, 1 MiB at a time into two buffers it reuses in turn, reading the next
 * while the last is being sent. A chunk is valid until the next one is asked for: the consumer (the HTTP transport)
 * has handed it to the socket by then. Reusing the buffers keeps a GiB of reads from becoming a GiB of garbage.
 */
async function* readSpool(file: string, from: number, length: number): AsyncGenerator<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(SPOOL_IO_BYTES), Buffer.allocUnsafe(SPOOL_IO_BYTES)] as const;
    const end = from + length;
    let position = from;
    const readInto = (buffer: Buffer): Promise<Uint8Array> | undefined => {
      const want = Math.min(buffer.byteLength, end - position);
      if (want <= 0) return undefined;
      const at = position;
      position += want;
      return handle.read(buffer, 0, want, at).then(({ bytesRead }) => {
        if (bytesRead !== want) throw sourceSizeMismatch(length, at - from + bytesRead);
        return buffer.subarray(0, want);
      });
    };
    let [current, spare] = buffers;
    let next = readInto(current);
    while (next !== undefined) {
      const chunk = await next;
      [current, spare] = [spare, current];
      next = readInto(current);
      // A read started ahead and not awaited yet must not become an unhandled rejection if the consumer stops here.
      next?.catch(() => undefined);
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}

/** Writes `parts` to a new `file`, gathering them into writes of about 1 MiB (one system call each). */
async function writeSpool(file: string, parts: AsyncIterable<Uint8Array>): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    for await (const part of parts) {
      batch.push(part);
      batchBytes += part.byteLength;
      if (batchBytes >= SPOOL_IO_BYTES) {
        await handle.writev(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) await handle.writev(batch);
  } finally {
    await handle.close();
  }
}

/** The content hash of a piece's bytes from `from`: its own block digests when `from` is on a block boundary. */
async function hashFrom(piece: PreparedPiece, from: number): Promise<string> {
  if (from === 0) return piece.contentHash;
  if (from % CONTENT_HASH_BLOCK_BYTES === 0) {
    return combineBlockDigests(piece.digests.slice(from / CONTENT_HASH_BLOCK_BYTES));
  }
  const digester = new BlockDigester();
  const body = piece.body(from);
  await drain(await body.open(), body.byteLength, (bytes) => digester.update(bytes));
  return combineBlockDigests(digester.digests());
}

function preparedPiece(
  piece: SessionPiece,
  digests: Buffer[],
  open: (from: number, signal?: AbortSignal) => Promise<AsyncIterable<unknown>>,
  release: () => Promise<void>,
): PreparedPiece {
  const prepared: PreparedPiece = {
    offset: piece.offset,
    length: piece.length,
    digests,
    contentHash: combineBlockDigests(digests),
    body: (from = 0) => createStreamBody(piece.length - from, (signal) => open(from, signal)),
    contentHashFrom: (from) => hashFrom(prepared, from),
    release,
  };
  return prepared;
}

/**
 * Hashes one piece of a file whose source opens byte ranges, keeping its bytes as `options.store` says; a read that
 * breaks on the way is tried again.
 */
export function prepareRangePiece(
  openRange: OpenRange,
  piece: SessionPiece,
  options: PieceOptions,
): Promise<PreparedPiece> {
  const { signal } = options;
  return withRetry(
    async () => {
      const digester = new BlockDigester();
      const whole = options.whole?.current.copy();
      const onBytes = (bytes: Uint8Array): void => {
        digester.update(bytes);
        whole?.update(bytes);
      };
      const done = (prepared: PreparedPiece): PreparedPiece => {
        if (options.whole !== undefined && whole !== undefined) options.whole.current = whole;
        return prepared;
      };
      if (options.store === 'reread') {
        await drain(await openRange(rangeOf(piece), signal), piece.length, onBytes);
        return done(
          preparedPiece(
            piece,
            digester.digests(),
            (from, callSignal) => openRange(rangeOf(piece, from), callSignal ?? signal),
            async () => undefined,
          ),
        );
      }
      const file = await spoolFile(options.spoolDir);
      const source = await openRange(rangeOf(piece), signal);
      try {
        await writeSpool(file, exactly(source, piece.length, onBytes));
      } catch (error) {
        source.destroy();
        await rm(file, { force: true });
        throw error;
      }
      return done(
        preparedPiece(
          piece,
          digester.digests(),
          async (from) => readSpool(file, from, piece.length - from),
          () => rm(file, { force: true }),
        ),
      );
    },
    {
      maxAttempts: options.readAttempts,
      baseMs: options.backoffBaseMs,
      capMs: options.backoffCapMs,
      signal,
      classify: (error) => ({ retry: !signal?.aborted && isRetryableRead(error) }),
    },
  );
}

/**
 * A stream that can be read once, handed out in consecutive runs of bytes of any length, without copying them: what
 * a run does not use waits for the next. Fails (`source-size-mismatch`) when the stream ends early or runs past its
 * declared size.
 */
export class StreamCursor {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #size: number;
  readonly #signal: AbortSignal | undefined;
  #pending: Uint8Array | undefined;
  #read = 0;
  #done = false;

  constructor(source: AsyncIterable<unknown>, size: number, signal?: AbortSignal) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.#size = size;
    this.#signal = signal;
  }

  /** The next `length` bytes, as they come; after the last byte of the declared size, checks that nothing follows. */
  async *take(length: number): AsyncGenerator<Uint8Array> {
    let left = length;
    while (left > 0) {
      let piece = this.#pending;
      this.#pending = undefined;
      if (piece === undefined) {
        this.#signal?.throwIfAborted();
        const result = await this.#iterator.next();
        if (result.done === true) {
          this.#done = true;
          throw sourceSizeMismatch(this.#size, this.#read);
        }
        piece = toBytes(result.value);
      }
      const part = piece.byteLength > left ? piece.subarray(0, left) : piece;
      if (part.byteLength < piece.byteLength) this.#pending = piece.subarray(part.byteLength);
      left -= part.byteLength;
      this.#read += part.byteLength;
      if (this.#read > this.#size) throw sourceSizeMismatch(this.#size, undefined);
      if (part.byteLength > 0) yield part;
    }
    if (this.#read === this.#size) await this.#expectEnd();
  }

  /** Stops reading and releases the source (destroys a Node stream). Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#iterator.return?.();
  }

  async #expectEnd(): Promise<void> {
    if (this.#pending !== undefined && this.#pending.byteLength > 0) {
      await this.close();
      throw sourceSizeMismatch(this.#size, undefined);
    }
    for (;;) {
      const result = await this.#iterator.next();
      if (result.done === true) {
        this.#done = true;
        return;
      }
      // Streams may yield empty pieces; only bytes count.
      if (toBytes(result.value).byteLength > 0) {
        await this.close();
        throw sourceSizeMismatch(this.#size, undefined);
      }
    }
  }
}

/** Spools the next `piece.length` bytes of a stream that can be read only once into a file, hashing them on the way. */
export async function spoolStreamPiece(
  cursor: StreamCursor,
  piece: SessionPiece,
  spoolDir: string | undefined,
  whole: DropboxContentHasher,
): Promise<PreparedPiece> {
  const digester = new BlockDigester();
  const file = await spoolFile(spoolDir);
  async function* hashed(parts: AsyncIterable<Uint8Array>) {
    for await (const part of parts) {
      digester.update(part);
      whole.update(part);
      yield part;
    }
  }
  try {
    await writeSpool(file, hashed(cursor.take(piece.length)));
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  return preparedPiece(
    piece,
    digester.digests(),
    async (from) => readSpool(file, from, piece.length - from),
    () => rm(file, { force: true }),
  );
}
