/**
 * The streaming uploader. Three ways into Dropbox, chosen by size and by what the source allows:
 * - a small file (up to `singleUploadMaxBytes`, read into memory): one `files/upload`; or, when other records of the
 *   invocation are still running, its data in a closed upload session and its commit in the group's one
 *   `finish_batch_v2` (lib/dropbox/batch-commit.ts);
 * - a large file of three pieces or more whose source can open byte ranges: a concurrent upload session, its
 *   4 MiB-aligned pieces sent `chunksInFlight` at a time, the closing piece (the rest of the file) last, since
 *   Dropbox requires `close` on the last append and takes no more data after it, and a `finish` without data;
 * - otherwise a sequential upload session (start and finish carry data, append_v2 between), which costs two calls
 *   fewer and loses nothing when the pieces could not be sent in parallel anyway.
 * A session's pieces are hashed before they are sent but never held in memory (lib/dropbox/pieces.ts: the range is
 * read again, or spooled to disk), each call carries the `content_hash` of its own bytes, and the hash Dropbox
 * reports for the committed file is checked against the one computed while reading. Memory is the streams' buffers,
 * whatever the piece size; the client's {@link Slots} bound the pieces hashed ahead and the calls in flight.
 */
import type { files } from 'dropbox';
import { anySignal } from '../deadline.ts';
import type { CommitGroupMember, DropboxFile, UploadRequest } from '../ports.ts';
import { withRetry } from '../retry.ts';
import type { BatchEntry, BatchEntryResult } from './batch-commit.ts';
import { ChunkReader } from './chunk-reader.ts';
import {
  CONTENT_HASH_BLOCK_BYTES,
  combineBlockDigests,
  computeContentHash,
  DropboxContentHasher,
} from './content-hash.ts';
import { DropboxApiError, isDropboxApiError } from './errors.ts';
import { formatDropboxTimestamp, toDropboxFile } from './metadata.ts';
import {
  isRetryableRead,
  type PieceOptions,
  type PieceStore,
  type PreparedPiece,
  prepareRangePiece,
  type SessionPiece,
  type Slots,
  StreamCursor,
  spoolStreamPiece,
} from './pieces.ts';
import type { StreamBody } from './stream-body.ts';

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
    readonly data: Uint8Array | StreamBody;
    readonly contentHash: string;
    readonly close: boolean;
    readonly concurrent: boolean;
    readonly signal?: AbortSignal | undefined;
  }): Promise<string>;
  appendSession(args: {
    readonly sessionId: string;
    readonly offset: number;
    readonly data: Uint8Array | StreamBody;
    readonly contentHash: string;
    readonly close: boolean;
    readonly signal?: AbortSignal | undefined;
  }): Promise<void>;
  finishSession(args: {
    readonly sessionId: string;
    readonly offset: number;
    readonly data: Uint8Array | StreamBody;
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
  /** Files up to this size are read into memory and go in one call (`files/upload`, or a closed session batched). */
  readonly singleUploadMaxBytes: number;
  /** Bytes per upload-session call (a concurrent session's pieces are this, rounded down to 4 MiB blocks). */
  readonly chunkBytes: number;
  /** Upload-session calls with data in flight at once, per client: 1 keeps every session sequential. */
  readonly chunksInFlight: number;
  /** How a piece's bytes are kept between its hashing and its call (lib/dropbox/pieces.ts). */
  readonly pieceStore: PieceStore;
  /** Folder of the spool files. @default the OS's temporary folder (`/tmp` on Lambda) */
  readonly spoolDir?: string | undefined;
  /** Tries per Dropbox call, the first included. */
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  /** Upper bound of one backoff; Dropbox's `Retry-After` is always waited in full (lib/retry.ts). */
  readonly backoffCapMs: number;
}

const MIB = 1024 * 1024;
/**
 * Dropbox's limit on the data of one upload call: "A single request should not upload more than 150 MB" (the
 * `upload_session/append_v2` documentation). Read strictly as 150,000,000 bytes; with 4 MiB blocks, a concurrent
 * session's pieces are then at most 140 MiB.
 */
export const MAX_REQUEST_BYTES = 150_000_000;
const EMPTY = new Uint8Array(0);
const EMPTY_HASH = computeContentHash(EMPTY);

/**
 * Defaults (measured with `npm run bench`, see BENCHMARKS.md): pieces of 140 MiB, the largest whole number of 4 MiB
 * blocks under Dropbox's 150 MB limit, so a 1 GiB file costs 10 upload calls; 4 calls in flight use a link that caps
 * each connection; pieces spooled to disk, which cost less CPU than reading each range from S3 twice. Anything
 * up to 16 MiB goes in one call from memory.
 */
export const DEFAULT_UPLOAD_TUNING: UploadTuning = {
  singleUploadMaxBytes: 16 * MIB,
  chunkBytes: 140 * MIB,
  chunksInFlight: 4,
  pieceStore: 'spool',
  maxAttempts: 6,
  backoffBaseMs: 500,
  backoffCapMs: 20_000,
};

/** Merges and checks tuning overrides; throws on values Dropbox or the uploader cannot work with. */
export function resolveUploadTuning(overrides: Partial<UploadTuning> | undefined): UploadTuning {
  const tuning: UploadTuning = { ...DEFAULT_UPLOAD_TUNING, ...overrides };
  const positive = (name: keyof UploadTuning, max = Number.MAX_SAFE_INTEGER): void => {
    const value = tuning[name];
    if (
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < (name === 'singleUploadMaxBytes' ? 0 : 1) ||
      value > max
    ) {
      throw new RangeError(`upload tuning ${name} must be an integer in [1, ${max}], got ${String(value)}`);
    }
  };
  positive('singleUploadMaxBytes', MAX_REQUEST_BYTES);
  positive('chunkBytes', MAX_REQUEST_BYTES);
  positive('chunksInFlight', 64);
  positive('maxAttempts', 100);
  positive('backoffBaseMs');
  positive('backoffCapMs');
  if (tuning.pieceStore !== 'reread' && tuning.pieceStore !== 'spool') {
    throw new RangeError(
      `upload tuning pieceStore must be reread or spool, got ${String(tuning.pieceStore)}`,
    );
  }
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

export type { SessionPiece } from './pieces.ts';

/**
 * How a concurrent session splits `size` bytes: pieces of `pieceBytes` (a multiple of 4 MiB), then the closing piece,
 * the rest of the file (1 byte to `pieceBytes`). The closing piece goes alone after all the others (nothing may be
 * appended once a session is closed); with every other piece as large as allowed, it is as short as the number of
 * calls allows.
 */
export function planSessionPieces(
  size: number,
  pieceBytes: number,
): { pieces: SessionPiece[]; last: SessionPiece } {
  const count = Math.max(1, Math.ceil(size / pieceBytes));
  const pieces: SessionPiece[] = [];
  for (let index = 0; index < count - 1; index += 1) {
    pieces.push({ offset: index * pieceBytes, length: pieceBytes });
  }
  const offset = (count - 1) * pieceBytes;
  return { pieces, last: { offset, length: size - offset } };
}

/** A sequential session's pieces: `chunkBytes` each, the last one shorter. */
function planSequentialPieces(size: number, chunkBytes: number): SessionPiece[] {
  const pieces: SessionPiece[] = [];
  for (let offset = 0; offset < size; offset += chunkBytes) {
    pieces.push({ offset, length: Math.min(chunkBytes, size - offset) });
  }
  return pieces;
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

/** What an upload needs besides the request. */
export interface UploadContext {
  readonly api: UploadApi;
  readonly tuning: UploadTuning;
  /** The client's limits, shared by all its uploads: pieces hashed (or spooled) and not yet sent, and calls sending. */
  readonly slots: { readonly prepared: Slots; readonly sending: Slots };
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
    // Two pieces or more before the closing one, or nothing would be sent in parallel.
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

/**
 * A call that streams a piece, tried again when the piece's source fails on the way (a reset S3 read); Dropbox's own
 * failures are retried inside the call (lib/dropbox/client.ts).
 */
function sendReading<T>(
  tuning: UploadTuning,
  signal: AbortSignal | undefined,
  send: () => Promise<T>,
): Promise<T> {
  return withRetry(send, {
    maxAttempts: Math.min(3, tuning.maxAttempts),
    baseMs: tuning.backoffBaseMs,
    capMs: tuning.backoffCapMs,
    signal,
    classify: (error) => ({ retry: !signal?.aborted && isRetryableRead(error) }),
  });
}

/**
 * Sends one piece with a sequential session's `append_v2` or `finish`, resuming at Dropbox's `correct_offset` when
 * the session holds more or less of it than expected (a previous try that arrived but whose answer was lost).
 */
async function sendAtOffset<T>(
  piece: PreparedPiece,
  maxCorrections: number,
  send: (offset: number, data: StreamBody, contentHash: string) => Promise<T>,
  alreadyThere: (offset: number) => Promise<T>,
): Promise<T> {
  const { offset } = piece;
  let sent = 0;
  for (let corrections = 0; ; corrections += 1) {
    try {
      return await send(offset + sent, piece.body(sent), await piece.contentHashFrom(sent));
    } catch (error) {
      const correct = readCorrectOffset(error);
      if (correct === undefined || corrections >= maxCorrections) throw error;
      if (correct < offset || correct > offset + piece.length) throw error;
      if (correct === offset + piece.length) return alreadyThere(correct);
      sent = correct - offset;
    }
  }
}

/** How the pieces of one upload are prepared: from ranges, or spooled from the one stream. */
type Prepare = (piece: SessionPiece) => Promise<PreparedPiece>;

function pieceOptions(tuning: UploadTuning, signal: AbortSignal | undefined): PieceOptions {
  return {
    store: tuning.pieceStore,
    spoolDir: tuning.spoolDir,
    readAttempts: Math.min(3, tuning.maxAttempts),
    backoffBaseMs: tuning.backoffBaseMs,
    backoffCapMs: tuning.backoffCapMs,
    signal,
  };
}

/** A prepared piece together with the slot it holds; `release` frees both, once. */
interface HeldPiece {
  readonly piece: PreparedPiece;
  release(): Promise<void>;
}

/** Takes a `prepared` slot and prepares `piece` in it. */
async function holdPiece(
  context: UploadContext,
  prepare: Prepare,
  piece: SessionPiece,
  signal: AbortSignal | undefined,
): Promise<HeldPiece> {
  const releaseSlot = await context.slots.prepared.acquire(signal);
  let prepared: PreparedPiece;
  try {
    prepared = await prepare(piece);
  } catch (error) {
    releaseSlot();
    throw error;
  }
  let released: Promise<void> | undefined;
  return {
    piece: prepared,
    release: () => {
      released ??= prepared.release().finally(releaseSlot);
      return released;
    },
  };
}

/** Runs `send` in a `sending` slot. */
async function inSendingSlot<T>(
  context: UploadContext,
  signal: AbortSignal | undefined,
  send: () => Promise<T>,
) {
  const release = await context.slots.sending.acquire(signal);
  try {
    return await send();
  } finally {
    release();
  }
}

async function uploadSequentialSession(
  context: UploadContext,
  request: UploadRequest,
  commit: CommitArgs,
): Promise<DropboxFile> {
  const { api, tuning } = context;
  const { size, openRange, body } = request;
  const controller = new AbortController();
  const signal = anySignal([request.signal, controller.signal]) ?? controller.signal;
  const whole = { current: new DropboxContentHasher() };
  const cursor =
    openRange === undefined && body !== undefined ? new StreamCursor(body, size, signal) : undefined;
  const options: PieceOptions = { ...pieceOptions(tuning, signal), whole };
  const prepare: Prepare = (piece) =>
    cursor !== undefined
      ? spoolStreamPiece(cursor, piece, tuning.spoolDir, whole.current)
      : prepareRangePiece(openRange as NonNullable<typeof openRange>, piece, options);
  const pieces = planSequentialPieces(size, tuning.chunkBytes);
  // Each piece is prepared while the one before it is sent: the session's order is kept, one call at a time.
  let next: Promise<HeldPiece> | undefined;
  const prepareNext = (index: number): void => {
    const piece = pieces[index];
    next = piece === undefined ? undefined : holdPiece(context, prepare, piece, signal);
    // Handled where it is awaited; a failure before then is not an unhandled rejection.
    next?.catch(() => undefined);
  };
  const take = async (): Promise<HeldPiece> => {
    const held = await (next as Promise<HeldPiece>);
    return held;
  };
  try {
    prepareNext(0);
    let held = await take();
    prepareNext(1);
    const first = held.piece;
    const sessionId = await inSendingSlot(context, signal, () =>
      sendReading(tuning, signal, () =>
        api.startSession({
          data: first.body(),
          contentHash: first.contentHash,
          close: false,
          concurrent: false,
          signal,
        }),
      ),
    );
    await held.release();
    const corrections = tuning.maxAttempts;
    for (let index = 1; index < pieces.length - 1; index += 1) {
      held = await take();
      prepareNext(index + 1);
      const piece = held.piece;
      await inSendingSlot(context, signal, () =>
        sendReading(tuning, signal, () =>
          sendAtOffset(
            piece,
            corrections,
            (at, data, contentHash) =>
              api.appendSession({ sessionId, offset: at, data, contentHash, close: false, signal }),
            async () => undefined,
          ),
        ),
      );
      await held.release();
    }
    // The last piece (or nothing, when the first piece was the whole file) goes with the commit: one call less.
    const lastHeld = pieces.length > 1 ? await take() : undefined;
    next = undefined;
    const localHash = whole.current.digest();
    const finish = (at: number, data: Uint8Array | StreamBody, contentHash: string) =>
      api.finishSession({ sessionId, offset: at, data, contentHash, commit, signal: request.signal });
    let metadata: files.FileMetadata;
    try {
      metadata = await inSendingSlot(context, signal, () =>
        lastHeld === undefined
          ? finish(size, EMPTY, EMPTY_HASH)
          : sendReading(tuning, signal, () =>
              sendAtOffset(lastHeld.piece, corrections, finish, (at) => finish(at, EMPTY, EMPTY_HASH)),
            ),
      );
    } catch (error) {
      const committed = await findCommitted(api, error, commit.path, size, localHash, request.signal);
      if (committed === undefined) throw error;
      return committed;
    } finally {
      await lastHeld?.release();
    }
    return verifyCommitted('files/upload_session/finish', metadata, size, localHash);
  } finally {
    controller.abort(new Error('upload ended'));
    const pending = next;
    if (pending !== undefined)
      await pending.then(
        (held) => held.release(),
        () => undefined,
      );
    await cursor?.close();
  }
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
  const { api, tuning } = context;
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
  const options = pieceOptions(tuning, signal);
  const prepare: Prepare = (piece) => prepareRangePiece(openRange, piece, options);

  /** Sends a prepared piece, then records its block digests. */
  const appendPiece = async (piece: PreparedPiece, close: boolean): Promise<void> => {
    try {
      await sendReading(tuning, signal, () =>
        api.appendSession({
          sessionId,
          offset: piece.offset,
          data: piece.body(),
          contentHash: piece.contentHash,
          close,
          signal,
        }),
      );
    } catch (error) {
      if (!isAlreadyAppended(error, close)) throw error;
    }
    const first = piece.offset / CONTENT_HASH_BLOCK_BYTES;
    piece.digests.forEach((digest, index) => {
      digests[first + index] = digest;
    });
  };

  const progress: { failure?: { readonly error: unknown } } = {};
  const fail = (error: unknown): void => {
    // The first failure stops the others; theirs are only the consequence of this abort.
    if (progress.failure !== undefined) return;
    progress.failure = { error };
    controller.abort(error);
  };
  const sending = new Set<Promise<void>>();
  let closing: HeldPiece | undefined;
  try {
    // One reader hashes the pieces in order, one ranged read at a time, and hands each to a send of its own as soon
    // as a sending slot is free; it reads ahead by the `prepared` slots (one more than the sends), so a freed slot's
    // next send starts at once. A single read at a time was the faster choice on both a fast and a capped link
    // (BENCHMARKS.md): parallel reads only slowed each other down.
    for (const piece of plan.pieces) {
      if (progress.failure !== undefined) break;
      let held: HeldPiece | undefined;
      try {
        held = await holdPiece(context, prepare, piece, signal);
        const releaseSending = await context.slots.sending.acquire(signal);
        const mine = held;
        const send = appendPiece(mine.piece, false)
          .catch(fail)
          .finally(async () => {
            releaseSending();
            await mine.release();
            sending.delete(send);
          });
        sending.add(send);
      } catch (error) {
        await held?.release();
        fail(error);
      }
    }
    // The closing piece is hashed while the others are still on their way, and sent once they all arrived.
    if (progress.failure === undefined) {
      try {
        closing = await holdPiece(context, prepare, plan.last, signal);
      } catch (error) {
        fail(error);
      }
    }
    while (sending.size > 0) await Promise.all([...sending]);
    if (progress.failure !== undefined) throw progress.failure.error;
    const last = closing as HeldPiece;
    await inSendingSlot(context, signal, () => appendPiece(last.piece, true));
  } finally {
    await closing?.release();
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
