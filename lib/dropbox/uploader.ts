/**
 * The streaming uploader. Three ways into Dropbox, chosen by size and by what the source allows:
 * - a small file (up to `singleUploadMaxBytes`): one `files/upload`; or, when other records of the invocation are
 *   still running, its data in a closed upload session and its commit in the group's one `finish_batch_v2`
 *   (lib/dropbox/batch-commit.ts);
 * - a large file whose source can open byte ranges: a concurrent upload session, its 4 MiB-aligned pieces read by
 *   ranged reads and sent `chunksInFlight` at a time, the closing piece last (Dropbox requires `close` on the last
 *   append, after which the session takes no more data), and a `finish` without data;
 * - otherwise a sequential upload session (start, append_v2, finish) fed chunk by chunk from the stream, which is
 *   as fast when only one chunk can be in flight and costs two calls fewer.
 * Each chunk is buffered once, because its `content_hash` travels in the `Dropbox-API-Arg` header before its bytes
 * and because a failed call must be able to send the same bytes again; session buffers come from the client's
 * {@link BufferPool}, so memory is `chunkBytes × chunksInFlight` however many files are in flight. The hash Dropbox
 * reports for the committed file is checked against the one computed while reading, 4 MiB block by block, in order.
 */
import type { files } from 'dropbox';
import { anySignal } from '../deadline.ts';
import { SyncError } from '../errors.ts';
import type { ByteRange, CommitGroupMember, DropboxFile, UploadRequest } from '../ports.ts';
import { withRetry } from '../retry.ts';
import type { BatchEntry, BatchEntryResult } from './batch-commit.ts';
import type { BufferPool } from './buffer-pool.ts';
import { ChunkReader } from './chunk-reader.ts';
import {
  CONTENT_HASH_BLOCK_BYTES,
  combineBlockDigests,
  computeContentHash,
  DropboxContentHasher,
  digestBlocks,
} from './content-hash.ts';
import { DropboxApiError, isDropboxApiError } from './errors.ts';
import { formatDropboxTimestamp, toDropboxFile } from './metadata.ts';

/** The commit half of `files/upload` and `upload_session/finish` (Dropbox's `CommitInfo`). */
export interface CommitArgs {
  readonly path: string;
  readonly mode:
    | { readonly '.tag': 'add' }
    | { readonly '.tag': 'overwrite' }
    | { readonly '.tag': 'update'; readonly update: string };
  readonly autorename: boolean;
  readonly client_modified: string;
  readonly mute: boolean;
}

/** The Dropbox calls the uploader makes; each implementation retries transient failures itself. */
export interface UploadApi {
  uploadSingle(args: {
    readonly commit: CommitArgs;
    readonly data: Uint8Array;
    readonly contentHash: string;
    readonly signal?: AbortSignal | undefined;
  }): Promise<files.FileMetadata>;
  /** `upload_session/start`; a concurrent session takes no data. */
  startSession(args: {
    readonly data: Uint8Array;
    readonly contentHash: string;
    readonly close: boolean;
    readonly concurrent: boolean;
    readonly signal?: AbortSignal | undefined;
  }): Promise<string>;
  appendSession(args: {
    readonly sessionId: string;
    readonly offset: number;
    readonly data: Uint8Array;
    readonly contentHash: string;
    readonly close: boolean;
    readonly signal?: AbortSignal | undefined;
  }): Promise<void>;
  finishSession(args: {
    readonly sessionId: string;
    readonly offset: number;
    readonly data: Uint8Array;
    readonly contentHash: string;
    readonly commit: CommitArgs;
    readonly signal?: AbortSignal | undefined;
  }): Promise<files.FileMetadata>;
  /** One `upload_session/finish_batch_v2`: a result per entry, in order. */
  finishBatch(args: {
    readonly entries: readonly BatchEntry[];
    readonly signal?: AbortSignal | undefined;
  }): Promise<BatchEntryResult[]>;
  /** Queues `entry` in the member's group and resolves once the group's `finish_batch_v2` committed it. */
  commitInBatch(
    member: CommitGroupMember,
    entry: BatchEntry,
    signal?: AbortSignal,
  ): Promise<files.FileMetadata>;
  getFileMetadata(path: string, signal?: AbortSignal): Promise<DropboxFile | null>;
}

/** Sizes and limits of the uploader (README, "The uploader and its chunk size", says how the defaults were chosen). */
export interface UploadTuning {
  /** Files up to this size go in one call (`files/upload`, or a closed session committed in a batch). */
  readonly singleUploadMaxBytes: number;
  /** Bytes per upload-session call; also the size of one pooled buffer. */
  readonly chunkBytes: number;
  /** Upload-session chunks in flight at once (and buffers in the pool): 1 keeps every session sequential. */
  readonly chunksInFlight: number;
  /** Tries per Dropbox call, the first included. */
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  /** Upper bound of one backoff; Dropbox's `Retry-After` is always waited in full (lib/retry.ts). */
  readonly backoffCapMs: number;
}

const MIB = 1024 * 1024;
/** Dropbox's limit on the data of one upload call. */
export const MAX_REQUEST_BYTES = 150 * MIB;
const EMPTY = new Uint8Array(0);
const EMPTY_HASH = computeContentHash(EMPTY);

/**
 * Defaults (measured with `npm run bench`, see BENCHMARKS.md): 64 MiB chunks, 4 in flight. A 1 GiB file costs 20
 * upload calls (16 at 16 MiB would cost 66 against a monthly data-transport limit), four connections fill a link
 * that caps each one, and the buffers stay at 256 MiB. Anything up to 16 MiB goes in one call.
 */
export const DEFAULT_UPLOAD_TUNING: UploadTuning = {
  singleUploadMaxBytes: 16 * MIB,
  chunkBytes: 64 * MIB,
  chunksInFlight: 4,
  maxAttempts: 6,
  backoffBaseMs: 500,
  backoffCapMs: 20_000,
};

/** Merges and checks tuning overrides; throws on values Dropbox or the uploader cannot work with. */
export function resolveUploadTuning(overrides: Partial<UploadTuning> | undefined): UploadTuning {
  const tuning: UploadTuning = { ...DEFAULT_UPLOAD_TUNING, ...overrides };
  const positive = (name: keyof UploadTuning, max = Number.MAX_SAFE_INTEGER): void => {
    const value = tuning[name];
    if (!Number.isInteger(value) || value < (name === 'singleUploadMaxBytes' ? 0 : 1) || value > max) {
      throw new RangeError(`upload tuning ${name} must be an integer in [1, ${max}], got ${value}`);
    }
  };
  positive('singleUploadMaxBytes', MAX_REQUEST_BYTES);
  positive('chunkBytes', MAX_REQUEST_BYTES);
  positive('chunksInFlight', 64);
  positive('maxAttempts', 100);
  positive('backoffBaseMs');
  positive('backoffCapMs');
  return tuning;
}

/** The `CommitInfo` of an upload request. */
export function buildCommitArgs(request: UploadRequest): CommitArgs {
  if (request.replaceRev !== undefined) {
    return {
      path: request.path,
      // Replaces exactly that revision: a file changed since (another writer) is a conflict, never overwritten.
      mode: { '.tag': 'update', update: request.replaceRev },
      autorename: false,
      client_modified: formatDropboxTimestamp(request.clientModified),
      mute: true,
    };
  }
  return {
    path: request.path,
    mode: request.onConflict === 'overwrite' ? { '.tag': 'overwrite' } : { '.tag': 'add' },
    autorename: request.onConflict === 'rename',
    client_modified: formatDropboxTimestamp(request.clientModified),
    // The sync writes many files; Dropbox's desktop notifications for each would be noise.
    mute: true,
  };
}

/** One piece of a concurrent upload session. */
export interface SessionPiece {
  readonly offset: number;
  readonly length: number;
}

/**
 * How a concurrent session splits `size` bytes: pieces of `pieceBytes` (a multiple of 4 MiB), then the closing
 * piece, which is the file's last 4 MiB block (whole or partial). The closing piece goes alone after all the others
 * (nothing may be appended once a session is closed), so keeping it to one block keeps that tail short.
 */
export function planSessionPieces(
  size: number,
  pieceBytes: number,
): { pieces: SessionPiece[]; last: SessionPiece } {
  const tail = size === 0 ? 0 : ((size - 1) % CONTENT_HASH_BLOCK_BYTES) + 1;
  const aligned = size - tail;
  const pieces: SessionPiece[] = [];
  for (let offset = 0; offset < aligned; offset += pieceBytes) {
    pieces.push({ offset, length: Math.min(pieceBytes, aligned - offset) });
  }
  return { pieces, last: { offset: aligned, length: tail } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `correct_offset` of an `incorrect_offset` error, wherever Dropbox nests it. */
function readCorrectOffset(error: unknown): number | undefined {
  if (!isDropboxApiError(error) || !error.summaryTags.includes('incorrect_offset')) return undefined;
  let node: unknown = error.routeError;
  for (let depth = 0; depth < 4 && isRecord(node); depth += 1) {
    if (typeof node.correct_offset === 'number') return node.correct_offset;
    const tag = node['.tag'];
    node = typeof tag === 'string' ? node[tag] : undefined;
  }
  return undefined;
}

function verifyCommitted(
  endpoint: string,
  metadata: files.FileMetadata,
  size: number,
  localHash: string,
): DropboxFile {
  const file = toDropboxFile(metadata);
  if (file.contentHash !== localHash || file.size !== size) {
    throw new DropboxApiError({
      endpoint,
      status: 200,
      kind: 'transient',
      code: 'dropbox-hash-mismatch',
      retryable: false,
      detail: `committed ${file.pathDisplay} has content_hash ${file.contentHash} and ${file.size} bytes; sent ${localHash} and ${size} bytes`,
    });
  }
  return file;
}

/**
 * A write of mode `update` that found another revision at the path: someone else changed the file since it was
 * read. Transient, so the record is tried again and decides afresh what is at the path.
 */
function translateUpdateConflict(request: UploadRequest, error: unknown): unknown {
  if (request.replaceRev === undefined || !isDropboxApiError(error)) return error;
  if (!error.summaryTags.includes('conflict')) return error;
  return new DropboxApiError({
    endpoint: error.endpoint,
    status: error.status,
    kind: 'transient',
    code: 'dropbox-update-conflict',
    retryable: false,
    errorSummary: error.errorSummary,
    routeError: error.routeError,
    detail: `revision ${request.replaceRev} of ${request.path} is no longer the current one`,
    cause: error,
  });
}

/**
 * Sends one chunk (a single call, or `upload_session/append_v2`/`finish`), resuming at Dropbox's `correct_offset`
 * when the session holds more or less of it than expected (a previous try that arrived but whose answer was lost).
 */
async function sendAtOffset<T>(
  offset: number,
  chunk: Uint8Array,
  maxCorrections: number,
  send: (offset: number, data: Uint8Array, contentHash: string) => Promise<T>,
  alreadyThere: (offset: number) => Promise<T>,
): Promise<T> {
  let sent = 0;
  for (let corrections = 0; ; corrections += 1) {
    const data = sent === 0 ? chunk : chunk.subarray(sent);
    try {
      return await send(offset + sent, data, computeContentHash(data));
    } catch (error) {
      const correct = readCorrectOffset(error);
      if (correct === undefined || corrections >= maxCorrections) throw error;
      if (correct < offset || correct > offset + chunk.byteLength) throw error;
      if (correct === offset + chunk.byteLength) return alreadyThere(correct);
      sent = correct - offset;
    }
  }
}

/** What an upload needs besides the request. */
export interface UploadContext {
  readonly api: UploadApi;
  readonly tuning: UploadTuning;
  readonly buffers: BufferPool;
}

/** The request's content from its start, as one stream. */
async function openWhole(request: UploadRequest, signal: AbortSignal | undefined) {
  if (request.body !== undefined) return request.body;
  if (request.openRange !== undefined) return request.openRange(undefined, signal);
  throw new TypeError('upload request needs a body or openRange');
}

/** Uploads the request's content and returns the committed file, its content hash verified. */
export async function uploadStream(context: UploadContext, request: UploadRequest): Promise<DropboxFile> {
  const { signal, size } = request;
  const { tuning } = context;
  if (!Number.isSafeInteger(size) || size < 0)
    throw new RangeError(`upload size must be a byte count, got ${size}`);
  if (request.body === undefined && request.openRange === undefined)
    throw new TypeError('upload request needs a body or openRange');
  const commit = buildCommitArgs(request);
  try {
    signal?.throwIfAborted();
    if (size <= tuning.singleUploadMaxBytes) return await uploadSmall(context, request, commit);
    const pieceBytes = Math.floor(tuning.chunkBytes / CONTENT_HASH_BLOCK_BYTES) * CONTENT_HASH_BLOCK_BYTES;
    const plan = pieceBytes > 0 ? planSessionPieces(size, pieceBytes) : undefined;
    const { openRange } = request;
    const concurrent =
      openRange !== undefined && tuning.chunksInFlight > 1 && plan !== undefined && plan.pieces.length >= 2;
    const upload = (): Promise<DropboxFile> =>
      concurrent && plan !== undefined
        ? uploadConcurrentSession(context, request, openRange, commit, plan)
        : uploadSequentialSession(context, request, commit);
    // A large upload takes a while: the other records' small files commit without waiting for it.
    return request.batch === undefined ? await upload() : await request.batch.runApart(upload);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw translateUpdateConflict(request, error);
  }
}

/** Reads the whole (small) content into a buffer of its own. */
async function readWhole(request: UploadRequest): Promise<Uint8Array> {
  const { signal, size } = request;
  const reader = new ChunkReader(await openWhole(request, signal), {
    expectedBytes: size,
    chunkBytes: Math.max(1, size),
    signal,
  });
  try {
    return await reader.next();
  } finally {
    await reader.close();
  }
}

async function uploadSmall(
  context: UploadContext,
  request: UploadRequest,
  commit: CommitArgs,
): Promise<DropboxFile> {
  const { api } = context;
  const { signal, size, batch } = request;
  const data = await readWhole(request);
  const contentHash = computeContentHash(data);
  if (batch === undefined || batch.othersRunning === 0) {
    const metadata = await api.uploadSingle({ commit, data, contentHash, signal });
    return verifyCommitted('files/upload', metadata, size, contentHash);
  }
  const sessionId = await api.startSession({ data, contentHash, close: true, concurrent: false, signal });
  let metadata: files.FileMetadata;
  try {
    metadata = await api.commitInBatch(batch, { sessionId, offset: size, commit }, signal);
  } catch (error) {
    const committed = await findCommitted(api, error, commit.path, size, contentHash, signal);
    if (committed === undefined) throw error;
    return committed;
  }
  return verifyCommitted('files/upload_session/finish_batch_v2', metadata, size, contentHash);
}

async function uploadSequentialSession(
  context: UploadContext,
  request: UploadRequest,
  commit: CommitArgs,
): Promise<DropboxFile> {
  const { api, tuning, buffers } = context;
  const { signal, size } = request;
  const buffer = await buffers.acquire(signal);
  let reader: ChunkReader | undefined;
  try {
    const chunkBytes = Math.min(tuning.chunkBytes, buffers.bufferBytes);
    reader = new ChunkReader(await openWhole(request, signal), {
      expectedBytes: size,
      chunkBytes,
      signal,
      buffer,
    });
    return await sendSequentialSession(api, reader, commit, { size, chunkBytes }, tuning, signal);
  } finally {
    await reader?.close();
    buffers.release(buffer);
  }
}

async function sendSequentialSession(
  api: UploadApi,
  reader: ChunkReader,
  commit: CommitArgs,
  { size, chunkBytes }: { readonly size: number; readonly chunkBytes: number },
  tuning: UploadTuning,
  signal: AbortSignal | undefined,
): Promise<DropboxFile> {
  const whole = new DropboxContentHasher();
  const first = await reader.next();
  whole.update(first);
  const sessionId = await api.startSession({
    data: first,
    contentHash: computeContentHash(first),
    close: false,
    concurrent: false,
    signal,
  });
  let offset = first.byteLength;
  const corrections = tuning.maxAttempts;
  while (offset + chunkBytes < size) {
    const chunk = await reader.next();
    whole.update(chunk);
    await sendAtOffset(
      offset,
      chunk,
      corrections,
      (at, data, contentHash) =>
        api.appendSession({ sessionId, offset: at, data, contentHash, close: false, signal }),
      async () => undefined,
    );
    offset += chunk.byteLength;
  }
  // The last chunk (or nothing, when the first chunk was the whole file) goes with the commit: one call less.
  const last = offset < size ? await reader.next() : EMPTY;
  whole.update(last);
  const localHash = whole.digest();
  const finish = (at: number, data: Uint8Array, contentHash: string): Promise<files.FileMetadata> =>
    api.finishSession({ sessionId, offset: at, data, contentHash, commit, signal });
  let metadata: files.FileMetadata;
  try {
    metadata = await sendAtOffset(offset, last, corrections, finish, (at) => finish(at, EMPTY, EMPTY_HASH));
  } catch (error) {
    const committed = await findCommitted(api, error, commit.path, size, localHash, signal);
    if (committed === undefined) throw error;
    return committed;
  }
  return verifyCommitted('files/upload_session/finish', metadata, size, localHash);
}

/** A read that failed on the way (a reset connection, a short body) is worth a second try; a changed object is not. */
function isRetryableRead(error: unknown): boolean {
  if (error instanceof SyncError) return error.kind === 'transient' && !isDropboxApiError(error);
  return error instanceof Error && error.name !== 'AbortError' && error.name !== 'TimeoutError';
}

/** Reads one piece through a ranged read into `buffer`, trying a failed read again. */
function readPiece(
  openRange: NonNullable<UploadRequest['openRange']>,
  piece: SessionPiece,
  buffer: Buffer,
  tuning: UploadTuning,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const range: ByteRange = { start: piece.offset, end: piece.offset + piece.length - 1 };
  return withRetry(
    async () => {
      const reader = new ChunkReader(await openRange(range, signal), {
        expectedBytes: piece.length,
        chunkBytes: piece.length,
        signal,
        buffer,
      });
      try {
        return await reader.next();
      } finally {
        await reader.close();
      }
    },
    {
      maxAttempts: Math.min(3, tuning.maxAttempts),
      baseMs: tuning.backoffBaseMs,
      capMs: tuning.backoffCapMs,
      signal,
      classify: (error) => ({ retry: !signal.aborted && isRetryableRead(error) }),
    },
  );
}

/**
 * An append that Dropbox refuses because its data is already there: an earlier try arrived but its answer was lost.
 * Only this upload writes to its session, and always the same bytes at the same offsets, so an overlap (or, for the
 * closing piece, a session already closed) can only be that earlier try.
 */
function isAlreadyAppended(error: unknown, closing: boolean): boolean {
  if (!isDropboxApiError(error)) return false;
  const tags = error.summaryTags;
  return tags.includes('incorrect_offset') || (closing && tags.includes('closed'));
}

async function uploadConcurrentSession(
  context: UploadContext,
  request: UploadRequest,
  openRange: NonNullable<UploadRequest['openRange']>,
  commit: CommitArgs,
  plan: { pieces: readonly SessionPiece[]; last: SessionPiece },
): Promise<DropboxFile> {
  const { api, tuning, buffers } = context;
  const { size } = request;
  const sessionId = await api.startSession({
    data: EMPTY,
    contentHash: EMPTY_HASH,
    close: false,
    concurrent: true,
    signal: request.signal,
  });
  const digests: Uint8Array[] = new Array(Math.ceil(size / CONTENT_HASH_BLOCK_BYTES));
  const controller = new AbortController();
  const signal = anySignal([request.signal, controller.signal]) ?? controller.signal;

  /** Sends a piece that is in `data` (a pooled buffer), then gives the buffer back. */
  const appendPiece = async (piece: SessionPiece, data: Uint8Array, close: boolean): Promise<void> => {
    const blocks = digestBlocks(data);
    try {
      await api.appendSession({
        sessionId,
        offset: piece.offset,
        data,
        contentHash: combineBlockDigests(blocks),
        close,
        signal,
      });
    } catch (error) {
      if (!isAlreadyAppended(error, close)) throw error;
    }
    const first = piece.offset / CONTENT_HASH_BLOCK_BYTES;
    blocks.forEach((digest, index) => {
      digests[first + index] = digest;
    });
  };

  const progress: { next: number; failure?: { readonly error: unknown } } = { next: 0 };
  const fail = (error: unknown): void => {
    // The first failure stops the others; theirs are only the consequence of this abort.
    if (progress.failure !== undefined) return;
    progress.failure = { error };
    controller.abort(error);
  };
  const sending = new Set<Promise<void>>();
  // One reader fills each free buffer in turn and hands it to its send, which runs while the next buffer is read:
  // at most `chunksInFlight` pieces are held (and sent) at once. A single ranged read at a time was the faster
  // choice on both a fast and a capped link (BENCHMARKS.md): parallel reads only slowed each other down, and a
  // buffer freed by a send is refilled sooner when the reads do not share the source.
  const reader = async (): Promise<void> => {
    while (progress.failure === undefined && progress.next < plan.pieces.length) {
      const piece = plan.pieces[progress.next] as SessionPiece;
      progress.next += 1;
      let buffer: Buffer | undefined;
      try {
        buffer = await buffers.acquire(signal);
        const data = await readPiece(openRange, piece, buffer, tuning, signal);
        const held = buffer;
        buffer = undefined;
        const send = appendPiece(piece, data, false)
          .catch(fail)
          .finally(() => {
            buffers.release(held);
            sending.delete(send);
          });
        sending.add(send);
      } catch (error) {
        if (buffer !== undefined) buffers.release(buffer);
        fail(error);
      }
    }
  };
  await reader();
  while (sending.size > 0) await Promise.all([...sending]);
  if (progress.failure !== undefined) throw progress.failure.error;
  const buffer = await buffers.acquire(signal);
  try {
    await appendPiece(plan.last, await readPiece(openRange, plan.last, buffer, tuning, signal), true);
  } finally {
    buffers.release(buffer);
  }

  const localHash = combineBlockDigests(digests);
  let metadata: files.FileMetadata;
  try {
    metadata = await api.finishSession({
      sessionId,
      offset: size,
      data: EMPTY,
      contentHash: EMPTY_HASH,
      commit,
      signal: request.signal,
    });
  } catch (error) {
    const committed = await findCommitted(api, error, commit.path, size, localHash, request.signal);
    if (committed === undefined) throw error;
    return committed;
  }
  return verifyCommitted('files/upload_session/finish', metadata, size, localHash);
}

/**
 * After a finish whose session is gone (`lookup_failed/not_found` or `closed`): when an earlier try committed but its
 * answer was lost, the file is already at the path with our content. Anything else leaves the original error.
 */
async function findCommitted(
  api: UploadApi,
  error: unknown,
  path: string,
  size: number,
  localHash: string,
  signal: AbortSignal | undefined,
): Promise<DropboxFile | undefined> {
  if (!isDropboxApiError(error)) return undefined;
  const tags = error.summaryTags;
  if (tags[0] !== 'lookup_failed' || !(tags.includes('not_found') || tags.includes('closed')))
    return undefined;
  const existing = await api.getFileMetadata(path, signal);
  if (existing !== null && existing.contentHash === localHash && existing.size === size) return existing;
  return undefined;
}
