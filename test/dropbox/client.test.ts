/**
 * DropboxClient against the Dropbox API emulator over HTTP: lookups and listings, retries and their classification,
 * the path root of a team account, revoked tokens, the client cache, and the OAuth helpers of `connect`.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withDeadline } from '../../lib/deadline.ts';
import {
  clearDropboxClientCache,
  DropboxClient,
  type DropboxRetryInfo,
  getDropboxClient,
} from '../../lib/dropbox/client.ts';
import { formatDropboxTimestamp } from '../../lib/dropbox/metadata.ts';
import {
  buildAuthorizeUrl,
  createPkcePair,
  exchangeAuthorizationCode,
  REQUIRED_SCOPES,
} from '../../lib/dropbox/oauth.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { rejectionOf as rejection } from '../support/rejection.ts';
import {
  bodyOf,
  bytes,
  callsTo,
  clientFor,
  type EmulatorFixture,
  readExported,
  referenceContentHash,
  startEmulator,
  transport,
} from './helpers.ts';

let fixture: EmulatorFixture;

function upload(client: DropboxClient, path: string, data: Uint8Array) {
  return client.upload({
    path,
    size: data.byteLength,
    clientModified: new Date('2026-05-06T07:08:09Z'),
    onConflict: 'rename',
    body: bodyOf(data),
  });
}

describe('DropboxClient', () => {
  beforeEach(async () => {
    fixture = await startEmulator({ listFolderPageSize: 2 });
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  describe('lookups and listings', () => {
    it('reads the connected account', async () => {
      // Act
      const account = await clientFor(fixture.emulator).getCurrentAccount();

      // Assess
      expect(account).toEqual({
        accountId: expect.stringMatching(/^dbid:/),
        displayName: 'Emulator User',
        email: 'emulator@example.com',
        rootNamespaceId: account.homeNamespaceId,
        homeNamespaceId: expect.stringMatching(/^\d+$/),
        isTeamRoot: false,
      });
    });

    it('returns the file at a path, and null for nothing or a folder', async () => {
      // Prepare
      const client = clientFor(fixture.emulator);
      const data = bytes(321);
      await upload(client, '/Ticket Files/Proof.pdf', data);

      // Act
      const file = await client.getFileMetadata('/ticket files/proof.pdf');
      const nothing = await client.getFileMetadata('/Ticket Files/None.pdf');
      const folder = await client.getFileMetadata('/Ticket Files');

      // Assess
      expect(file).toMatchObject({
        name: 'Proof.pdf',
        pathDisplay: '/Ticket Files/Proof.pdf',
        size: 321,
        contentHash: referenceContentHash(data),
        clientModified: '2026-05-06T07:08:09Z',
      });
      expect(nothing).toBeNull();
      expect(folder).toBeNull();
    });

    it('lists the files of a folder across pages, recursively on request, and [] for no folder', async () => {
      // Prepare
      const client = clientFor(fixture.emulator);
      for (const path of ['/Base/a.pdf', '/Base/b.pdf', '/Base/c.pdf', '/Base/Sub/d.pdf', '/Other/e.pdf']) {
        await upload(client, path, bytes(5));
      }

      // Act
      const flat = await client.listFolder('/Base');
      const deep = await client.listFolder('/base', { recursive: true });
      const root = await client.listFolder('/', { recursive: true });
      const none = await client.listFolder('/Missing');

      // Assess
      expect(flat.map((file) => file.name).sort()).toEqual(['a.pdf', 'b.pdf', 'c.pdf']);
      expect(deep.map((file) => file.pathDisplay).sort()).toEqual([
        '/Base/Sub/d.pdf',
        '/Base/a.pdf',
        '/Base/b.pdf',
        '/Base/c.pdf',
      ]);
      expect(root).toHaveLength(5);
      expect(none).toEqual([]);
      expect(callsTo(fixture.emulator.requestLog, 'files/list_folder/continue').length).toBeGreaterThan(0);
    });

    it('formats client_modified without milliseconds', () => {
      // Act / Assess
      expect(formatDropboxTimestamp(new Date('2026-11-27T13:40:08.999Z'))).toBe('2026-11-27T13:40:08Z');
    });
  });

  describe('retries', () => {
    it('honours Retry-After (header or body) and ends as dropbox-rate-limited with retryAfterMs', async () => {
      // Prepare
      fixture.emulator.setFaults({ rate429: 1, retryAfterSeconds: 0.015, routes: ['files/get_metadata'] });
      const retries: DropboxRetryInfo[] = [];
      const client = clientFor(fixture.emulator, {
        upload: { maxAttempts: 3, backoffBaseMs: 500, backoffCapMs: 1000 },
        onRetry: (info) => retries.push(info),
      });

      // Act
      const error = await rejection(client.getFileMetadata('/x.pdf'));

      // Assess
      expect(error).toMatchObject({
        kind: 'transient',
        code: 'dropbox-rate-limited',
        retryAfterMs: 15,
        status: 429,
      });
      expect(retries).toEqual([
        { endpoint: 'files/get_metadata', attempt: 1, delayMs: 15, code: 'dropbox-rate-limited' },
        { endpoint: 'files/get_metadata', attempt: 2, delayMs: 15, code: 'dropbox-rate-limited' },
      ]);
      expect(callsTo(fixture.emulator.requestLog, 'files/get_metadata')).toHaveLength(3);
    });

    it("holds back every call of the client until Dropbox's Retry-After has passed", async () => {
      // Prepare
      fixture.emulator.setFaults({
        rateLimitRequest: { route: 'files/get_metadata', nth: 1 },
        retryAfterSeconds: 0.4,
      });
      const others: Promise<unknown>[] = [];
      const client: DropboxClient = clientFor(fixture.emulator, {
        upload: { maxAttempts: 3, backoffBaseMs: 5, backoffCapMs: 10 },
        // Another call starts while the client knows it is rate-limited.
        onRetry: () => others.push(client.listFolder('/')),
      });

      // Act
      await client.getFileMetadata('/x.pdf');
      await Promise.all(others);

      // Assess
      const log = fixture.emulator.requestLog;
      const limited = log.filter((entry) => entry.fault === 'rate-limit');
      expect(limited).toHaveLength(1);
      const answeredAt = limited[0]?.endedAt ?? Number.NaN;
      const [listing] = callsTo(log, 'files/list_folder');
      expect(listing?.startedAt).toBeGreaterThanOrEqual(answeredAt + 400);
      expect(callsTo(log, 'files/get_metadata').map((entry) => entry.status)).toEqual([429, 409]);
    });

    it.each([
      ['too_many_write_operations', false],
      ['too_many_requests', true],
    ])('after a 429 %s, holds back the whole client: %s', async (reason, holdsClient) => {
      // Prepare: the first files/upload is answered 429 with Retry-After: 1 (as Dropbox answers either)
      let refused = 0;
      const answering: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/files/upload') && refused === 0) {
          refused += 1;
          return Response.json(
            { error_summary: `${reason}/..`, error: { reason: { '.tag': reason }, retry_after: 1 } },
            { status: 429, headers: { 'Retry-After': '1' } },
          );
        }
        return transport(input, init);
      };
      const client = clientFor(fixture.emulator, { fetch: answering });
      const before = Date.now();

      // Act
      const file = await upload(client, '/Contended.bin', bytes(10));

      // Assess: the refused write waited its Retry-After in full either way
      expect(file.pathDisplay).toBe('/Contended.bin');
      const [uploaded] = callsTo(fixture.emulator.requestLog, 'files/upload');
      expect(uploaded?.startedAt).toBeGreaterThanOrEqual(before + 1000);
      expect(client.notBefore > 0).toBe(holdsClient);
    });

    it('gives up at once, carrying the wait, when the Retry-After ends past the deadline of the signal', async () => {
      // Prepare
      fixture.emulator.setFaults({
        rateLimitRequest: { route: 'files/get_metadata', nth: 1 },
        retryAfterSeconds: 5,
      });
      const client = clientFor(fixture.emulator, {
        upload: { maxAttempts: 6, backoffBaseMs: 5, backoffCapMs: 10 },
      });
      const deadline = () => withDeadline(new AbortController().signal, Date.now() + 1000);

      // Act
      const first = await rejection(client.getFileMetadata('/x.pdf', deadline()));
      const second = await rejection(client.listFolder('/', { signal: deadline() }));

      // Assess
      expect(first).toMatchObject({ code: 'dropbox-rate-limited', kind: 'transient', retryAfterMs: 5000 });
      expect(second).toMatchObject({
        code: 'dropbox-rate-limited',
        kind: 'transient',
        retryAfterMs: expect.toSatisfy((ms: number) => ms > 3000 && ms <= 5000),
      });
      expect(fixture.emulator.requestLog.filter((entry) => entry.route.startsWith('files/'))).toHaveLength(1);
    });

    it('backs off exponentially with jitter when a 429 gives no hint', async () => {
      // Prepare
      fixture.emulator.setFaults({ rate429WithoutRetryAfter: 1, routes: ['files/get_metadata'] });
      const retries: DropboxRetryInfo[] = [];
      const client = clientFor(fixture.emulator, {
        upload: { maxAttempts: 4, backoffBaseMs: 4, backoffCapMs: 100 },
        onRetry: (info) => retries.push(info),
      });

      // Act
      const error = await rejection(client.getFileMetadata('/x.pdf'));

      // Assess
      expect(error).toMatchObject({ code: 'dropbox-rate-limited', retryAfterMs: undefined });
      expect(retries.map((retry) => retry.delayMs)).toEqual([
        expect.toSatisfy((ms: number) => ms >= 2 && ms <= 4),
        expect.toSatisfy((ms: number) => ms >= 2 && ms <= 8),
        expect.toSatisfy((ms: number) => ms >= 2 && ms <= 16),
      ]);
    });

    it.each([
      [{ rate5xx: 1 }, 'dropbox-unavailable'],
      [{ rateReset: 1 }, 'dropbox-network'],
    ])('ends %o as transient %s after the tries are used up', async (faults, code) => {
      // Prepare
      fixture.emulator.setFaults({ ...faults, routes: ['files/upload'] });
      const client = clientFor(fixture.emulator, { upload: { maxAttempts: 3 } });

      // Act
      const error = await rejection(upload(client, '/x.bin', bytes(1000)));

      // Assess
      expect(error).toMatchObject({ kind: 'transient', code });
      expect(callsTo(fixture.emulator.requestLog, 'files/upload')).toHaveLength(3);
    });

    it('times a slow call out as dropbox-network and retries it', async () => {
      // Prepare
      const client = clientFor(fixture.emulator, { requestTimeoutMs: 100, upload: { maxAttempts: 2 } });
      await client.getCurrentAccount();
      fixture.emulator.setFaults({ latencyMs: 1000, routes: ['files/get_metadata'] });

      // Act
      const error = await rejection(client.getFileMetadata('/x.pdf'));

      // Assess
      expect(error).toMatchObject({ kind: 'transient', code: 'dropbox-network', status: 0 });
      expect(String((error as Error).message)).toBe('Dropbox files/get_metadata: network error (timeout)');
    });

    it('stops a call in flight when its signal aborts, rethrowing the abort reason', async () => {
      // Prepare
      const client = clientFor(fixture.emulator);
      await client.getCurrentAccount();
      fixture.emulator.setFaults({ latencyMs: 1000 });
      const controller = new AbortController();
      const reason = new Error('record deadline');

      // Act
      const pending = rejection(client.getFileMetadata('/x.pdf', controller.signal));
      setTimeout(() => controller.abort(reason), 20);
      const error = await pending;

      // Assess
      expect(error).toBe(reason);
    });

    it('recovers from a few faults on every route, the token endpoint included', async () => {
      // Prepare
      fixture.emulator.setFaults({
        rate429: 0.2,
        rate5xx: 0.2,
        rateReset: 0.2,
        retryAfterSeconds: 0.002,
        seed: 7,
      });
      const client = clientFor(fixture.emulator, { upload: { maxAttempts: 15 } });
      const data = bytes(5000);

      // Act
      const file = await upload(client, '/Recovered.bin', data);
      const account = await client.getCurrentAccount();

      // Assess
      expect(file.contentHash).toBe(referenceContentHash(data));
      expect(account.displayName).toBe('Emulator User');
    });
  });

  describe('tokens', () => {
    it('fails with dropbox-auth (account-wide) once the tokens are revoked, naming no secret', async () => {
      // Prepare
      const client = clientFor(fixture.emulator);
      await client.getCurrentAccount();
      fixture.emulator.revokeAllTokens();

      // Act
      const error = await rejection(client.getFileMetadata('/x.pdf'));

      // Assess
      expect(error).toMatchObject({ kind: 'account', code: 'dropbox-auth', endpoint: 'oauth2/token' });
      expect(String((error as Error).message)).toBe('Dropbox oauth2/token: invalid_grant');
      expect(JSON.stringify(error)).not.toContain(EMULATOR_CREDENTIALS.refreshToken);
      expect(callsTo(fixture.emulator.requestLog, 'oauth2/token')).toHaveLength(2);
    });

    it('retries a refresh that fails transiently after a 401, instead of giving up as dropbox-auth', async () => {
      // Prepare
      let tokenCalls = 0;
      const flaky: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/oauth2/token') && ++tokenCalls === 2) {
          throw new TypeError('fetch failed', {
            cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
          });
        }
        return fetch(input, init);
      };
      const client = clientFor(fixture.emulator, { fetch: flaky });
      await client.getCurrentAccount();
      fixture.emulator.expireAccessTokens();

      // Act
      const found = await client.getFileMetadata('/Nothing.pdf');

      // Assess
      expect(found).toBeNull();
      expect(tokenCalls).toBe(3);
      expect(callsTo(fixture.emulator.requestLog, 'oauth2/token')).toHaveLength(2);
    });

    it('fails with dropbox-auth for an unknown refresh token without retrying', async () => {
      // Prepare
      const client = clientFor(fixture.emulator, { refreshToken: 'not-a-token' });

      // Act
      const error = await rejection(client.getCurrentAccount());

      // Assess
      expect(error).toMatchObject({ kind: 'account', code: 'dropbox-auth', status: 400 });
      expect(callsTo(fixture.emulator.requestLog, 'oauth2/token')).toHaveLength(1);
    });

    it('revokes its token on revokeToken, after which calls fail as dropbox-auth', async () => {
      // Prepare
      const client = clientFor(fixture.emulator);
      await client.getCurrentAccount();

      // Act
      await client.revokeToken();
      const error = await rejection(client.getCurrentAccount());

      // Assess
      expect(callsTo(fixture.emulator.requestLog, 'auth/token/revoke').map((entry) => entry.status)).toEqual([
        200,
      ]);
      expect(error).toMatchObject({ kind: 'account', code: 'dropbox-auth' });
    });
  });

  describe('client cache', () => {
    afterEach(() => {
      clearDropboxClientCache();
    });

    it('reuses one client per endpoint, app key, refresh token and path root', () => {
      // Prepare
      const options = {
        credentials: { appKey: 'k', refreshToken: 'r', pathRoot: 'auto' as const },
        endpointUrl: fixture.emulator.url,
      };

      // Act
      const first = getDropboxClient(options);
      const again = getDropboxClient({ ...options });
      const otherToken = getDropboxClient({
        ...options,
        credentials: { ...options.credentials, refreshToken: 'r2' },
      });
      const otherRoot = getDropboxClient({
        ...options,
        credentials: { ...options.credentials, pathRoot: 'home' },
      });

      // Assess
      expect(again).toBe(first);
      expect(otherToken).not.toBe(first);
      expect(otherRoot).not.toBe(first);
      expect(first).toBeInstanceOf(DropboxClient);
    });
  });
});

describe('DropboxClient with a team account', () => {
  beforeEach(async () => {
    fixture = await startEmulator({ team: true });
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  it('sends the root header on every file call, so files land in the team space', async () => {
    // Prepare
    const client = clientFor(fixture.emulator, { upload: { singleUploadMaxBytes: 1000, chunkBytes: 1000 } });

    // Act
    await upload(client, '/Ticket Files/Small.pdf', bytes(10));
    await upload(client, '/Ticket Files/Large.pdf', bytes(2500));
    const found = await client.getFileMetadata('/Ticket Files/Small.pdf');
    await client.listFolder('/Ticket Files');

    // Assess
    const root = fixture.emulator.rootInfo().root_namespace_id;
    const fileCalls = fixture.emulator.requestLog.filter((entry) => entry.route.startsWith('files/'));
    expect(fileCalls.length).toBeGreaterThanOrEqual(6);
    expect(new Set(fileCalls.map((entry) => entry.pathRoot))).toEqual(
      new Set([JSON.stringify({ '.tag': 'root', root })]),
    );
    expect(found?.pathDisplay).toBe('/Ticket Files/Small.pdf');
    expect(await readExported(fixture.root, 'team', '/Ticket Files/Large.pdf')).toHaveLength(2500);
  });

  it('recovers once from 422 invalid_root after the root changed, then uses the new root', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    await upload(client, '/Before.pdf', bytes(10));
    fixture.emulator.changeTeamRoot();

    // Act
    const file = await upload(client, '/After.pdf', bytes(11));

    // Assess
    expect(file.pathDisplay).toBe('/After.pdf');
    const uploads = callsTo(fixture.emulator.requestLog, 'files/upload');
    expect(uploads.map((entry) => entry.status)).toEqual([200, 422, 200]);
    const newRoot = JSON.stringify({ '.tag': 'root', root: fixture.emulator.rootInfo().root_namespace_id });
    expect(uploads[2]?.pathRoot).toBe(newRoot);
    expect(await readExported(fixture.root, 'team', '/After.pdf')).toHaveLength(11);
  });

  it('fails as transient dropbox-invalid-root when the root changes again after the one re-read', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    await client.getCurrentAccount();
    let changes = 0;
    const changing: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/files/get_metadata') && changes < 2) {
        changes += 1;
        fixture.emulator.changeTeamRoot();
      }
      return fetch(input, init);
    };
    const flapping = clientFor(fixture.emulator, { fetch: changing });
    await flapping.getCurrentAccount();

    // Act
    const error = await rejection(flapping.getFileMetadata('/x.pdf'));

    // Assess
    expect(error).toMatchObject({ kind: 'transient', code: 'dropbox-invalid-root', status: 422 });
  });

  it('sends no root header with path root "home", so files land in the member folder', async () => {
    // Prepare
    const client = clientFor(fixture.emulator, { pathRoot: 'home' });

    // Act
    await upload(client, '/Mine.pdf', bytes(7));

    // Assess
    expect(fixture.emulator.requestLog.every((entry) => entry.pathRoot === undefined)).toBe(true);
    expect(callsTo(fixture.emulator.requestLog, 'users/get_current_account')).toHaveLength(0);
    expect(await readExported(fixture.root, 'home', '/Mine.pdf')).toHaveLength(7);
  });
});

describe('Dropbox OAuth for connect', () => {
  beforeEach(async () => {
    fixture = await startEmulator();
  });

  afterEach(async () => {
    await fixture.dispose();
  });

  it('creates a PKCE pair whose challenge is the S256 of the verifier', () => {
    // Act
    const { verifier, challenge } = createPkcePair();

    // Assess
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
  });

  it('builds an offline, S256 authorize URL with URL-encoded scopes', () => {
    // Act
    const url = new URL(
      buildAuthorizeUrl({ appKey: 'key', codeChallenge: 'challenge', scopes: REQUIRED_SCOPES }),
    );

    // Assess
    expect(url.origin + url.pathname).toBe('https://www.dropbox.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'key',
      response_type: 'code',
      token_access_type: 'offline',
      code_challenge: 'challenge',
      code_challenge_method: 'S256',
      scope:
        'account_info.read files.metadata.read files.metadata.write files.content.write files.content.read',
    });
    expect(url.search).toContain('scope=account_info.read%20files.metadata.read');
  });

  it('exchanges the code for a refresh token that works, and refuses a wrong verifier', async () => {
    // Prepare
    const pair = createPkcePair();
    const authorize = buildAuthorizeUrl({
      appKey: EMULATOR_CREDENTIALS.appKey,
      codeChallenge: pair.challenge,
      scopes: REQUIRED_SCOPES,
      endpointUrl: fixture.emulator.url,
    });
    const code = await (await fetch(authorize)).text();
    const wrongCode = await (await fetch(authorize)).text();

    // Act
    const connected = await exchangeAuthorizationCode({
      appKey: EMULATOR_CREDENTIALS.appKey,
      code: `${code}\n`,
      codeVerifier: pair.verifier,
      endpointUrl: fixture.emulator.url,
    });
    const refused = await rejection(
      exchangeAuthorizationCode({
        appKey: EMULATOR_CREDENTIALS.appKey,
        code: wrongCode,
        codeVerifier: createPkcePair().verifier,
        endpointUrl: fixture.emulator.url,
      }),
    );
    const account = await clientFor(fixture.emulator, {
      refreshToken: connected.refreshToken,
    }).getCurrentAccount();

    // Assess
    expect(connected.accountId).toBe(account.accountId);
    expect(refused).toMatchObject({ kind: 'account', code: 'dropbox-auth', errorSummary: 'invalid_grant' });
  });
});
