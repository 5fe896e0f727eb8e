/**
 * The one classification of Dropbox failures (DESIGN.md "Errors"): only what no token refresh fixes is account-wide,
 * a refusal of one file that the rules did not foresee is `blocked`, and no Dropbox answer is a silent skip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { classifyErrorResponse } from '../../lib/dropbox/errors.ts';
import { classifyTokenError } from '../../lib/dropbox/tokens.ts';
import { errorMessage } from '../../lib/errors.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { rejectionOf } from '../support/rejection.ts';
import { callsTo, clientFor, type EmulatorFixture, startEmulator } from './helpers.ts';

function routeError(status: number, summary: string) {
  return classifyErrorResponse('files/upload', {
    status,
    headers: undefined,
    body: { error_summary: summary },
  });
}

describe('classifyErrorResponse', () => {
  it.each([
    [401, 'expired_access_token/', 'transient', 'dropbox-token-refused'],
    [401, 'invalid_access_token/.', 'transient', 'dropbox-token-refused'],
    [401, 'user_suspended/', 'account', 'dropbox-auth'],
    [401, 'missing_scope/..', 'account', 'dropbox-auth'],
    [401, 'route_access_denied/', 'account', 'dropbox-auth'],
    [403, 'no_permission/', 'account', 'dropbox-access-denied'],
    [409, 'path/insufficient_space/..', 'account', 'dropbox-insufficient-space'],
    [409, 'path/team_folder_insufficient_space/', 'account', 'dropbox-insufficient-space'],
    [409, 'path/upload_traffic_limit_reached/', 'account', 'dropbox-traffic-limit'],
    [409, 'path/no_write_permission/..', 'account', 'dropbox-no-write-permission'],
    [409, 'path/conflict/file_ancestor/..', 'blocked', 'dropbox-path-conflict'],
    [409, 'path/conflict/folder/.', 'blocked', 'dropbox-path-conflict'],
    [409, 'path/malformed_path/..', 'blocked', 'dropbox-malformed-path'],
    [409, 'path/disallowed_name/', 'blocked', 'dropbox-disallowed-name'],
    [409, 'path/operation_suppressed/', 'blocked', 'dropbox-operation-refused'],
    [409, 'payload_too_large/', 'blocked', 'dropbox-payload-too-large'],
    [409, 'path/restricted_content/', 'blocked', 'dropbox-restricted-content'],
    [409, 'path/too_many_write_operations/', 'transient', 'dropbox-rate-limited'],
    [409, 'lookup_failed/not_found/', 'transient', 'dropbox-upload-session'],
    [409, 'something_new/', 'transient', 'dropbox-route-error'],
  ])('classifies %i %s as %s %s', (status, summary, kind, code) => {
    // Act
    const error = routeError(status, summary);

    // Assess
    expect(error).toMatchObject({ kind, code, status, errorSummary: summary });
  });

  it('classifies a plain-text 400 (a request Dropbox refuses as written) as blocked, not a skip', () => {
    // Act
    const error = classifyErrorResponse('files/upload', {
      status: 400,
      headers: undefined,
      body: 'Error in call to API function "files/upload": path: did not match pattern',
    });

    // Assess
    expect(error).toMatchObject({ kind: 'blocked', code: 'dropbox-bad-request' });
    expect(error.message).toContain('did not match pattern');
  });

  // What Dropbox's tokens look like: an access token (`sl.` and base64url), a refresh token (64 base64url characters).
  const accessToken = `sl.${'u8Xq-Z3kP_0aLm'.repeat(10)}`;
  const refreshToken = 'Hq3vT9xWkA0AAAAAAAAAAbYz7_Lp2Rm4Nc8sJd-QeUf5GhKo1iVtXw6yBnCaZ0Ml';

  it('keeps no token a plain-text 400 quotes in the message, and keeps the wording', () => {
    // Prepare: Dropbox's text body for a header it cannot use quotes the header's value.
    const body =
      `Error in call to API function "files/upload": Invalid authorization value in HTTP header ` +
      `"Authorization": "Bearer ${accessToken}".  Expecting "Bearer <oauth2-access-token>". ` +
      `Refresh with refresh_token=${refreshToken} or "${refreshToken}"`;

    // Act
    const error = classifyErrorResponse('files/upload', { status: 400, headers: undefined, body });

    // Assess
    expect(error).toMatchObject({ kind: 'blocked', code: 'dropbox-bad-request' });
    expect(error.message).not.toContain(accessToken);
    expect(error.message).not.toContain(accessToken.slice(3, 40));
    expect(error.message).not.toContain(refreshToken);
    expect(error.message).not.toContain(refreshToken.slice(0, 20));
    expect(error.message).toContain(
      'Invalid authorization value in HTTP header "Authorization": "Bearer [redacted]"',
    );
    expect(error.message).toContain('Expecting "Bearer <oauth2-access-token>"');
  });

  it('keeps no part of a token the 300 characters kept cut off', () => {
    // Prepare: the refresh token starts 20 characters before the cut.
    const body = `${'x '.repeat(140)}${refreshToken}`;

    // Act
    const error = classifyErrorResponse('files/upload', { status: 400, headers: undefined, body });

    // Assess
    expect(error.message).not.toContain(refreshToken.slice(0, 8));
  });

  it('keeps a path error readable: paths, hashes and ids are not tokens', () => {
    // Prepare
    const body =
      'Error in call to API function "files/upload": HTTP header "Dropbox-API-Arg": path: ' +
      "'Ticket Files/tickets/1002/Banner 300x250 final.pdf' did not match pattern " +
      "'(/(.|[\\r\\n])*)|(ns:[0-9]+(/.*)?)|(id:.*)' (content_hash " +
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)';

    // Act
    const error = classifyErrorResponse('files/upload', { status: 400, headers: undefined, body });

    // Assess
    expect(error.message).toBe(`Dropbox files/upload: HTTP 400 ${body}`);
  });

  it('keeps no token or app secret an oauth2/token error echoes', () => {
    // Prepare: an answer that quotes the form it refused (the app secret in a Basic header, the refresh token).
    const basic = Buffer.from('appkey123:s3cr3tAppSecret').toString('base64');
    const body = {
      error: 'invalid_grant',
      error_description: `refresh_token=${refreshToken}; Authorization: Basic ${basic}`,
    };

    // Act
    const classified = classifyTokenError(new Response(JSON.stringify(body), { status: 400 }), body);
    const transient = classifyTokenError(new Response(JSON.stringify(body), { status: 503 }), body);

    // Assess
    for (const message of [classified.message, transient.message]) {
      expect(message).not.toContain(refreshToken);
      expect(message).not.toContain(basic);
    }
    expect(transient.message).toContain('refresh_token=[redacted]; Authorization: Basic [redacted]');
  });

  it('keeps no token in the message of any other error kept (an SDK error quoting a remote body)', () => {
    // Act
    const message = errorMessage(new Error(`Unexpected answer: {"access_token": "${accessToken}"}`));

    // Assess
    expect(message).toBe('Unexpected answer: {"access_token": "[redacted]"}');
  });

  it.each([
    [400, 'invalid_grant', 'account'],
    [400, 'invalid_client', 'account'],
    [429, 'too_many_requests', 'transient'],
    [503, 'unavailable', 'transient'],
  ])('classifies oauth2/token %i %s as %s', (status, error, kind) => {
    // Act
    const classified = classifyTokenError(new Response(JSON.stringify({ error }), { status }), {
      error,
      error_description: 'refresh token is invalid or revoked',
    });

    // Assess
    expect(classified.kind).toBe(kind);
    expect(classified.message).not.toContain(EMULATOR_CREDENTIALS.refreshToken);
  });
});

describe('a 401 that comes back after a refresh', () => {
  let fixture: EmulatorFixture | undefined;
  afterEach(async () => {
    await fixture?.dispose();
  });

  it('is refreshed once, and then fails as transient, never account-wide', async () => {
    // Prepare: every access token the emulator issues is expired at once.
    fixture = await startEmulator({ accessTokenLifetimeSeconds: 0 });
    const client = clientFor(fixture.emulator, { pathRoot: 'home', upload: { maxAttempts: 1 } });

    // Act
    const error = await rejectionOf(client.getFileMetadata('/Anything.pdf'));

    // Assess
    expect(error).toMatchObject({ kind: 'transient', code: 'dropbox-token-refused', status: 401 });
    // Each try starts from a freshly refreshed token (the emulator's are expired as soon as they are issued).
    expect(callsTo(fixture.emulator.requestLog, 'oauth2/token').every((entry) => entry.status === 200)).toBe(
      true,
    );
    expect(callsTo(fixture.emulator.requestLog, 'files/get_metadata').map((entry) => entry.status)).toEqual([
      401, 401,
    ]);
  });
});
