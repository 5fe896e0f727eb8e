/**
 * The streaming uploader: one `files/upload` for a small file, else a sequential upload session (start, append_v2,
 * finish) fed chunk by chunk from the stream. Each chunk is buffered once, because its `content_hash` travels in the
 * `Dropbox-API-Arg` header before its bytes and because a failed call must be able to send the same bytes again;
 * memory is therefore one chunk whatever the file's size. The hash Dropbox reports for the committed file is
 * checked against the one computed while reading.
 *
 * Designed so ranged parallel reads can come later: the session calls take explicit offsets, and the
 * {@link UploadApi} they go through is the seam for concurrent sessions and `finish_batch_v2`.
 */
import type { files } from 'dropbox';
import type { DropboxFile, UploadRequest } from '../ports.ts';
import { ChunkReader } from './chunk-reader.ts';
import { computeContentHash, DropboxContentHasher } from './content-hash.ts';
import { DropboxApiError, isDropboxApiError } from './errors.ts';
import { formatDropboxTimestamp, toDropboxFile } from './metadata.ts';

/** The commit half of `files/upload` and `upload_session/finish` (Dropbox's `CommitInfo`). */
export interface CommitArgs {
  readonly path: string;
  readonly mode: { readonly '.tag': 'add' } | { readonly '.tag': 'overwrite' };
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
  startSession(args: {
    readonly data: Uint8Array;
    readonly contentHash: string;
    readonly signal?: AbortSignal | undefined;
  }): Promise<string>;
  appendSession(args: {
    readonly sessionId: string;
    readonly offset: number;
    readonly data: Uint8Array;
    readonly contentHash: string;
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
  getFileMetadata(path: string, signal?: AbortSignal): Promise<DropboxFile | null>;
}

/** Sizes and limits of the uploader (see docs/dropbox-emulator.md for how the defaults were chosen). */
export interface UploadTuning {
  /** Files up to this size go in one `files/upload`. */
  readonly singleUploadMaxBytes: number;
  /** Bytes per upload-session call; also the memory one upload holds. */
  readonly chunkBytes: number;
  /** Tries per Dropbox call, the first included. */
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  /** Upper bound of one wait, `Retry-After` included. */
  readonly backoffCapMs: number;
}

const MIB = 1024 * 1024;
/** Dropbox's limit on the data of one upload call. */
export const MAX_REQUEST_BYTES = 150 * MIB;

/**
 * Defaults: 16 MiB chunks (a multiple of 4 MiB, as concurrent sessions will need). One upload holds one chunk, so a
 * 512 MiB function keeps room for several uploads in flight; a 100 MB proof costs 7 data-transport calls instead of
 * 25 with 4 MiB chunks, and a retry resends at most 16 MiB. Anything that fits one chunk goes in one call.
 */
export const DEFAULT_UPLOAD_TUNING: UploadTuning = {
  singleUploadMaxBytes: 16 * MIB,
  chunkBytes: 16 * MIB,
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
  positive('maxAttempts', 100);
  positive('backoffBaseMs');
  positive('backoffCapMs');
  return tuning;
}

/** The `CommitInfo` of an upload request. */
export function buildCommitArgs(request: UploadRequest): CommitArgs {
  return {
    path: request.path,
    mode: request.onConflict === 'overwrite' ? { '.tag': 'overwrite' } : { '.tag': 'add' },
    autorename: request.onConflict === 'rename',
    client_modified: formatDropboxTimestamp(request.clientModified),
    // The sync writes many files; Dropbox's desktop notifications for each would be noise.
    mute: true,
  };
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

/** Uploads `request.body` and returns the committed file, its content hash verified. */
export async function uploadStream(
  api: UploadApi,
  request: UploadRequest,
  tuning: UploadTuning,
): Promise<DropboxFile> {
  const { signal, size } = request;
  if (!Number.isSafeInteger(size) || size < 0)
    throw new RangeError(`upload size must be a byte count, got ${size}`);
  const commit = buildCommitArgs(request);
  const single = size <= tuning.singleUploadMaxBytes;
  const reader = new ChunkReader(request.body, {
    expectedBytes: size,
    chunkBytes: single ? Math.max(1, size) : tuning.chunkBytes,
    signal,
  });
  try {
    signal?.throwIfAborted();
    if (single) {
      const data = await reader.next();
      const contentHash = computeContentHash(data);
      const metadata = await api.uploadSingle({ commit, data, contentHash, signal });
      return verifyCommitted('files/upload', metadata, size, contentHash);
    }
    return await uploadSession(api, reader, commit, size, tuning, signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    await reader.close();
  }
}

async function uploadSession(
  api: UploadApi,
  reader: ChunkReader,
  commit: CommitArgs,
  size: number,
  tuning: UploadTuning,
  signal: AbortSignal | undefined,
): Promise<DropboxFile> {
  const whole = new DropboxContentHasher();
  const first = await reader.next();
  whole.update(first);
  const sessionId = await api.startSession({ data: first, contentHash: computeContentHash(first), signal });
  let offset = first.byteLength;
  const corrections = tuning.maxAttempts;
  while (offset + tuning.chunkBytes < size) {
    const chunk = await reader.next();
    whole.update(chunk);
    await sendAtOffset(
      offset,
      chunk,
      corrections,
      (at, data, contentHash) => api.appendSession({ sessionId, offset: at, data, contentHash, signal }),
      async () => undefined,
    );
    offset += chunk.byteLength;
  }
  // The last chunk (or nothing, when the first chunk was the whole file) goes with the commit: one call less.
  const last = offset < size ? await reader.next() : new Uint8Array(0);
  whole.update(last);
  const localHash = whole.digest();
  const finish = (at: number, data: Uint8Array, contentHash: string): Promise<files.FileMetadata> =>
    api.finishSession({ sessionId, offset: at, data, contentHash, commit, signal });
  let metadata: files.FileMetadata;
  try {
    metadata = await sendAtOffset(offset, last, corrections, finish, (at) =>
      finish(at, new Uint8Array(0), computeContentHash(new Uint8Array(0))),
    );
  } catch (error) {
    const committed = await findCommitted(api, error, commit.path, size, localHash, signal);
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
