/**
 * Short-lived access tokens from a refresh token, one refresh at a time. The `dropbox` SDK refreshes once per
 * concurrent caller on a fresh client (five parallel first calls, five token requests), so tokens are handled here:
 * every caller shares the one in-flight refresh.
 */
import { parseRetryAfter } from '../retry.ts';
import { raceSignal } from '../signals.ts';
import { createNetworkError, DropboxApiError, detectNetworkFailure } from './errors.ts';

/** Re-exported for the modules that took it from here. */
export { raceSignal };

/** Options of an {@link AccessTokenSource}. */
export interface AccessTokenSourceOptions {
  readonly appKey: string;
  readonly refreshToken: string;
  /** Absent for PKCE apps. */
  readonly appSecret?: string | undefined;
  /** The `oauth2/token` URL. */
  readonly tokenUrl: string;
  readonly fetch: typeof fetch;
  /** Limit of one token request. @default 30000 */
  readonly timeoutMs?: number;
}

interface CurrentToken {
  readonly value: string;
  readonly expiresAt: number;
  /** Refresh this long before `expiresAt`, so a call never starts with a token about to expire. */
  readonly marginMs: number;
}

const ENDPOINT = 'oauth2/token';
// Dropbox's SDKs refresh 5 minutes before expiry; a shorter lifetime (emulator tests) refreshes at half-life.
const MAX_MARGIN_MS = 300_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Access tokens for one app key and refresh token; a refresh shared by all concurrent callers. */
export class AccessTokenSource {
  readonly #options: AccessTokenSourceOptions;
  #current: CurrentToken | undefined;
  #inflight: Promise<string> | undefined;
  #requests = 0;

  constructor(options: AccessTokenSourceOptions) {
    this.#options = options;
  }

  /** Token requests sent so far (for tests and metrics). */
  get requestCount(): number {
    return this.#requests;
  }

  /** A valid access token: the current one, or a fresh one when it is missing or about to expire. */
  get(signal?: AbortSignal): Promise<string> {
    const current = this.#current;
    if (current !== undefined && Date.now() < current.expiresAt - current.marginMs) {
      return Promise.resolve(current.value);
    }
    return this.refresh(current?.value, signal);
  }

  /**
   * Replaces `staleToken` (the one a call was refused with). When another caller has already replaced it, the
   * newer token is returned without another request; concurrent callers share one request.
   */
  refresh(staleToken: string | undefined, signal?: AbortSignal): Promise<string> {
    const current = this.#current;
    if (current !== undefined && current.value !== staleToken && Date.now() < current.expiresAt) {
      return Promise.resolve(current.value);
    }
    if (this.#inflight === undefined) {
      // The request itself ignores any one caller's signal: other callers may still be waiting on it.
      this.#inflight = this.#request().finally(() => {
        this.#inflight = undefined;
      });
    }
    return raceSignal(this.#inflight, signal);
  }

  /** Forgets the current access token (after it was revoked). */
  clear(): void {
    this.#current = undefined;
  }

  /** Forgets `token` if it is still the current one (Dropbox refused it), so the next {@link get} refreshes. */
  invalidate(token: string): void {
    if (this.#current?.value === token) this.#current = undefined;
  }

  async #request(): Promise<string> {
    const { appKey, refreshToken, appSecret } = this.#options;
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: appKey,
    });
    if (appSecret !== undefined && appSecret !== '') form.set('client_secret', appSecret);
    this.#requests += 1;
    const { response, body } = await postTokenForm(
      this.#options.tokenUrl,
      form,
      this.#options.fetch,
      this.#options.timeoutMs ?? 30_000,
    );
    if (!response.ok) throw classifyTokenError(response, body);
    if (!isRecord(body) || typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new DropboxApiError({
        endpoint: ENDPOINT,
        status: response.status,
        kind: 'transient',
        code: 'dropbox-unexpected-response',
        retryable: false,
        detail: 'token response without access_token and expires_in',
      });
    }
    const lifetimeMs = body.expires_in * 1000;
    this.#current = {
      value: body.access_token,
      expiresAt: Date.now() + lifetimeMs,
      marginMs: Math.min(MAX_MARGIN_MS, lifetimeMs / 2),
    };
    return body.access_token;
  }
}

/**
 * POSTs a form to `oauth2/token` and reads the answer (JSON, or text when it is not JSON). A network failure becomes
 * a retryable `dropbox-network` {@link DropboxApiError}.
 */
export async function postTokenForm(
  url: string,
  form: URLSearchParams,
  doFetch: typeof fetch,
  timeoutMs: number,
): Promise<{ response: Response; body: unknown }> {
  try {
    const response = await doFetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    try {
      return { response, body: JSON.parse(text) };
    } catch (parseError) {
      if (!(parseError instanceof SyntaxError)) throw parseError;
      return { response, body: text };
    }
  } catch (error) {
    const failure = detectNetworkFailure(error);
    if (failure === undefined) throw error;
    throw createNetworkError(ENDPOINT, failure, error);
  }
}

/** Classifies a failed `oauth2/token` response (`{ error, error_description }`). */
export function classifyTokenError(response: Response, body: unknown): DropboxApiError {
  const status = response.status;
  const error = isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  const description =
    isRecord(body) && typeof body.error_description === 'string' ? body.error_description : undefined;
  const detail = [error ?? `HTTP ${status}`, description].filter((part) => part !== undefined).join(': ');
  if (status === 429 || status >= 500) {
    return new DropboxApiError({
      endpoint: ENDPOINT,
      status,
      kind: 'transient',
      code: status === 429 ? 'dropbox-rate-limited' : 'dropbox-unavailable',
      retryable: true,
      detail,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    });
  }
  // invalid_grant (revoked or unknown refresh token), invalid_client (wrong app key or secret): only a person
  // reconnecting Dropbox fixes these, for every record alike.
  return new DropboxApiError({
    endpoint: ENDPOINT,
    status,
    kind: 'account',
    code: 'dropbox-auth',
    retryable: false,
    errorSummary: error,
    detail,
  });
}
