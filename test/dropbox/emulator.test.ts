/**
 * The Dropbox API emulator, driven by the real `dropbox` SDK (and raw HTTP where the SDK cannot misbehave on
 * purpose): it must follow the real API's rules and shapes, or the uploader's green tests mean nothing.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dropbox, DropboxAuth } from 'dropbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CREDENTIALS, startDropboxEmulator } from '../../tools/emulators/dropbox/server.ts';
import {
  bytes,
  callsTo,
  type EmulatorFixture,
  MIB,
  readExported,
  referenceContentHash,
  sdkFor,
  sdkPair,
  startEmulator,
} from './helpers.ts';

interface SdkFailure {
  readonly status: number;
  readonly error: unknown;
  readonly headers: Headers;
}

async function failureOf(call: Promise<unknown>): Promise<SdkFailure> {
  try {
    await call;
  } catch (error) {
    if (error instanceof Error && error.name === 'DropboxResponseError') {
      const { status, error: body, headers } = error as unknown as SdkFailure;
      return { status, error: body, headers };
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

function summaryOf(failure: SdkFailure): string {
  return (failure.error as { error_summary: string }).error_summary;
}

let fixture: EmulatorFixture;
let sdk: Dropbox;
let auth: DropboxAuth;

async function tokenFor(): Promise<string> {
  const response = await fetch(`${fixture.emulator.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: EMULATOR_CREDENTIALS.refreshToken,
      client_id: EMULATOR_CREDENTIALS.appKey,
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** `GET /oauth2/authorize` for an offline PKCE code, as a person approving the app would. */
async function authorizeCode(challenge: string): Promise<string> {
  const authorize = new URL(`${fixture.emulator.url}/oauth2/authorize`);
  authorize.search = new URLSearchParams({
    client_id: EMULATOR_CREDENTIALS.appKey,
    response_type: 'code',
    token_access_type: 'offline',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return (await fetch(authorize)).text();
}

async function revokeWith(accessToken: string): Promise<void> {
  const response = await fetch(`${fixture.emulator.url}/2/auth/token/revoke`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  expect(response.status).toBe(200);
}

async function refreshWith(url: string, refreshToken: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: EMULATOR_CREDENTIALS.appKey,
    }),
  });
  return { status: response.status, body: await response.json() };
}

describe('Dropbox API emulator with the real SDK', () => {
  beforeEach(async () => {
    fixture = await startEmulator({ listFolderPageSize: 3 });
    ({ sdk, auth } = sdkPair(fixture.emulator));
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  describe('OAuth and bearer tokens', () => {
    it('refreshes the SDK token from query parameters and answers get_current_account', async () => {
      // Act
      const account = await sdk.usersGetCurrentAccount();

      // Assess
      expect(account.result.root_info).toMatchObject({ '.tag': 'user' });
      expect(account.result.root_info.root_namespace_id).toBe(account.result.root_info.home_namespace_id);
      expect(callsTo(fixture.emulator.requestLog, 'oauth2/token').map((entry) => entry.status)).toEqual([
        200,
      ]);
    });

    it('answers 401 expired_access_token once tokens expire, and the SDK gets a new one on refresh', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.expireAccessTokens();

      // Act
      const failure = await failureOf(sdk.usersGetCurrentAccount());
      await auth.refreshAccessToken();
      const again = await sdk.usersGetCurrentAccount();

      // Assess
      expect(failure.status).toBe(401);
      expect(failure.error).toEqual({
        error_summary: expect.stringMatching(/^expired_access_token\/\.+$/),
        error: { '.tag': 'expired_access_token' },
      });
      expect(again.status).toBe(200);
    });

    it('refuses every token after revokeAllTokens: 401 invalid_access_token, then 400 invalid_grant', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.revokeAllTokens();

      // Act
      const call = await failureOf(sdk.usersGetCurrentAccount());
      const refresh = await failureOf(auth.refreshAccessToken());

      // Assess
      expect(call.status).toBe(401);
      expect((call.error as { error: unknown }).error).toEqual({ '.tag': 'invalid_access_token' });
      expect(refresh.status).toBe(400);
      expect(refresh.error).toMatchObject({ error: 'invalid_grant' });
    });

    it('revokes the access token and its refresh token on auth/token/revoke', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();

      // Act
      await sdk.authTokenRevoke();
      const refresh = await failureOf(auth.refreshAccessToken());

      // Assess
      expect(refresh.error).toMatchObject({ error: 'invalid_grant' });
    });

    it('mints a code at GET /oauth2/authorize and exchanges it once, checking the PKCE verifier', async () => {
      // Prepare
      const verifier = 'v'.repeat(20) + createHash('sha256').update('seed').digest('hex');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const authorize = new URL(`${fixture.emulator.url}/oauth2/authorize`);
      authorize.search = new URLSearchParams({
        client_id: EMULATOR_CREDENTIALS.appKey,
        response_type: 'code',
        token_access_type: 'offline',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString();
      const code = await (await fetch(authorize)).text();
      auth.setCodeVerifier(verifier);

      // Act
      const exchanged = await auth.getAccessTokenFromCode('', code);
      const reused = await failureOf(auth.getAccessTokenFromCode('', code));

      // Assess
      expect(exchanged.result).toMatchObject({
        token_type: 'bearer',
        refresh_token: expect.any(String),
        account_id: expect.stringMatching(/^dbid:/),
        expires_in: 14_400,
      });
      expect(reused.error).toMatchObject({ error: 'invalid_grant' });
    });

    it('keeps issued refresh tokens, their revocation and pending codes across a restart on the same root', async () => {
      // Prepare: two connects (one revoked afterwards), and a third authorization not yet exchanged
      const connect = async (): Promise<{ refreshToken: string; accessToken: string }> => {
        const verifier = 'w'.repeat(60);
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        const code = await authorizeCode(challenge);
        auth.setCodeVerifier(verifier);
        const result = (await auth.getAccessTokenFromCode('', code)).result as {
          refresh_token: string;
          access_token: string;
        };
        return { refreshToken: result.refresh_token, accessToken: result.access_token };
      };
      const kept = await connect();
      const revoked = await connect();
      await revokeWith(revoked.accessToken);
      const pendingVerifier = 'p'.repeat(60);
      const pendingCode = await authorizeCode(
        createHash('sha256').update(pendingVerifier).digest('base64url'),
      );
      await fixture.emulator.close();

      // Act: a new emulator process on the same root
      const restarted = await startDropboxEmulator({ root: fixture.root });
      try {
        const refreshKept = await refreshWith(restarted.url, kept.refreshToken);
        const refreshRevoked = await refreshWith(restarted.url, revoked.refreshToken);
        const refreshBuiltIn = await refreshWith(restarted.url, EMULATOR_CREDENTIALS.refreshToken);
        const oldAccess = await fetch(`${restarted.url}/2/users/get_current_account`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${kept.accessToken}` },
        });
        const exchanged = await fetch(`${restarted.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: pendingCode,
            code_verifier: pendingVerifier,
            client_id: EMULATOR_CREDENTIALS.appKey,
          }),
        });

        // Assess
        expect(refreshKept).toMatchObject({ status: 200, body: { access_token: expect.any(String) } });
        expect(refreshRevoked).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
        expect(refreshBuiltIn.status).toBe(200);
        expect(oldAccess.status).toBe(401);
        expect(await oldAccess.json()).toMatchObject({ error: { '.tag': 'invalid_access_token' } });
        expect(exchanged.status).toBe(200);
        expect(await exchanged.json()).toMatchObject({ refresh_token: expect.any(String) });
      } finally {
        await restarted.close();
      }
    });

    it('refuses a code exchanged with the wrong verifier', async () => {
      // Prepare
      const challenge = createHash('sha256').update('a'.repeat(50)).digest('base64url');
      const url = `${fixture.emulator.url}/oauth2/authorize?client_id=${EMULATOR_CREDENTIALS.appKey}&response_type=code&code_challenge=${challenge}&code_challenge_method=S256`;
      const code = await (await fetch(url)).text();
      auth.setCodeVerifier('b'.repeat(50));

      // Act
      const failure = await failureOf(auth.getAccessTokenFromCode('', code));

      // Assess
      expect(failure.status).toBe(400);
      expect(failure.error).toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('files/upload, get_metadata and list_folder', () => {
    it('stores the file on disk and answers FileMetadata shaped as Dropbox does', async () => {
      // Prepare
      const data = bytes(1000);

      // Act
      const uploaded = await sdk.filesUpload({
        path: '/Ticket Files/Proof.pdf',
        contents: data,
        client_modified: '2026-01-02T03:04:05Z',
      });

      // Assess
      expect(uploaded.result).toEqual({
        name: 'Proof.pdf',
        path_lower: '/ticket files/proof.pdf',
        path_display: '/Ticket Files/Proof.pdf',
        id: expect.stringMatching(/^id:/),
        client_modified: '2026-01-02T03:04:05Z',
        server_modified: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        rev: expect.stringMatching(/^[0-9a-f]{9,}$/),
        size: 1000,
        is_downloadable: true,
        content_hash: referenceContentHash(data),
      });
      expect(await readExported(fixture.root, 'home', '/Ticket Files/Proof.pdf')).toEqual(data);
    });

    it('keeps the first spelling of a path and finds it whatever the case', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Ticket Files/A.pdf', contents: bytes(3) });
      await sdk.filesUpload({ path: '/TICKET FILES/b.pdf', contents: bytes(3) });

      // Act
      const found = await sdk.filesGetMetadata({ path: '/ticket files/B.PDF' });

      // Assess
      expect(found.result).toMatchObject({ '.tag': 'file', path_display: '/Ticket Files/b.pdf' });
    });

    it('creates parent folders implicitly and lists them, following the cursor', async () => {
      // Prepare
      for (const name of ['1', '2', '3', '4'])
        await sdk.filesUpload({ path: `/Base/Sub/${name}.txt`, contents: bytes(1) });

      // Act
      const first = await sdk.filesListFolder({ path: '', recursive: true });
      const rest = await sdk.filesListFolderContinue({ cursor: first.result.cursor });
      const folder = await sdk.filesGetMetadata({ path: '/base/sub' });

      // Assess
      const paths = [...first.result.entries, ...rest.result.entries].map((entry) => entry.path_display);
      expect(first.result.has_more).toBe(true);
      expect(rest.result.has_more).toBe(false);
      expect(paths).toEqual([
        '/Base',
        '/Base/Sub',
        '/Base/Sub/1.txt',
        '/Base/Sub/2.txt',
        '/Base/Sub/3.txt',
        '/Base/Sub/4.txt',
      ]);
      expect(folder.result['.tag']).toBe('folder');
    });

    it('answers path/not_found for nothing, and for a file deleted from disk unless include_deleted', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Gone.pdf', contents: bytes(5) });
      await rm(join(fixture.root, 'home', 'Gone.pdf'));

      // Act
      const missing = await failureOf(sdk.filesGetMetadata({ path: '/Never.pdf' }));
      const gone = await failureOf(sdk.filesGetMetadata({ path: '/Gone.pdf' }));
      const deleted = await sdk.filesGetMetadata({ path: '/Gone.pdf', include_deleted: true });

      // Assess
      expect(missing.status).toBe(409);
      expect(missing.error).toEqual({
        error_summary: expect.stringMatching(/^path\/not_found\/\.+$/),
        error: { '.tag': 'path', path: { '.tag': 'not_found' } },
      });
      expect(summaryOf(gone)).toMatch(/^path\/not_found\//);
      expect(deleted.result).toMatchObject({ '.tag': 'deleted', path_display: '/Gone.pdf' });
    });

    it('receives non-ASCII names escaped as \\uXXXX in Dropbox-API-Arg', async () => {
      // Act
      const uploaded = await sdk.filesUpload({ path: '/Épreuves/日本語 Proof.pdf', contents: bytes(2) });

      // Assess
      expect(uploaded.result.path_display).toBe('/Épreuves/日本語 Proof.pdf');
      expect(await readExported(fixture.root, 'home', '/Épreuves/日本語 Proof.pdf')).toHaveLength(2);
    });

    it('answers 400 to a Dropbox-API-Arg header with raw non-ASCII characters', async () => {
      // Prepare
      const token = await tokenFor();

      // Act
      const response = await fetch(`${fixture.emulator.url}/2/files/upload`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/octet-stream',
          'Dropbox-API-Arg': '{"path":"/caf\u00e9.pdf"}',
        },
        body: 'x',
      });

      // Assess
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('Dropbox-API-Arg');
    });

    it('refuses client_modified with milliseconds with a 400', async () => {
      // Act
      const failure = await failureOf(
        sdk.filesUpload({ path: '/a.pdf', contents: bytes(1), client_modified: '2026-01-02T03:04:05.123Z' }),
      );

      // Assess
      expect(failure.status).toBe(400);
      expect(String(failure.error)).toContain("does not match format '%Y-%m-%dT%H:%M:%SZ'");
    });

    it.each([
      ['/Folder/', 'malformed_path'],
      ['/a//b.pdf', 'malformed_path'],
      ['/a/../b.pdf', 'malformed_path'],
      [`/${'n'.repeat(256)}.pdf`, 'malformed_path'],
      ['/Folder/desktop.ini', 'disallowed_name'],
      ['/Folder/Thumbs.db', 'disallowed_name'],
      ['/.DS_Store', 'disallowed_name'],
      ['/Icon\r', 'disallowed_name'],
      ['/.dropbox', 'disallowed_name'],
    ])('refuses %j with path/%s and an upload_session_id', async (path, tag) => {
      // Act
      const failure = await failureOf(sdk.filesUpload({ path, contents: bytes(4) }));

      // Assess
      expect(failure.status).toBe(409);
      expect(failure.error).toEqual({
        error_summary: expect.stringMatching(new RegExp(`^path/${tag}/\\.+$`)),
        error: { '.tag': 'path', reason: { '.tag': tag }, upload_session_id: expect.any(String) },
      });
    });

    it('answers 400 for a path that does not start with a slash', async () => {
      // Act
      const failure = await failureOf(sdk.filesUpload({ path: 'relative.pdf', contents: bytes(1) }));

      // Assess
      expect(failure.status).toBe(400);
      expect(String(failure.error)).toContain('did not match pattern');
    });

    it('answers content_hash_mismatch when the data does not match the content_hash sent', async () => {
      // Act
      const failure = await failureOf(
        sdk.filesUpload({
          path: '/x.pdf',
          contents: bytes(10),
          content_hash: referenceContentHash(bytes(10)),
        }),
      );

      // Assess
      expect(failure.status).toBe(409);
      expect(failure.error).toMatchObject({ error: { '.tag': 'content_hash_mismatch' } });
    });

    it('refuses a request carrying more than 150 MiB with payload_too_large', async () => {
      // Act
      const failure = await failureOf(
        sdk.filesUpload({ path: '/huge.bin', contents: Buffer.alloc(150 * MIB + 1) }),
      );

      // Assess
      expect(failure.status).toBe(409);
      expect(failure.error).toMatchObject({ error: { '.tag': 'payload_too_large' } });
    });
  });

  describe('write modes', () => {
    it('writes nothing for identical content in add mode', async () => {
      // Prepare
      const data = bytes(50);
      const first = await sdk.filesUpload({
        path: '/Proof.pdf',
        contents: data,
        mode: { '.tag': 'add' },
        autorename: true,
      });

      // Act
      const second = await sdk.filesUpload({
        path: '/proof.pdf',
        contents: data,
        mode: { '.tag': 'add' },
        autorename: true,
      });

      // Assess
      expect(second.result.rev).toBe(first.result.rev);
      expect(second.result.path_display).toBe('/Proof.pdf');
    });

    it('autorenames different content in add mode to "name (1).ext", then "(2)"', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(5) });

      // Act
      const one = await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(6), autorename: true });
      const two = await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(7), autorename: true });

      // Assess
      expect(one.result.path_display).toBe('/Proof (1).pdf');
      expect(two.result.path_display).toBe('/Proof (2).pdf');
    });

    it('autorenames identical content to the first free name when the renamed copies are taken', async () => {
      // Prepare: another file at the path, then a renamed copy with these very bytes
      await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(5) });
      const data = bytes(6);
      const renamed = await sdk.filesUpload({ path: '/Proof.pdf', contents: data, autorename: true });

      // Act: Dropbox documents the identical-content no-op at the target path only
      const again = await sdk.filesUpload({ path: '/Proof.pdf', contents: data, autorename: true });

      // Assess
      expect(renamed.result.path_display).toBe('/Proof (1).pdf');
      expect(again.result.path_display).toBe('/Proof (2).pdf');
      expect(again.result.id).not.toBe(renamed.result.id);
    });

    it('writes nothing for identical content at the path under update with another rev, unless strict_conflict', async () => {
      // Prepare
      const data = bytes(9);
      const first = await sdk.filesUpload({ path: '/Same.pdf', contents: data });
      const stale = '0123456789abcdef';

      // Act
      const lenient = await sdk.filesUpload({
        path: '/Same.pdf',
        contents: data,
        mode: { '.tag': 'update', update: stale },
      });
      const strict = await failureOf(
        sdk.filesUpload({
          path: '/Same.pdf',
          contents: data,
          mode: { '.tag': 'add' },
          strict_conflict: true,
        }),
      );
      const strictGone = await failureOf(
        sdk.filesUpload({
          path: '/Never there.pdf',
          contents: data,
          mode: { '.tag': 'update', update: stale },
          strict_conflict: true,
        }),
      );

      // Assess
      expect(lenient.result.rev).toBe(first.result.rev);
      expect(summaryOf(strict)).toMatch(/^path\/conflict\/file\//);
      expect(summaryOf(strictGone)).toMatch(/^path\/conflict\/file\//);
    });

    it('finds a file by id after a person moved it, and not after a person deleted it', async () => {
      // Prepare
      const file = await sdk.filesUpload({ path: '/Moved/From.pdf', contents: bytes(4) });
      const doomed = await sdk.filesUpload({ path: '/Doomed.pdf', contents: bytes(3) });

      // Act
      await fixture.emulator.moveFile('/Moved/From.pdf', '/Elsewhere/To.pdf');
      await fixture.emulator.deleteFile('/doomed.pdf');
      const moved = await sdk.filesGetMetadata({ path: file.result.id });
      const deleted = await failureOf(sdk.filesGetMetadata({ path: doomed.result.id }));
      const oldPath = await failureOf(sdk.filesGetMetadata({ path: '/Moved/From.pdf' }));

      // Assess
      expect(moved.result).toMatchObject({ id: file.result.id, path_display: '/Elsewhere/To.pdf' });
      expect(summaryOf(deleted)).toMatch(/^path\/not_found\//);
      expect(summaryOf(oldPath)).toMatch(/^path\/not_found\//);
    });

    it('answers path/conflict/file for different content in add mode without autorename', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(5) });

      // Act
      const failure = await failureOf(sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(6) }));

      // Assess
      expect(summaryOf(failure)).toMatch(/^path\/conflict\/file\//);
    });

    it('replaces the file in overwrite mode, keeping its id', async () => {
      // Prepare
      const first = await sdk.filesUpload({ path: '/Proof.pdf', contents: bytes(5) });
      const data = bytes(8);

      // Act
      const second = await sdk.filesUpload({
        path: '/PROOF.pdf',
        contents: data,
        mode: { '.tag': 'overwrite' },
      });

      // Assess
      expect(second.result).toMatchObject({ id: first.result.id, path_display: '/Proof.pdf', size: 8 });
      expect(second.result.rev).not.toBe(first.result.rev);
      expect(await readExported(fixture.root, 'home', '/Proof.pdf')).toEqual(data);
    });

    it('updates on a matching rev and makes a conflicted copy on a stale one', async () => {
      // Prepare
      const first = await sdk.filesUpload({ path: '/Doc.txt', contents: bytes(5) });

      // Act
      const updated = await sdk.filesUpload({
        path: '/Doc.txt',
        contents: bytes(6),
        mode: { '.tag': 'update', update: first.result.rev },
      });
      const stale = await sdk.filesUpload({
        path: '/Doc.txt',
        contents: bytes(7),
        mode: { '.tag': 'update', update: first.result.rev },
        autorename: true,
      });

      // Assess
      expect(updated.result.path_display).toBe('/Doc.txt');
      expect(stale.result.path_display).toBe('/Doc (conflicted copy).txt');
    });

    it('answers path/conflict/file_ancestor when a parent is a file', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Parent', contents: bytes(1) });

      // Act
      const failure = await failureOf(sdk.filesUpload({ path: '/Parent/child.pdf', contents: bytes(1) }));

      // Assess
      expect(summaryOf(failure)).toMatch(/^path\/conflict\/file_ancestor\//);
    });

    it('answers path/insufficient_space while the account is full', async () => {
      // Prepare
      fixture.emulator.setInsufficientSpace(true);

      // Act
      const failure = await failureOf(sdk.filesUpload({ path: '/x.pdf', contents: bytes(1) }));

      // Assess
      expect(summaryOf(failure)).toMatch(/^path\/insufficient_space\//);
    });
  });

  describe('upload sessions', () => {
    it('joins start, append_v2 and finish into one file with the whole content hash', async () => {
      // Prepare
      const data = bytes(3000);
      const start = await sdk.filesUploadSessionStart({ contents: data.subarray(0, 1000) });
      const sessionId = start.result.session_id;

      // Act
      await sdk.filesUploadSessionAppendV2({
        cursor: { session_id: sessionId, offset: 1000 },
        contents: data.subarray(1000, 2000),
      });
      const finished = await sdk.filesUploadSessionFinish({
        cursor: { session_id: sessionId, offset: 2000 },
        commit: { path: '/Session.bin', mode: { '.tag': 'add' } },
        contents: data.subarray(2000),
        content_hash: referenceContentHash(data.subarray(2000)),
      });

      // Assess
      expect(finished.result).toMatchObject({ size: 3000, content_hash: referenceContentHash(data) });
      expect(await readExported(fixture.root, 'home', '/Session.bin')).toEqual(data);
    });

    it('answers incorrect_offset with the correct_offset for a wrong cursor', async () => {
      // Prepare
      const start = await sdk.filesUploadSessionStart({ contents: bytes(100) });

      // Act
      const failure = await failureOf(
        sdk.filesUploadSessionAppendV2({
          cursor: { session_id: start.result.session_id, offset: 50 },
          contents: bytes(10),
        }),
      );

      // Assess
      expect(failure.error).toEqual({
        error_summary: expect.stringMatching(/^incorrect_offset\//),
        error: { '.tag': 'incorrect_offset', correct_offset: 100 },
      });
    });

    it('refuses appends after close, and a second finish as lookup_failed/closed', async () => {
      // Prepare
      const start = await sdk.filesUploadSessionStart({ contents: bytes(10), close: true });
      const sessionId = start.result.session_id;
      const commit = { path: '/Closed.bin' };

      // Act
      const append = await failureOf(
        sdk.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset: 10 }, contents: bytes(1) }),
      );
      await sdk.filesUploadSessionFinish({
        cursor: { session_id: sessionId, offset: 10 },
        commit,
        contents: Buffer.alloc(0),
      });
      const again = await failureOf(
        sdk.filesUploadSessionFinish({
          cursor: { session_id: sessionId, offset: 10 },
          commit,
          contents: Buffer.alloc(0),
        }),
      );

      // Assess
      expect(summaryOf(append)).toMatch(/^closed\//);
      expect(summaryOf(again)).toMatch(/^lookup_failed\/closed\//);
    });

    it('answers lookup_failed/not_found once a session has expired', async () => {
      // Prepare
      const start = await sdk.filesUploadSessionStart({ contents: bytes(10) });
      fixture.emulator.expireUploadSessions();

      // Act
      const failure = await failureOf(
        sdk.filesUploadSessionFinish({
          cursor: { session_id: start.result.session_id, offset: 10 },
          commit: { path: '/Late.bin' },
          contents: Buffer.alloc(0),
        }),
      );

      // Assess
      expect(summaryOf(failure)).toMatch(/^lookup_failed\/not_found\//);
    });

    it('keeps the data of a finish whose commit failed, for a retry with an empty body', async () => {
      // Prepare
      await sdk.filesUpload({ path: '/Taken.bin', contents: bytes(3) });
      const start = await sdk.filesUploadSessionStart({ contents: bytes(10) });
      const sessionId = start.result.session_id;

      // Act
      const conflict = await failureOf(
        sdk.filesUploadSessionFinish({
          cursor: { session_id: sessionId, offset: 10 },
          commit: { path: '/Taken.bin' },
          contents: bytes(5),
        }),
      );
      const retried = await sdk.filesUploadSessionFinish({
        cursor: { session_id: sessionId, offset: 15 },
        commit: { path: '/Taken.bin', autorename: true },
        contents: Buffer.alloc(0),
      });

      // Assess
      expect(summaryOf(conflict)).toMatch(/^path\/conflict\/file\//);
      expect(retried.result).toMatchObject({ path_display: '/Taken (1).bin', size: 15 });
    });

    it('takes 4 MiB-aligned concurrent pieces in any order and commits them with finish_batch_v2', async () => {
      // Prepare
      const data = bytes(8 * MIB + 5);
      const start = await sdk.filesUploadSessionStart({
        session_type: { '.tag': 'concurrent' },
        contents: Buffer.alloc(0),
      });
      const sessionId = start.result.session_id;
      await sdk.filesUploadSessionAppendV2({
        cursor: { session_id: sessionId, offset: 8 * MIB },
        contents: data.subarray(8 * MIB),
        close: true,
      });
      await sdk.filesUploadSessionAppendV2({
        cursor: { session_id: sessionId, offset: 4 * MIB },
        contents: data.subarray(4 * MIB, 8 * MIB),
      });
      await sdk.filesUploadSessionAppendV2({
        cursor: { session_id: sessionId, offset: 0 },
        contents: data.subarray(0, 4 * MIB),
      });

      // Act
      const batch = await sdk.filesUploadSessionFinishBatchV2({
        entries: [
          { cursor: { session_id: sessionId, offset: data.byteLength }, commit: { path: '/Concurrent.bin' } },
        ],
      });

      // Assess
      expect(batch.result.entries).toEqual([
        expect.objectContaining({
          '.tag': 'success',
          size: data.byteLength,
          content_hash: referenceContentHash(data),
        }),
      ]);
    });

    it('enforces the concurrent-session rules: no data at start, 4 MiB multiples, closed and complete to finish', async () => {
      // Prepare
      const concurrent = { session_type: { '.tag': 'concurrent' as const } };
      const withData = await failureOf(sdk.filesUploadSessionStart({ ...concurrent, contents: bytes(1) }));
      const start = await sdk.filesUploadSessionStart({ ...concurrent, contents: Buffer.alloc(0) });
      const sessionId = start.result.session_id;

      // Act
      const size = await failureOf(
        sdk.filesUploadSessionAppendV2({
          cursor: { session_id: sessionId, offset: 0 },
          contents: bytes(MIB),
        }),
      );
      const offset = await failureOf(
        sdk.filesUploadSessionAppendV2({
          cursor: { session_id: sessionId, offset: MIB },
          contents: bytes(4 * MIB),
        }),
      );
      await sdk.filesUploadSessionAppendV2({
        cursor: { session_id: sessionId, offset: 4 * MIB },
        contents: bytes(10),
        close: true,
      });
      const missing = await failureOf(
        sdk.filesUploadSessionFinish({
          cursor: { session_id: sessionId, offset: 4 * MIB + 10 },
          commit: { path: '/C.bin' },
          contents: Buffer.alloc(0),
        }),
      );

      // Assess
      expect(summaryOf(withData)).toMatch(/^concurrent_session_data_not_allowed\//);
      expect(summaryOf(size)).toMatch(/^concurrent_session_invalid_data_size\//);
      expect(summaryOf(offset)).toMatch(/^concurrent_session_invalid_offset\//);
      expect(summaryOf(missing)).toMatch(/^concurrent_session_missing_data\//);
    });

    it('answers finish_batch_v2 entries of an unclosed session with lookup_failed/not_closed', async () => {
      // Prepare
      const start = await sdk.filesUploadSessionStart({ contents: bytes(10) });

      // Act
      const batch = await sdk.filesUploadSessionFinishBatchV2({
        entries: [
          { cursor: { session_id: start.result.session_id, offset: 10 }, commit: { path: '/Open.bin' } },
        ],
      });

      // Assess
      expect(batch.result.entries).toEqual([
        { '.tag': 'failure', failure: { '.tag': 'lookup_failed', lookup_failed: { '.tag': 'not_closed' } } },
      ]);
    });
  });

  describe('faults and the request log', () => {
    it('logs route, bytes in, status and timestamps of every request', async () => {
      // Act
      await sdk.filesUpload({ path: '/Logged.bin', contents: bytes(1234) });

      // Assess
      const [entry] = callsTo(fixture.emulator.requestLog, 'files/upload');
      expect(entry).toMatchObject({ method: 'POST', route: 'files/upload', bytesIn: 1234, status: 200 });
      expect(entry?.endedAt).toBeGreaterThanOrEqual(entry?.startedAt ?? Number.POSITIVE_INFINITY);
    });

    it('answers 429 too_many_requests with Retry-After in header and body', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({ rate429: 1, retryAfterSeconds: 2, routes: ['files/get_metadata'] });

      // Act
      const failure = await failureOf(sdk.filesGetMetadata({ path: '/x' }));

      // Assess
      expect(failure.status).toBe(429);
      expect(failure.headers.get('retry-after')).toBe('2');
      expect(failure.error).toEqual({
        error_summary: expect.stringMatching(/^too_many_requests\//),
        error: { reason: { '.tag': 'too_many_requests' }, retry_after: 2 },
      });
    });

    it('keeps the account rate-limited for the Retry-After of a scripted 429, on every route', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({
        rateLimitRequest: { route: 'files/get_metadata', nth: 2 },
        retryAfterSeconds: 0.3,
      });
      const first = await failureOf(sdk.filesGetMetadata({ path: '/x' }));

      // Act
      const limited = await failureOf(sdk.filesGetMetadata({ path: '/x' }));
      const early = await failureOf(sdk.filesListFolder({ path: '' }));
      await new Promise((resolve) => setTimeout(resolve, 350));
      const later = await failureOf(sdk.filesGetMetadata({ path: '/x' }));

      // Assess
      expect(first.status).toBe(409);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('0.3');
      expect(early.status).toBe(429);
      expect(Number(early.headers.get('retry-after'))).toBeLessThanOrEqual(0.3);
      expect(later.status).toBe(409);
    });

    it('answers 429 without any retry hint when asked to', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({ rate429WithoutRetryAfter: 1, routes: ['files/get_metadata'] });

      // Act
      const failure = await failureOf(sdk.filesGetMetadata({ path: '/x' }));

      // Assess
      expect(failure.status).toBe(429);
      expect(failure.headers.get('retry-after')).toBeNull();
      expect(failure.error).toEqual({
        error_summary: expect.any(String),
        error: { reason: { '.tag': 'too_many_requests' } },
      });
    });

    it('answers 500 and 503 in turn for server errors', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({ rate5xx: 1, routes: ['files/get_metadata'] });

      // Act
      const first = await failureOf(sdk.filesGetMetadata({ path: '/x' }));
      const second = await failureOf(sdk.filesGetMetadata({ path: '/x' }));

      // Assess
      expect([first.status, second.status].sort()).toEqual([500, 503]);
    });

    it('resets the connection in the middle of an upload body, storing nothing', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({ rateReset: 1, routes: ['files/upload'] });

      // Act
      const outcome = await sdk.filesUpload({ path: '/Reset.bin', contents: bytes(2 * MIB) }).then(
        () => 'stored',
        (error: unknown) => (error instanceof TypeError ? 'network error' : String(error)),
      );
      fixture.emulator.setFaults({});
      const lookup = await failureOf(sdk.filesGetMetadata({ path: '/Reset.bin' }));

      // Assess
      expect(outcome).toBe('network error');
      const [entry] = callsTo(fixture.emulator.requestLog, 'files/upload');
      expect(entry).toMatchObject({ status: 0, fault: 'reset' });
      expect(entry?.bytesIn).toBeGreaterThan(0);
      expect(entry?.bytesIn).toBeLessThan(2 * MIB);
      expect(summaryOf(lookup)).toMatch(/^path\/not_found\//);
    });

    it('fails overlapping commits in one namespace with too_many_write_operations under write-lock contention', async () => {
      // Prepare
      await sdk.usersGetCurrentAccount();
      fixture.emulator.setFaults({ writeLockContention: true, writeLockHoldMs: 300 });

      // Act
      const outcomes = await Promise.all(
        ['/One.bin', '/Two.bin', '/Three.bin'].map((path) =>
          sdk.filesUpload({ path, contents: bytes(10) }).then(
            () => 'ok',
            (error: unknown) => summaryOf(error as SdkFailure),
          ),
        ),
      );

      // Assess
      expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.startsWith('too_many_write_operations/'))).toHaveLength(2);
    });

    it('still delivers intact content through added latency and a bandwidth cap', async () => {
      // Prepare
      fixture.emulator.setFaults({ latencyMs: 20, bandwidthBytesPerSec: 4 * MIB });
      const data = bytes(MIB);

      // Act
      const uploaded = await sdk.filesUpload({ path: '/Slow.bin', contents: data });

      // Assess
      expect(uploaded.result.content_hash).toBe(referenceContentHash(data));
    });
  });
});

describe('Dropbox API emulator in team mode', () => {
  beforeEach(async () => {
    fixture = await startEmulator({ team: true });
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  it('reports a team root distinct from the home namespace', async () => {
    // Act
    const account = await sdkFor(fixture.emulator).usersGetCurrentAccount();

    // Assess
    expect(account.result.root_info).toMatchObject({ '.tag': 'team', home_path: '/Emulator User' });
    expect(account.result.root_info.root_namespace_id).not.toBe(account.result.root_info.home_namespace_id);
  });

  it('writes under the team space with the root header, and in the home folder without it', async () => {
    // Prepare
    const account = await sdkFor(fixture.emulator).usersGetCurrentAccount();
    const header = JSON.stringify({ '.tag': 'root', root: account.result.root_info.root_namespace_id });

    // Act
    await sdkFor(fixture.emulator, { pathRoot: header }).filesUpload({
      path: '/Ticket Files/Team.pdf',
      contents: bytes(3),
    });
    await sdkFor(fixture.emulator).filesUpload({ path: '/Ticket Files/Home.pdf', contents: bytes(4) });
    const viaMount = await sdkFor(fixture.emulator, { pathRoot: header }).filesGetMetadata({
      path: '/Emulator User/Ticket Files/Home.pdf',
    });

    // Assess
    expect(await readExported(fixture.root, 'team', '/Ticket Files/Team.pdf')).toHaveLength(3);
    expect(await readExported(fixture.root, 'home', '/Ticket Files/Home.pdf')).toHaveLength(4);
    expect(viaMount.result).toMatchObject({ path_display: '/Emulator User/Ticket Files/Home.pdf', size: 4 });
  });

  it('answers 422 invalid_root with the latest root info once the root changed', async () => {
    // Prepare
    const account = await sdkFor(fixture.emulator).usersGetCurrentAccount();
    const header = JSON.stringify({ '.tag': 'root', root: account.result.root_info.root_namespace_id });
    fixture.emulator.changeTeamRoot();

    // Act
    const failure = await failureOf(
      sdkFor(fixture.emulator, { pathRoot: header }).filesGetMetadata({ path: '/x' }),
    );

    // Assess
    expect(failure.status).toBe(422);
    expect(failure.error).toEqual({
      error_summary: expect.stringMatching(/^invalid_root\//),
      error: { '.tag': 'invalid_root', invalid_root: fixture.emulator.rootInfo() },
    });
  });
});
