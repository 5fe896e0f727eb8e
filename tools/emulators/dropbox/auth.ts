/**
 * OAuth of the Dropbox API emulator: one test app, a pre-authorised refresh token, short-lived bearer tokens that
 * expire, `oauth2/token` (grant types `refresh_token` and `authorization_code` with PKCE), `auth/token/revoke`, and
 * `GET /oauth2/authorize`, which approves at once and answers with the code (Dropbox would show it on a page).
 *
 * Grants outlive a restart, as Dropbox keeps them server-side: a refresh token stays valid until it is revoked
 * ("Using OAuth 2.0 with offline access", dropbox.tech: the refresh token is long-lived and is used to get new
 * short-lived access tokens without the user), so the refresh tokens issued through `authorization_code` (with their
 * revocation) and the pending authorization codes are kept in a file under the emulator's root. Access tokens are
 * not kept: after a restart the emulator answers an earlier one with 401 `invalid_access_token`, the stricter
 * reading, which sends clients through the refresh they must handle anyway.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HttpReply } from './http.ts';

/** The emulator's test app and a refresh token it has already authorised (PKCE-style: no secret needed). */
export const EMULATOR_CREDENTIALS: {
  readonly appKey: string;
  readonly appSecret: string;
  readonly refreshToken: string;
} = {
  appKey: 'emulator-app-key',
  appSecret: 'emulator-app-secret',
  refreshToken: 'emulator-refresh-token',
};

/** How a client of the emulator's test app connects (the app, its refresh token, the home folder as its root). */
export const EMULATOR_CLIENT_CREDENTIALS = { ...EMULATOR_CREDENTIALS, pathRoot: 'auto' } as const;

/** The emulated account's id. */
export const ACCOUNT_ID = 'dbid:AADemulatoremulatoremulatoremulator00';

/** Every scope the emulator's app has. */
export const APP_SCOPES: readonly string[] = [
  'account_info.read',
  'files.metadata.read',
  'files.metadata.write',
  'files.content.read',
  'files.content.write',
];

interface RefreshGrant {
  readonly appKey: string;
  readonly scopes: readonly string[];
  /** Issued to a PKCE client: refreshing needs no app secret. */
  readonly pkce: boolean;
  revoked: boolean;
}

interface AccessGrant {
  readonly refreshToken: string | undefined;
  readonly scopes: readonly string[];
  expiresAt: number;
  revoked: boolean;
}

interface AuthorizationCode {
  readonly appKey: string;
  readonly challenge: string | undefined;
  readonly method: 'S256' | 'plain';
  readonly scopes: readonly string[];
  readonly offline: boolean;
  readonly expiresAt: number;
  used: boolean;
}

/** A bearer token that passed the checks. */
export interface AuthorizedCall {
  readonly token: string;
  readonly scopes: readonly string[];
}

const CODE_LIFETIME_MS = 10 * 60_000;

function createOauthError(error: string, description: string): HttpReply {
  return new HttpReply(400, { error, error_description: description });
}

function createAuthError(tag: string, extra: Record<string, unknown> = {}): HttpReply {
  const error = { '.tag': tag, ...extra };
  return new HttpReply(401, { error_summary: `${tag}/..`, error });
}

function areEqualSecrets(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.byteLength === right.byteLength && timingSafeEqual(left, right);
}

/** The format of the grants file; a file of another format is refused rather than misread. */
const GRANTS_FORMAT = 1;

/** What the grants file holds. */
interface GrantsFile {
  readonly format: typeof GRANTS_FORMAT;
  readonly refresh: Record<string, RefreshGrant>;
  readonly codes: Record<string, AuthorizationCode>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Tokens, codes and their checks. */
export class EmulatorAuth {
  readonly #apps = new Map<string, string>([[EMULATOR_CREDENTIALS.appKey, EMULATOR_CREDENTIALS.appSecret]]);
  readonly #refresh = new Map<string, RefreshGrant>();
  readonly #access = new Map<string, AccessGrant>();
  readonly #codes = new Map<string, AuthorizationCode>();
  readonly #lifetimeSeconds: number;
  readonly #file: string | undefined;

  /**
   * @param accessTokenLifetimeSeconds lifetime of the access tokens it issues
   * @param grantsFile where issued refresh tokens and pending codes are kept across restarts (none: memory only)
   */
  constructor(accessTokenLifetimeSeconds: number, grantsFile?: string) {
    this.#lifetimeSeconds = accessTokenLifetimeSeconds;
    this.#file = grantsFile;
    this.#load();
    // The pre-authorised test token is authorised anew at every start, as a fixture: revoking it (disconnect)
    // lasts until the emulator restarts, so a local stack that seeds it again works after a restart.
    this.#refresh.set(EMULATOR_CREDENTIALS.refreshToken, {
      appKey: EMULATOR_CREDENTIALS.appKey,
      scopes: APP_SCOPES,
      pkce: true,
      revoked: false,
    });
  }

  /** Reads the grants file, when there is one. */
  #load(): void {
    if (this.#file === undefined) return;
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return;
      throw error;
    }
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed) || parsed.format !== GRANTS_FORMAT) {
      throw new Error(`${this.#file} is not a grants file of this emulator (format ${GRANTS_FORMAT})`);
    }
    const file = parsed as unknown as GrantsFile;
    for (const [token, grant] of Object.entries(file.refresh)) this.#refresh.set(token, { ...grant });
    const now = Date.now();
    for (const [code, pending] of Object.entries(file.codes)) {
      if (!pending.used && pending.expiresAt > now) this.#codes.set(code, { ...pending });
    }
  }

  /** Writes the grants file (write, then rename: a crash never leaves half a file). */
  #save(): void {
    if (this.#file === undefined) return;
    const now = Date.now();
    const content: GrantsFile = {
      format: GRANTS_FORMAT,
      refresh: Object.fromEntries(
        [...this.#refresh].filter(([token]) => token !== EMULATOR_CREDENTIALS.refreshToken),
      ),
      codes: Object.fromEntries([...this.#codes].filter(([, code]) => !code.used && code.expiresAt > now)),
    };
    mkdirSync(dirname(this.#file), { recursive: true });
    const temporary = `${this.#file}.${process.pid}.tmp`;
    // The file holds live refresh tokens: readable by its owner only.
    writeFileSync(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, this.#file);
  }

  /** `GET /oauth2/authorize`: approves for the test account and returns the code (or redirects with it). */
  authorize(query: URLSearchParams): { code: string; redirect?: string } {
    const appKey = query.get('client_id') ?? '';
    if (!this.#apps.has(appKey)) throw new HttpReply(400, 'Invalid client_id');
    if (query.get('response_type') !== 'code')
      throw new HttpReply(400, 'Only response_type=code is supported');
    const challenge = query.get('code_challenge') ?? undefined;
    const method = query.get('code_challenge_method') ?? 'plain';
    if (method !== 'S256' && method !== 'plain') throw new HttpReply(400, 'Invalid code_challenge_method');
    if (challenge !== undefined && !/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) {
      throw new HttpReply(400, 'Invalid code_challenge');
    }
    const requested = (query.get('scope') ?? '').split(' ').filter((scope) => scope !== '');
    const unknown = requested.filter((scope) => !APP_SCOPES.includes(scope));
    if (unknown.length > 0) throw new HttpReply(400, `Invalid scope: ${unknown.join(' ')}`);
    const code = randomBytes(24).toString('base64url');
    this.#codes.set(code, {
      appKey,
      challenge,
      method,
      scopes: requested.length > 0 ? requested : APP_SCOPES,
      offline: query.get('token_access_type') === 'offline',
      expiresAt: Date.now() + CODE_LIFETIME_MS,
      used: false,
    });
    this.#save();
    const redirectUri = query.get('redirect_uri');
    if (redirectUri === null) return { code };
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    return { code, redirect: target.href };
  }

  /** `POST /oauth2/token`, parameters from the form body and the query (the JS SDK sends them in the query). */
  token(params: URLSearchParams, authorization: string | undefined): Record<string, unknown> {
    const basic = this.#basicClient(authorization);
    const appKey = basic?.appKey ?? params.get('client_id') ?? '';
    const secret = basic?.secret ?? params.get('client_secret') ?? undefined;
    const appSecret = this.#apps.get(appKey);
    if (appSecret === undefined)
      throw createOauthError('invalid_client', 'Invalid client_id or client_secret');
    if (secret !== undefined && !areEqualSecrets(secret, appSecret)) {
      throw createOauthError('invalid_client', 'Invalid client_id or client_secret');
    }
    const grantType = params.get('grant_type');
    if (grantType === 'refresh_token') return this.#refreshGrant(params, appKey, secret !== undefined);
    if (grantType === 'authorization_code') return this.#codeGrant(params, appKey, secret !== undefined);
    throw createOauthError('unsupported_grant_type', `grant_type "${grantType ?? ''}" is not supported`);
  }

  /** Checks the `Authorization: Bearer` header of an API call. */
  check(route: string, authorization: string | undefined, scope: string | undefined): AuthorizedCall {
    const match = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (match?.[1] === undefined) {
      throw new HttpReply(
        400,
        `Error in call to API function "${route}": Must provide HTTP header "Authorization" or URL parameter "authorization".`,
      );
    }
    const token = match[1];
    const grant = this.#access.get(token);
    if (grant === undefined || grant.revoked) throw createAuthError('invalid_access_token');
    if (Date.now() >= grant.expiresAt) throw createAuthError('expired_access_token');
    if (scope !== undefined && !grant.scopes.includes(scope))
      throw createAuthError('missing_scope', { required_scope: scope });
    return { token, scopes: grant.scopes };
  }

  /** `auth/token/revoke`: the access token and the refresh token it came from (and that one's other tokens). */
  revoke(token: string): void {
    const grant = this.#access.get(token);
    if (grant === undefined) return;
    grant.revoked = true;
    if (grant.refreshToken === undefined) return;
    const refresh = this.#refresh.get(grant.refreshToken);
    if (refresh !== undefined) refresh.revoked = true;
    for (const other of this.#access.values()) {
      if (other.refreshToken === grant.refreshToken) other.revoked = true;
    }
    this.#save();
  }

  /** Every token stops working (the person unlinked the app). */
  revokeAll(): void {
    for (const grant of this.#refresh.values()) grant.revoked = true;
    for (const grant of this.#access.values()) grant.revoked = true;
    this.#save();
  }

  /** Every access token issued so far expires now. */
  expireAccessTokens(): void {
    const now = Date.now();
    for (const grant of this.#access.values()) grant.expiresAt = Math.min(grant.expiresAt, now);
  }

  #basicClient(authorization: string | undefined): { appKey: string; secret: string } | undefined {
    const match = /^Basic (\S+)$/.exec(authorization ?? '');
    if (match?.[1] === undefined) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw createOauthError('invalid_client', 'Malformed Basic authorization');
    return { appKey: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }

  #issue(refreshToken: string | undefined, scopes: readonly string[]): { token: string; expiresIn: number } {
    const token = `sl.${randomBytes(32).toString('base64url')}`;
    this.#access.set(token, {
      refreshToken,
      scopes,
      expiresAt: Date.now() + this.#lifetimeSeconds * 1000,
      revoked: false,
    });
    return { token, expiresIn: this.#lifetimeSeconds };
  }

  #refreshGrant(params: URLSearchParams, appKey: string, authenticated: boolean): Record<string, unknown> {
    const refreshToken = params.get('refresh_token') ?? '';
    const grant = this.#refresh.get(refreshToken);
    if (grant === undefined || grant.revoked || grant.appKey !== appKey) {
      throw createOauthError('invalid_grant', 'refresh token is invalid or revoked');
    }
    if (!grant.pkce && !authenticated)
      throw createOauthError('invalid_request', 'No auth function available for given request');
    const { token, expiresIn } = this.#issue(refreshToken, grant.scopes);
    return { access_token: token, token_type: 'bearer', expires_in: expiresIn };
  }

  #codeGrant(params: URLSearchParams, appKey: string, authenticated: boolean): Record<string, unknown> {
    const code = this.#codes.get(params.get('code') ?? '');
    if (code === undefined || code.used || code.appKey !== appKey || Date.now() >= code.expiresAt) {
      throw createOauthError('invalid_grant', "code doesn't exist or has expired");
    }
    const verifier = params.get('code_verifier') ?? undefined;
    if (code.challenge !== undefined) {
      if (verifier === undefined) throw createOauthError('invalid_request', 'code_verifier is required');
      const computed =
        code.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!areEqualSecrets(computed, code.challenge))
        throw createOauthError('invalid_grant', 'invalid code verifier');
    } else if (!authenticated) {
      throw createOauthError('invalid_request', 'No auth function available for given request');
    }
    code.used = true;
    let refreshToken: string | undefined;
    if (code.offline) {
      refreshToken = randomBytes(48).toString('base64url');
      this.#refresh.set(refreshToken, {
        appKey,
        scopes: code.scopes,
        pkce: code.challenge !== undefined,
        revoked: false,
      });
    }
    this.#save();
    const { token, expiresIn } = this.#issue(refreshToken, code.scopes);
    return {
      access_token: token,
      token_type: 'bearer',
      expires_in: expiresIn,
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
      scope: code.scopes.join(' '),
      uid: '12345',
      account_id: ACCOUNT_ID,
    };
  }
}
