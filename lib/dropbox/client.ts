/**
 * The Dropbox adapter: the `dropbox` SDK for every API call, with the project's own token handling (one refresh at
 * a time), path root (`Dropbox-API-Path-Root` for team spaces), retry policy (lib/retry.ts) and streaming uploader.
 * `DROPBOX_ENDPOINT_URL` routes API, content and token calls to one origin through the SDK's `fetch` option.
 */
import { createHash } from 'node:crypto';
import { Dropbox, type DropboxRequestOptions, type DropboxResponse, type files, type users } from 'dropbox';
import { remainingMs } from '../deadline.ts';
import { isAbortError } from '../errors.ts';
import type { DropboxFile, DropboxTarget, UploadRequest } from '../ports.ts';
import { NotBefore, withRetry } from '../retry.ts';
import type { DropboxCredentials } from '../settings.ts';
import { type BatchEntryResult, FinishBatchCommitter, MIN_CONTENTION_ATTEMPTS } from './batch-commit.ts';
import { buildTokenUrl, createRoutedFetch, normalizeEndpointUrl } from './endpoint.ts';
import {
  classifyEntryFailure,
  classifyErrorResponse,
  createNetworkError,
  DropboxApiError,
  detectNetworkFailure,
  isDropboxApiError,
} from './errors.ts';
import { createHttpTransport } from './http-transport.ts';
import { toDropboxFile } from './metadata.ts';
import { PathRootResolver, parseRootInfo, type RootInfo } from './path-root.ts';
import { Slots } from './pieces.ts';
import type { StreamBody } from './stream-body.ts';
import { AccessTokenSource } from './tokens.ts';
import {
  type CommitArgs,
  resolveUploadTuning,
  type UploadApi,
  type UploadTuning,
  uploadStream,
} from './uploader.ts';

export type { UploadTuning } from './uploader.ts';
export { DEFAULT_UPLOAD_TUNING } from './uploader.ts';

/** What a retry inside a call reports, for logs and metrics (never a token). */
export interface DropboxRetryInfo {
  readonly endpoint: string;
  /** The try about to start (1 = first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  /** The classified failure (`dropbox-rate-limited`, `dropbox-unavailable`, `dropbox-network`, …). */
  readonly code: string;
}

/** Options of a {@link DropboxClient}. */
export interface DropboxClientOptions {
  readonly credentials: DropboxCredentials;
  /** `DROPBOX_ENDPOINT_URL`: one http(s) origin for API, content and token calls. @default Dropbox itself */
  readonly endpointUrl?: string | undefined;
  /**
   * Sends every request (API, content and token). @default a node:http(s) transport (lib/dropbox/http-transport.ts):
   * Node's own fetch copies each request body, which doubles an upload's memory.
   */
  readonly fetch?: typeof fetch;
  readonly upload?: Partial<UploadTuning>;
  readonly onRetry?: (info: DropboxRetryInfo) => void;
  /** Limit of one call without data; calls with data get one more second per 256 KiB. @default 60000 */
  readonly requestTimeoutMs?: number;
}

/** The connected account, as `users/get_current_account` describes it. */
export interface DropboxAccount {
  readonly accountId: string;
  readonly displayName: string;
  readonly email: string;
  readonly rootNamespaceId: string;
  readonly homeNamespaceId: string;
  /** True when the account's root is a team space distinct from its home folder. */
  readonly isTeamRoot: boolean;
}

interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  /** Sends `Dropbox-API-Path-Root` (file routes). */
  readonly pathRoot: boolean;
  /** Bytes the call carries, for its timeout. */
  readonly bytes?: number;
  /** Overrides the tries of this call. */
  readonly maxAttempts?: number;
}

type Send<T> = (sdk: Dropbox, options: DropboxRequestOptions) => Promise<DropboxResponse<T>>;

const BYTES_PER_TIMEOUT_SECOND = 256 * 1024;

/** A 401 that a fresh access token fixes (classified in lib/dropbox/errors.ts). */
function isTokenRefused(error: DropboxApiError): boolean {
  return error.code === 'dropbox-token-refused';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turns whatever an SDK call threw into a {@link DropboxApiError}; rethrows anything that is not a Dropbox failure. */
function translate(endpoint: string, error: unknown): DropboxApiError {
  if (isDropboxApiError(error)) return error;
  if (error instanceof Error && error.name === 'DropboxResponseError' && isRecord(error)) {
    const status = typeof error.status === 'number' ? error.status : 0;
    const headers = error.headers instanceof Headers ? error.headers : undefined;
    return classifyErrorResponse(endpoint, { status, headers, body: error.error }, error);
  }
  const failure = detectNetworkFailure(error);
  if (failure !== undefined) return createNetworkError(endpoint, failure, error);
  throw error;
}

function toAccount(account: users.FullAccount): DropboxAccount {
  const root = parseRootInfo(account.root_info);
  if (root === undefined) throw new Error('users/get_current_account: answer without root_info');
  return {
    accountId: account.account_id,
    displayName: account.name.display_name,
    email: account.email,
    rootNamespaceId: root.rootNamespaceId,
    homeNamespaceId: root.homeNamespaceId,
    isTeamRoot: root.rootNamespaceId !== root.homeNamespaceId,
  };
}

/**
 * A call that Dropbox's `Retry-After` keeps from starting before the deadline: it gives up at once, carrying the wait
 * so that the queue brings its record back when Dropbox takes requests again (lib/sqs-record.ts).
 */
function rateLimitedPastDeadline(endpoint: string, waitMs: number, signal: AbortSignal | undefined) {
  const left = Math.floor((remainingMs(signal) ?? 0) / 1000);
  return new DropboxApiError({
    endpoint,
    status: 429,
    kind: 'transient',
    code: 'dropbox-rate-limited',
    retryable: false,
    retryAfterMs: waitMs,
    detail: `Dropbox asked for no request in the next ${Math.ceil(waitMs / 1000)} s (Retry-After), past the deadline (${left} s left)`,
  });
}

/**
 * Whether a failure's `Retry-After` holds back every call of the client. A rate limit (`too_many_requests`, or a
 * server asking to wait) applies to the access token, so it does. Namespace lock contention
 * (`too_many_write_operations`) is not a limit on the client: only the write that met it waits its `Retry-After`,
 * while uploads of data go on; holding every call and releasing them together would only make the writes collide
 * again (https://www.dropbox.com/developers/reference/data-ingress-guide: the two 429s "differ" and are handled apart).
 */
function holdsTheClient(failure: DropboxApiError): boolean {
  return failure.retryAfterMs !== undefined && !failure.summaryTags.includes('too_many_write_operations');
}

/** The account's space, as `users/get_space_usage` reports it. */
export interface DropboxSpace {
  /** Bytes used by the account (the team's, for a team allocation). */
  readonly used: number;
  /** Bytes allocated to it; `undefined` when Dropbox does not say (an allocation of another kind). */
  readonly allocated: number | undefined;
  /** True when no file can be written: the account (or, under a `stop_sync` member limit, the member) is full. */
  readonly full: boolean;
}

/**
 * Reads `SpaceUsage` (users.stone): an `individual` allocation is full at `used >= allocated`; a `team` one when the
 * team's `used >= allocated`, or when the member has a limit (`user_within_team_space_allocated` > 0, 0 meaning
 * none) of type `stop_sync` and has reached it (`alert_only` only warns).
 */
export function toDropboxSpace(usage: users.SpaceUsage): DropboxSpace {
  const allocation = usage.allocation;
  if (allocation['.tag'] === 'individual') {
    return { used: usage.used, allocated: allocation.allocated, full: usage.used >= allocation.allocated };
  }
  if (allocation['.tag'] === 'team') {
    const memberLimit = allocation.user_within_team_space_allocated;
    const memberFull =
      memberLimit > 0 &&
      allocation.user_within_team_space_limit_type['.tag'] === 'stop_sync' &&
      allocation.user_within_team_space_used_cached >= memberLimit;
    return {
      used: allocation.used,
      allocated: allocation.allocated,
      full: allocation.used >= allocation.allocated || memberFull,
    };
  }
  return { used: usage.used, allocated: undefined, full: false };
}

/** Dropbox names the root folder `""` in `list_folder`. */
function toListPath(path: string): string {
  return path === '/' ? '' : path;
}

/** The Dropbox adapter of the sync ({@link DropboxTarget}) and the CLI. */
export class DropboxClient implements DropboxTarget {
  readonly #fetch: typeof fetch;
  readonly #tokens: AccessTokenSource;
  readonly #root: PathRootResolver;
  readonly #tuning: UploadTuning;
  readonly #onRetry: ((info: DropboxRetryInfo) => void) | undefined;
  readonly #timeoutMs: number;
  readonly #uploadApi: UploadApi;
  /** Pieces hashed ahead (or spooled) and calls with data in flight, across every upload of this client. */
  readonly #slots: { readonly prepared: Slots; readonly sending: Slots };
  /** The `finish_batch_v2` committer of each commit group this client has seen (one per invocation). */
  readonly #committers = new WeakMap<object, FinishBatchCommitter>();
  /** No call of this client (one token, one namespace) starts before Dropbox's last `Retry-After` has passed. */
  readonly #notBefore = new NotBefore();

  constructor(options: DropboxClientOptions) {
    const baseFetch = options.fetch ?? createHttpTransport();
    const endpointUrl =
      options.endpointUrl === undefined ? undefined : normalizeEndpointUrl(options.endpointUrl);
    this.#fetch = createRoutedFetch(endpointUrl, baseFetch);
    this.#tokens = new AccessTokenSource({
      appKey: options.credentials.appKey,
      refreshToken: options.credentials.refreshToken,
      appSecret: options.credentials.appSecret,
      tokenUrl: buildTokenUrl(endpointUrl),
      fetch: baseFetch,
    });
    this.#root = new PathRootResolver(options.credentials.pathRoot, (signal) => this.#readRoot(signal));
    this.#tuning = resolveUploadTuning(options.upload);
    // One piece hashed ahead of the calls in flight, so that a call that ends is followed by the next at once.
    this.#slots = {
      prepared: new Slots(this.#tuning.chunksInFlight + 1),
      sending: new Slots(this.#tuning.chunksInFlight),
    };
    this.#onRetry = options.onRetry;
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#uploadApi = this.#createUploadApi();
  }

  /** The tuning in force (defaults merged with overrides). */
  get tuning(): UploadTuning {
    return this.#tuning;
  }

  /** The time (epoch milliseconds) before which this client sends nothing, after a `Retry-After`. */
  get notBefore(): number {
    return this.#notBefore.at;
  }

  /** Token requests this client has sent (one per refresh, shared by concurrent calls). */
  get tokenRequestCount(): number {
    return this.#tokens.requestCount;
  }

  /** `users/get_current_account`; also refreshes the path root the client uses. */
  async getCurrentAccount(signal?: AbortSignal): Promise<DropboxAccount> {
    const account = toAccount(
      await this.#call('users/get_current_account', (sdk, o) => sdk.usersGetCurrentAccount(o), {
        signal,
        pathRoot: false,
      }),
    );
    this.#root.remember(account);
    return account;
  }

  /** `users/get_space_usage`: how full the account is. */
  async getSpaceUsage(signal?: AbortSignal): Promise<DropboxSpace> {
    return toDropboxSpace(
      await this.#call('users/get_space_usage', (sdk, o) => sdk.usersGetSpaceUsage(o), {
        signal,
        pathRoot: false,
      }),
    );
  }

  /** `files/get_metadata`: the file at `path`, or `null` when nothing (or a folder) is there. */
  async getFileMetadata(path: string, signal?: AbortSignal): Promise<DropboxFile | null> {
    try {
      const metadata = await this.#call(
        'files/get_metadata',
        (sdk, o) => sdk.filesGetMetadata({ path, include_deleted: false }, o),
        { signal, pathRoot: true },
      );
      return metadata['.tag'] === 'file' ? toDropboxFile(metadata) : null;
    } catch (error) {
      // `not_folder` (LookupError: "We were expecting a folder, but the given path refers to something that isn't
      // a folder"): a file holds the name of one of the path's folders, so no file is at the path either.
      const lookup = isDropboxApiError(error) && error.status === 409 ? error.summaryTags.join('/') : '';
      if (lookup === 'path/not_found' || lookup === 'path/not_folder') return null;
      throw error;
    }
  }

  /** The files in a folder (with `recursive`, in its subfolders too), following the cursor; `[]` for no folder. */
  async listFolder(
    path: string,
    options: { readonly recursive?: boolean; readonly signal?: AbortSignal } = {},
  ): Promise<DropboxFile[]> {
    const { signal } = options;
    const found: DropboxFile[] = [];
    const collect = (page: files.ListFolderResult): void => {
      for (const entry of page.entries) {
        if (entry['.tag'] === 'file') found.push(toDropboxFile(entry));
      }
    };
    let page: files.ListFolderResult;
    try {
      page = await this.#call(
        'files/list_folder',
        (sdk, o) => sdk.filesListFolder({ path: toListPath(path), recursive: options.recursive ?? false }, o),
        { signal, pathRoot: true },
      );
    } catch (error) {
      if (
        isDropboxApiError(error) &&
        error.status === 409 &&
        error.summaryTags.join('/') === 'path/not_found'
      ) {
        return [];
      }
      throw error;
    }
    collect(page);
    while (page.has_more) {
      const cursor = page.cursor;
      page = await this.#call(
        'files/list_folder/continue',
        (sdk, o) => sdk.filesListFolderContinue({ cursor }, o),
        { signal, pathRoot: true },
      );
      collect(page);
    }
    return found;
  }

  /** Upload-session calls with data this client has in flight right now (at most `chunksInFlight`). */
  get uploadCallsInFlight(): number {
    return this.#slots.sending.held;
  }

  /** Streams one file into Dropbox (see lib/dropbox/uploader.ts) and returns it, its content hash verified. */
  upload(request: UploadRequest): Promise<DropboxFile> {
    return uploadStream({ api: this.#uploadApi, tuning: this.#tuning, slots: this.#slots }, request);
  }

  /**
   * `auth/token/revoke`: disables the access token and, with it, the refresh token it came from. The client is
   * unusable afterwards (and leaves the shared cache).
   */
  async revokeToken(): Promise<void> {
    await this.#call('auth/token/revoke', (sdk, o) => sdk.authTokenRevoke(o), {
      pathRoot: false,
      maxAttempts: 3,
    });
    this.#tokens.clear();
    forgetClient(this);
  }

  async #readRoot(signal?: AbortSignal): Promise<RootInfo> {
    // One try: the file call that needs the root retries as a whole.
    const account = await this.#call('users/get_current_account', (sdk, o) => sdk.usersGetCurrentAccount(o), {
      signal,
      pathRoot: false,
      maxAttempts: 1,
    });
    return toAccount(account);
  }

  #createUploadApi(): UploadApi {
    // Bytes go to the transport as they are (a view, never a copy); a streamed piece goes as its StreamBody.
    const data = (contents: Uint8Array | StreamBody): Buffer | StreamBody =>
      contents instanceof Uint8Array
        ? Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength)
        : contents;
    const api: UploadApi = {
      uploadSingle: ({ commit, data: bytes, contentHash, signal }) =>
        this.#call(
          'files/upload',
          (sdk, o) =>
            sdk.filesUpload({ ...commitInfo(commit), contents: data(bytes), content_hash: contentHash }, o),
          { signal, pathRoot: true, bytes: bytes.byteLength },
        ),
      startSession: async ({ data: bytes, contentHash, close, concurrent, signal }) => {
        const started = await this.#call(
          'files/upload_session/start',
          (sdk, o) =>
            sdk.filesUploadSessionStart(
              {
                close,
                session_type: { '.tag': concurrent ? 'concurrent' : 'sequential' },
                contents: data(bytes),
                content_hash: contentHash,
              },
              o,
            ),
          { signal, pathRoot: true, bytes: bytes.byteLength },
        );
        return started.session_id;
      },
      appendSession: async ({ sessionId, offset, data: bytes, contentHash, close, signal }) => {
        await this.#call(
          'files/upload_session/append_v2',
          (sdk, o) =>
            sdk.filesUploadSessionAppendV2(
              {
                cursor: { session_id: sessionId, offset },
                close,
                contents: data(bytes),
                content_hash: contentHash,
              },
              o,
            ),
          { signal, pathRoot: true, bytes: bytes.byteLength },
        );
      },
      finishSession: ({ sessionId, offset, data: bytes, contentHash, commit, signal }) =>
        this.#call(
          'files/upload_session/finish',
          (sdk, o) =>
            sdk.filesUploadSessionFinish(
              {
                cursor: { session_id: sessionId, offset },
                commit: commitInfo(commit),
                contents: data(bytes),
                content_hash: contentHash,
              },
              o,
            ),
          { signal, pathRoot: true, bytes: bytes.byteLength },
        ),
      finishBatch: async ({ entries, signal }) => {
        const endpoint = 'files/upload_session/finish_batch_v2';
        const result = await this.#call(
          endpoint,
          (sdk, o) =>
            sdk.filesUploadSessionFinishBatchV2(
              {
                entries: entries.map((entry) => ({
                  cursor: { session_id: entry.sessionId, offset: entry.offset },
                  commit: commitInfo(entry.commit),
                })),
              },
              o,
            ),
          { signal, pathRoot: true },
        );
        return result.entries.map(
          (entry): BatchEntryResult =>
            entry['.tag'] === 'success'
              ? { ok: true, metadata: entry }
              : { ok: false, error: classifyEntryFailure(endpoint, entry.failure) },
        );
      },
      commitInBatch: (member, entry, signal) => {
        let committer = this.#committers.get(member.group);
        if (committer === undefined) {
          committer = new FinishBatchCommitter(
            (entries, batchSignal) => api.finishBatch({ entries, signal: batchSignal }),
            {
              maxAttempts: Math.max(this.#tuning.maxAttempts, MIN_CONTENTION_ATTEMPTS),
              baseMs: this.#tuning.backoffBaseMs,
              capMs: this.#tuning.backoffCapMs,
              onRetry: (count, attempt, delayMs) =>
                this.#onRetry?.({
                  endpoint: `files/upload_session/finish_batch_v2 (${count} entries)`,
                  attempt,
                  delayMs,
                  code: 'dropbox-rate-limited',
                }),
            },
          );
          this.#committers.set(member.group, committer);
        }
        // Bounded by the group's commit signal: a commit queued before the work deadline is sent after it too.
        return committer.commit(member, entry, member.commitSignal ?? signal);
      },
      getFileMetadata: (path, signal) => this.getFileMetadata(path, signal),
    };
    return api;
  }

  /**
   * One Dropbox call with the project's policies: a fresh token (refreshed once more when Dropbox refuses it), the
   * path root (read again once after `422 invalid_root`), retries of transient failures with backoff, and the
   * client's "not before" time: every try waits until Dropbox's last `Retry-After` (any call's) has passed, or gives
   * up at once when that is past the signal's deadline.
   */
  async #call<T>(endpoint: string, send: Send<T>, options: CallOptions): Promise<T> {
    const { signal } = options;
    const timeout = this.#timeoutMs + Math.ceil((options.bytes ?? 0) / BYTES_PER_TIMEOUT_SECOND) * 1000;
    let tokenRefreshed = false;
    let rootReloaded = false;
    const attempt = async (): Promise<T> => {
      for (;;) {
        signal?.throwIfAborted();
        await this.#notBefore.wait(signal, (waitMs) => rateLimitedPastDeadline(endpoint, waitMs, signal));
        const token = await this.#tokens.get(signal);
        const pathRoot = options.pathRoot ? await this.#root.header(signal) : undefined;
        // A token refresh or a root read may have waited on the network while a Retry-After arrived: look again,
        // so that nothing but promise callbacks lie between this check and the request going out.
        if (this.#notBefore.waitMs() > 0) continue;
        // Every data call carries its own content_hash, so the SDK's (broken) automatic hashing never runs.
        const sdk = new Dropbox({ accessToken: token, fetch: this.#fetch, pathRoot });
        try {
          const response = await send(sdk, { signal, timeout });
          return response.result;
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          const failure = translate(endpoint, error);
          if (holdsTheClient(failure)) this.#notBefore.defer(failure.retryAfterMs ?? 0);
          // Counted only once they succeed: a refresh or re-read that fails transiently is retried as the call is.
          if (isTokenRefused(failure) && !tokenRefreshed) {
            this.#tokens.invalidate(token);
            await this.#tokens.refresh(token, signal);
            tokenRefreshed = true;
            continue;
          }
          if (failure.status === 422 && options.pathRoot && !rootReloaded) {
            await this.#root.reload(failure.routeError, signal);
            rootReloaded = true;
            continue;
          }
          throw failure;
        }
      }
    };
    try {
      return await withRetry(attempt, {
        maxAttempts: options.maxAttempts ?? this.#tuning.maxAttempts,
        baseMs: this.#tuning.backoffBaseMs,
        capMs: this.#tuning.backoffCapMs,
        signal,
        classify: (error) =>
          isDropboxApiError(error) && error.retryable
            ? { retry: true, retryAfterMs: error.retryAfterMs }
            : { retry: false },
        onRetry: (error, attemptNumber, delayMs) => {
          const code = isDropboxApiError(error) ? error.code : 'unknown';
          this.#onRetry?.({ endpoint, attempt: attemptNumber, delayMs, code });
        },
      });
    } catch (error) {
      if (signal?.aborted && isAbortError(error)) throw signal.reason;
      throw error;
    }
  }
}

function writeMode(mode: CommitArgs['mode']): files.WriteMode {
  if (mode['.tag'] === 'update') return { '.tag': 'update', update: mode.update };
  return mode['.tag'] === 'overwrite' ? { '.tag': 'overwrite' } : { '.tag': 'add' };
}

function commitInfo(commit: CommitArgs): files.CommitInfo {
  return {
    path: commit.path,
    mode: writeMode(commit.mode),
    autorename: commit.autorename,
    client_modified: commit.client_modified,
    mute: commit.mute,
  };
}

const clients = new Map<string, DropboxClient>();

function buildCacheKey(options: DropboxClientOptions): string {
  const secretHash = (value: string | undefined): string =>
    value === undefined ? '' : createHash('sha256').update(value).digest('hex');
  return JSON.stringify([
    options.endpointUrl ?? '',
    options.credentials.appKey,
    secretHash(options.credentials.refreshToken),
    secretHash(options.credentials.appSecret),
    options.credentials.pathRoot,
  ]);
}

function forgetClient(client: DropboxClient): void {
  for (const [key, cached] of clients) {
    if (cached === client) clients.delete(key);
  }
}

/**
 * The client for these credentials, created once per module and reused across warm invocations (its access token
 * and path root with it). Keyed by endpoint, app key, path root and hashes of the secrets; the other options of the
 * first call win.
 */
export function getDropboxClient(options: DropboxClientOptions): DropboxClient {
  const key = buildCacheKey(options);
  let client = clients.get(key);
  if (client === undefined) {
    client = new DropboxClient(options);
    clients.set(key, client);
  }
  return client;
}

/** Empties the client cache (tests). */
export function clearDropboxClientCache(): void {
  clients.clear();
}
