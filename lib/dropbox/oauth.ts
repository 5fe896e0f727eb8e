/**
 * Dropbox OAuth for the CLI's `connect`: the authorisation code flow with PKCE and no redirect (Dropbox shows the
 * code to the person, who pastes it back), asking for offline access so the answer carries a refresh token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { buildAuthorizePageUrl, buildTokenUrl } from './endpoint.ts';
import { DropboxApiError } from './errors.ts';
import { classifyTokenError, postTokenForm } from './tokens.ts';

/** The scopes the product needs: read the account, look files up, write them (content and metadata). */
export const REQUIRED_SCOPES: readonly string[] = [
  'account_info.read',
  'files.metadata.read',
  'files.metadata.write',
  'files.content.write',
  'files.content.read',
];

/** A PKCE code verifier and its S256 challenge. */
export interface PkcePair {
  readonly verifier: string;
  readonly challenge: string;
}

/** A fresh PKCE pair: a 86-character base64url verifier (RFC 7636 allows 43 to 128) and its SHA-256 challenge. */
export function createPkcePair(): PkcePair {
  const verifier = randomBytes(64).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** The page where the account owner approves the app; it shows the authorisation code to paste back. */
export function buildAuthorizeUrl(opts: {
  readonly appKey: string;
  readonly codeChallenge: string;
  readonly scopes: readonly string[];
  readonly endpointUrl?: string | undefined;
}): string {
  const parameters: ReadonlyArray<readonly [string, string]> = [
    ['client_id', opts.appKey],
    ['response_type', 'code'],
    ['token_access_type', 'offline'],
    ['code_challenge', opts.codeChallenge],
    ['code_challenge_method', 'S256'],
    ['scope', opts.scopes.join(' ')],
  ];
  // encodeURIComponent, not URLSearchParams: scopes are space-separated, and a space must travel as %20, not '+'.
  const query = parameters.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&');
  return `${buildAuthorizePageUrl(opts.endpointUrl)}?${query}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Exchanges the pasted authorisation code (with the PKCE verifier) for a refresh token. Throws a
 * {@link DropboxApiError}: `dropbox-auth` for a wrong, used or expired code.
 */
export async function exchangeAuthorizationCode(opts: {
  readonly appKey: string;
  readonly appSecret?: string | undefined;
  readonly code: string;
  readonly codeVerifier: string;
  readonly endpointUrl?: string | undefined;
  readonly fetch?: typeof fetch;
}): Promise<{ refreshToken: string; accountId: string }> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: opts.code.trim(),
    client_id: opts.appKey,
    code_verifier: opts.codeVerifier,
  });
  if (opts.appSecret !== undefined && opts.appSecret !== '') form.set('client_secret', opts.appSecret);
  const { response, body } = await postTokenForm(
    buildTokenUrl(opts.endpointUrl),
    form,
    opts.fetch ?? globalThis.fetch.bind(globalThis),
    30_000,
  );
  if (!response.ok) throw classifyTokenError(response, body);
  if (!isRecord(body) || typeof body.refresh_token !== 'string' || typeof body.account_id !== 'string') {
    throw new DropboxApiError({
      endpoint: 'oauth2/token',
      status: response.status,
      kind: 'account',
      code: 'dropbox-auth',
      retryable: false,
      detail: 'no refresh token in the answer (was token_access_type=offline requested?)',
    });
  }
  return { refreshToken: body.refresh_token, accountId: body.account_id };
}
