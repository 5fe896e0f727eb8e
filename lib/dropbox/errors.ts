/**
 * Dropbox API failures translated into the project's {@link SyncError}: the HTTP status and Dropbox's own
 * `error_summary` decide the failure kind, the stable code, and whether a retry inside the call can help.
 * Messages carry the endpoint and the summary only: never a token, an app secret or file content (what Dropbox wrote
 * goes through {@link redactSecrets} first).
 */
import { type FailureKind, SyncError } from '../errors.ts';
import { redactSecrets } from '../redact.ts';
import { parseRetryAfter } from '../retry.ts';

/** Options of a {@link DropboxApiError}. */
export interface DropboxApiErrorOptions {
  readonly endpoint: string;
  /** HTTP status; 0 when no response arrived (connection reset, refused, timed out). */
  readonly status: number;
  readonly kind: FailureKind;
  readonly code: string;
  /** True when retrying the same call may succeed (rate limits, 5xx, network). */
  readonly retryable: boolean;
  readonly errorSummary?: string | undefined;
  /** The `error` member of Dropbox's JSON error body (a tagged union), when there was one. */
  readonly routeError?: unknown;
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
  /**
   * Detail for the message when there is no `error_summary` (a status line, a network error code, a text body); any
   * credential in it is redacted.
   */
  readonly detail?: string | undefined;
}

/** A failed Dropbox call, classified by DESIGN.md "Errors". */
export class DropboxApiError extends SyncError {
  readonly status: number;
  readonly endpoint: string;
  readonly errorSummary: string | undefined;
  readonly routeError: unknown;
  readonly retryable: boolean;

  constructor(options: DropboxApiErrorOptions) {
    // Dropbox's text bodies may quote a header value ("Invalid authorization value in HTTP header …").
    const what = redactSecrets(options.errorSummary ?? options.detail ?? `HTTP ${options.status}`);
    super(`Dropbox ${options.endpoint}: ${what}`, {
      kind: options.kind,
      code: options.code,
      retryAfterMs: options.retryAfterMs,
      cause: options.cause,
    });
    this.name = 'DropboxApiError';
    this.status = options.status;
    this.endpoint = options.endpoint;
    this.errorSummary = options.errorSummary;
    this.routeError = options.routeError;
    this.retryable = options.retryable;
  }

  /** The tags of `error_summary` (`path/conflict/file/..` → `['path', 'conflict', 'file']`). */
  get summaryTags(): string[] {
    return splitErrorSummary(this.errorSummary);
  }
}

/** Narrows an unknown error to a {@link DropboxApiError}. */
export function isDropboxApiError(error: unknown): error is DropboxApiError {
  return error instanceof DropboxApiError;
}

/** Splits an `error_summary` into its tags, dropping Dropbox's trailing dots. */
export function splitErrorSummary(errorSummary: string | undefined): string[] {
  if (errorSummary === undefined) return [];
  return errorSummary.split('/').filter((tag) => tag !== '' && !/^\.+$/.test(tag));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A parsed Dropbox error response, before classification. */
export interface DropboxErrorResponse {
  readonly status: number;
  readonly headers: Headers | undefined;
  /** The JSON body, or the text body when it was not JSON. */
  readonly body: unknown;
}

interface Classification {
  readonly kind: FailureKind;
  readonly code: string;
  readonly retryable: boolean;
}

/**
 * `WriteError` tags (files.stone; the `dropbox` SDK's `files.WriteError`) that no token refresh fixes and that hold
 * for every file alike: the account is full, its traffic limit is reached, or the app may no longer write there.
 * The circuit breaker stops the flow on them; its probe (or `connect`, `config set`, `resume`) starts it again.
 */
const ACCOUNT_WRITE_TAGS: Readonly<Record<string, string>> = {
  insufficient_space: 'dropbox-insufficient-space',
  team_folder_insufficient_space: 'dropbox-insufficient-space',
  member_folder_insufficient_space: 'dropbox-insufficient-space',
  upload_traffic_limit_reached: 'dropbox-traffic-limit',
  no_write_permission: 'dropbox-no-write-permission',
  access_restricted: 'dropbox-no-write-permission',
};

/**
 * Refusals of this one file that the rules did not foresee: `blocked` (the DLQ at once, with the reason). From
 * `WriteError`: `malformed_path`, `disallowed_name`, `conflict` (`file`, `folder`, `file_ancestor`: "There's a file
 * at an ancestor path, so we couldn't create the required parent folders"), `team_folder`, `operation_suppressed`
 * ("This file operation is not allowed at this path"); from `UploadError` / `UploadSessionFinishError`:
 * `payload_too_large`, `encryption_not_supported`, `too_many_shared_folder_targets`, `properties_error`; from
 * `LookupError`: `restricted_content`, `not_file`, `not_folder`.
 */
const BLOCKED_TAGS: Readonly<Record<string, string>> = {
  disallowed_name: 'dropbox-disallowed-name',
  malformed_path: 'dropbox-malformed-path',
  conflict: 'dropbox-path-conflict',
  payload_too_large: 'dropbox-payload-too-large',
  team_folder: 'dropbox-operation-refused',
  operation_suppressed: 'dropbox-operation-refused',
  encryption_not_supported: 'dropbox-operation-refused',
  too_many_shared_folder_targets: 'dropbox-operation-refused',
  properties_error: 'dropbox-operation-refused',
  restricted_content: 'dropbox-restricted-content',
  not_file: 'dropbox-path-conflict',
  not_folder: 'dropbox-path-conflict',
};

const SESSION_TAGS = new Set(['lookup_failed', 'not_found', 'closed', 'not_closed', 'too_large']);

/**
 * The 401 `AuthError` tags (auth.stone) a fresh access token fixes: the client refreshes once and calls again. Any
 * other 401 (`user_suspended`, `missing_scope`, `invalid_select_user`, `route_access_denied`, …) is account-wide.
 */
export const TOKEN_REFUSED_TAGS: ReadonlySet<string> = new Set([
  'expired_access_token',
  'invalid_access_token',
]);

function classifyRouteError(tags: readonly string[]): Classification {
  const has = (tag: string): boolean => tags.includes(tag);
  if (has('too_many_write_operations')) {
    return { kind: 'transient', code: 'dropbox-rate-limited', retryable: true };
  }
  for (const tag of tags) {
    const code = ACCOUNT_WRITE_TAGS[tag];
    if (code !== undefined) return { kind: 'account', code, retryable: false };
  }
  // Data corrupted on the way: sending the same bytes again is the fix.
  if (has('content_hash_mismatch'))
    return { kind: 'transient', code: 'dropbox-hash-mismatch', retryable: true };
  if (has('incorrect_offset'))
    return { kind: 'transient', code: 'dropbox-incorrect-offset', retryable: false };
  if (tags[0] !== undefined && SESSION_TAGS.has(tags[0])) {
    return { kind: 'transient', code: 'dropbox-upload-session', retryable: false };
  }
  for (const tag of tags) {
    const code = BLOCKED_TAGS[tag];
    if (code !== undefined) return { kind: 'blocked', code, retryable: false };
  }
  if (tags[0] === 'path' && has('not_found'))
    return { kind: 'blocked', code: 'dropbox-not-found', retryable: false };
  // A tag this code does not know: maybe passing, so the queue's retries, then the DLQ with its summary.
  return { kind: 'transient', code: 'dropbox-route-error', retryable: false };
}

function retryAfterFrom(response: DropboxErrorResponse): number | undefined {
  const header = parseRetryAfter(response.headers?.get('retry-after'));
  if (header !== undefined) return header;
  // A JSON 429 body is a RateLimitError: { reason, retry_after (seconds) }.
  const error = isRecord(response.body) ? response.body.error : undefined;
  if (isRecord(error) && typeof error.retry_after === 'number' && Number.isFinite(error.retry_after)) {
    return Math.max(0, error.retry_after * 1000);
  }
  return undefined;
}

function textDetail(status: number, body: unknown): string {
  // Redacted before it is cut, so that no token cut at the end escapes as a prefix too short to look like one.
  const text = typeof body === 'string' ? redactSecrets(body.trim().replace(/\s+/g, ' ')).slice(0, 300) : '';
  return text === '' ? `HTTP ${status}` : `HTTP ${status} ${text}`;
}

/** Classifies a Dropbox error response (any endpoint but `oauth2/token`). */
export function classifyErrorResponse(
  endpoint: string,
  response: DropboxErrorResponse,
  cause?: unknown,
): DropboxApiError {
  const { status, body } = response;
  const errorSummary =
    isRecord(body) && typeof body.error_summary === 'string' ? body.error_summary : undefined;
  const routeError = isRecord(body) ? body.error : undefined;
  const tags = splitErrorSummary(errorSummary);
  const base = { endpoint, status, errorSummary, routeError, cause, detail: textDetail(status, body) };
  if (status === 429) {
    return new DropboxApiError({
      ...base,
      kind: 'transient',
      code: 'dropbox-rate-limited',
      retryable: true,
      retryAfterMs: retryAfterFrom(response),
    });
  }
  if (status >= 500) {
    return new DropboxApiError({
      ...base,
      kind: 'transient',
      code: 'dropbox-unavailable',
      retryable: true,
      retryAfterMs: retryAfterFrom(response),
    });
  }
  if (status === 409) return new DropboxApiError({ ...base, ...classifyRouteError(tags) });
  if (status === 401) {
    // An expired or refused access token: the client refreshes and calls again once. Coming back after that, it is
    // transient (the queue retries), never account-wide: a token that dies early must not stop the whole flow.
    if (tags.some((tag) => TOKEN_REFUSED_TAGS.has(tag))) {
      return new DropboxApiError({
        ...base,
        kind: 'transient',
        code: 'dropbox-token-refused',
        retryable: false,
      });
    }
    return new DropboxApiError({ ...base, kind: 'account', code: 'dropbox-auth', retryable: false });
  }
  if (status === 403) {
    // AccessError (auth.stone): the account or team may not use this route any more; only a person fixes that.
    return new DropboxApiError({ ...base, kind: 'account', code: 'dropbox-access-denied', retryable: false });
  }
  if (status === 422) {
    return new DropboxApiError({
      ...base,
      kind: 'transient',
      code: 'dropbox-invalid-root',
      retryable: false,
    });
  }
  if (status === 400) {
    // "Bad input parameter" (a plain-text body): Dropbox refused this request as written, e.g. a path its pattern
    // rejects. Blocked: the DLQ with its reason, never a silent skip.
    return new DropboxApiError({ ...base, kind: 'blocked', code: 'dropbox-bad-request', retryable: false });
  }
  return new DropboxApiError({
    ...base,
    kind: 'transient',
    code: 'dropbox-unexpected-status',
    retryable: false,
  });
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function codeOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.code === 'string' ? value.code : undefined;
}

/**
 * The network failure behind `error` (`ECONNRESET`, `UND_ERR_SOCKET`, `timeout`, …), or `undefined` when `error`
 * is not a network failure. Node's fetch reports them as `TypeError('fetch failed')` with the socket error as
 * `cause`, or `TypeError('terminated')` when the connection dies while the response body is read.
 */
export function detectNetworkFailure(error: unknown): string | undefined {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  const own = codeOf(error);
  if (own !== undefined && NETWORK_CODES.has(own)) return own;
  if (error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated')) {
    let cause: unknown = error.cause;
    for (let depth = 0; depth < 4 && cause !== undefined; depth += 1) {
      const code = codeOf(cause);
      if (code !== undefined) return code;
      cause = isRecord(cause) ? cause.cause : undefined;
    }
    return error.message === 'terminated' ? 'terminated' : 'fetch-failed';
  }
  return undefined;
}

/** A call that got no usable response: retryable, transient `dropbox-network`. */
export function createNetworkError(endpoint: string, failure: string, cause: unknown): DropboxApiError {
  return new DropboxApiError({
    endpoint,
    status: 0,
    kind: 'transient',
    code: 'dropbox-network',
    retryable: true,
    detail: `network error (${failure})`,
    cause,
  });
}

/**
 * Dropbox's `error_summary` form of a tagged union (`path/conflict/file/`), for the errors that arrive without a
 * summary: the failure entries of `files/upload_session/finish_batch_v2`.
 */
export function summarizeRouteError(error: unknown): string {
  const tags: string[] = [];
  let node: unknown = error;
  for (let depth = 0; depth < 8 && isRecord(node); depth += 1) {
    const tag = node['.tag'];
    if (typeof tag !== 'string') break;
    tags.push(tag);
    node = node[tag];
  }
  return `${tags.join('/')}/`;
}

/** A failure entry of a batch route (an `UploadSessionFinishError`), classified as the same error of its single route. */
export function classifyEntryFailure(endpoint: string, failure: unknown): DropboxApiError {
  return classifyErrorResponse(endpoint, {
    status: 409,
    headers: undefined,
    body: { error_summary: summarizeRouteError(failure), error: failure },
  });
}
