/**
 * Takes anything token-like out of text a remote side wrote (an error body, an SDK error's message) before it is kept
 * anywhere: an error message, the ledger's reason, a DLQ message attribute, a log line, a receipt, CLI output.
 * Dropbox's plain-text 400 bodies ("Error in call to API function …: Invalid authorization value in HTTP header
 * "Authorization": "Bearer …"") may quote a header value, and an `oauth2/token` answer may echo a form field.
 */

/** What stands where a secret was. */
export const REDACTED = '[redacted]';

// An HTTP authorization scheme and its credentials (RFC 9110 §11.4): the scheme stays, so "Expecting "Bearer
// <oauth2-access-token>"" stays readable (`<` is not a credential character). The scheme as headers write it takes
// any credential; in another case (schemes are case-insensitive) only one of 12 characters or more (a Basic one is
// the base64 of `key:secret`), so "a basic check failed" stays a phrase.
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]+/g;
const AUTH_SCHEME_ANY_CASE = /\b(bearer|basic)(\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{12,}/gi;

// A quoted Authorization header value without a known scheme (Dropbox quotes a value it cannot parse).
const AUTHORIZATION_VALUE = /(authorization["']?\s*[:=]\s*)(["'])(?!(?:Bearer|Basic)\b)([^"'\s][^"']*)\2/gi;

// A secret named as `oauth2/token` names it, in a form, a query string or JSON: `refresh_token=…`,
// `"client_secret": "…"`.
const NAMED_SECRET =
  /\b(access_token|refresh_token|client_secret|app_secret|id_token|code_verifier)(["']?\s*[:=]\s*["']?)(?!\[redacted\])([^\s"'&,;<>]+)/gi;

// A long run of the base64 / base64url alphabet mixing upper case, lower case and digits: how Dropbox's access and
// refresh tokens and authorization codes look (the access token after its `sl.` prefix). The mix keeps hex (content
// hashes, revs, ETags), lower-case ids and words readable; `/` and `.` end a run, and a run right after a `/` is a
// path segment (an S3 key's or a Dropbox path's file name, such as `Invoice_2024_November_ACME-Corp_Final.pdf`), so
// paths stay readable. The look-behind also keeps a run from being matched from its middle.
const TOKEN_RUN = /(?<![/A-Za-z0-9_+=-])[A-Za-z0-9_+=-]{32,}/g;

function isTokenLike(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
}

/** `text` with every credential in it replaced by {@link REDACTED}; the wording around them is kept. */
export function redactSecrets(text: string): string {
  return text
    .replace(AUTH_SCHEME, (_match, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(AUTH_SCHEME_ANY_CASE, (_match, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(
      AUTHORIZATION_VALUE,
      (_match, prefix: string, quote: string) => `${prefix}${quote}${REDACTED}${quote}`,
    )
    .replace(NAMED_SECRET, (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`)
    .replace(TOKEN_RUN, (run) => (isTokenLike(run) ? REDACTED : run));
}
