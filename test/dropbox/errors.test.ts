/**
 * The one classification of Dropbox failures (DESIGN.md "Errors"): only what no token refresh fixes is account-wide,
 * a refusal of one file that the rules did not foresee is `blocked`, and no Dropbox answer is a silent skip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { classifyErrorResponse } from '../../lib/dropbox/errors.ts';
import { classifyTokenError } from '../../lib/dropbox/tokens.ts';
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
