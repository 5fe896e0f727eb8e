/**
 * Account-wide and persistent Dropbox failures (DESIGN.md "Errors"): a revoked refresh token and a full Dropbox fail
 * every record account-wide with a long backoff, and the records wait in the queue until the admin reconnects or
 * makes room; a team root that changed (422 `invalid_root`) is recovered once, within the call; a record that keeps
 * failing moves to the dead-letter queue after 5 receives, never lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import {
  buildAuthorizeUrl,
  createPkcePair,
  exchangeAuthorizationCode,
  REQUIRED_SCOPES,
} from '../../lib/dropbox/oauth.ts';
import { decodeS3Key } from '../../lib/s3-event.ts';
import { ACCOUNT_BACKOFF } from '../../lib/sqs-record.ts';
import {
  type DropboxEmulator,
  EMULATOR_CREDENTIALS,
  startDropboxEmulator,
} from '../../tools/emulators/dropbox/server.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { PRINT } from './support.ts';

/** The redrive policy of the local stack's queue, as the CDK stack sets it. */
const MAX_RECEIVE_COUNT = 5;

/** What `ticket-dropbox-sync connect` does, with the emulator approving at once: a new refresh token. */
async function reconnect(emulatorUrl: string): Promise<string> {
  const pkce = createPkcePair();
  const url = buildAuthorizeUrl({
    appKey: EMULATOR_CREDENTIALS.appKey,
    codeChallenge: pkce.challenge,
    scopes: REQUIRED_SCOPES,
    endpointUrl: emulatorUrl,
  });
  const code = await (await fetch(url)).text();
  const { refreshToken } = await exchangeAuthorizationCode({
    appKey: EMULATOR_CREDENTIALS.appKey,
    code,
    codeVerifier: pkce.verifier,
    endpointUrl: emulatorUrl,
  });
  return refreshToken;
}

describe('account-wide Dropbox failures', () => {
  let harness: Harness;
  let emulator: DropboxEmulator;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Account' } });
    const started = harness.stack.dropbox;
    if (started === undefined) throw new Error('the harness runs its own Dropbox emulator');
    emulator = started;
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(() => {
    emulator.setFaults({});
    emulator.setInsufficientSpace(false);
  });

  it('fails every record account-wide after the refresh token is revoked, and exports them after a reconnect', async () => {
    // Prepare
    await harness.put('tickets/a/before.pdf', 'before the revoke', PRINT);
    await harness.drain();
    emulator.revokeAllTokens();
    await harness.put('tickets/a/one.pdf', 'one', PRINT);
    await harness.put('tickets/a/two.pdf', 'two', PRINT);

    // Act
    const failed = await harness.drain();
    const failures = harness.failures.slice(-2);
    const depthWhileRevoked = await harness.depth();
    const refreshToken = await reconnect(emulator.url);
    await harness.setSetting('dropbox/refresh-token', refreshToken);
    await harness.redeliver(failed);
    const failedAfterReconnect = await harness.drain();

    // Assess
    expect(failed).toHaveLength(2);
    expect(depthWhileRevoked).toEqual({ queue: 2, dlq: 0 });
    for (const failure of failures) {
      expect(failure).toMatchObject({ kind: 'account', code: 'dropbox-auth' });
      expect(failure.retryInSeconds).toBeGreaterThanOrEqual(ACCOUNT_BACKOFF.baseMs / 2 / 1000);
      expect(failure.message).not.toContain(EMULATOR_CREDENTIALS.refreshToken);
      expect(failure.message).not.toContain(EMULATOR_CREDENTIALS.appSecret);
    }
    expect(failedAfterReconnect).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
    const reconnected = new DropboxClient({
      credentials: { appKey: EMULATOR_CREDENTIALS.appKey, refreshToken, pathRoot: 'auto' },
      endpointUrl: emulator.url,
    });
    const files = await reconnected.listFolder('/Account');
    expect(files.map((file) => file.name).sort()).toEqual(['before.pdf', 'one.pdf', 'two.pdf']);
  });

  it('fails every record account-wide while Dropbox is full, and exports them once there is room', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Account full');
    emulator.setInsufficientSpace(true);
    await harness.put('tickets/a/full-1.pdf', 'no room for me', PRINT);
    await harness.put('tickets/a/full-2.pdf', 'nor for me', PRINT);

    // Act
    const failed = await harness.drain();
    const failures = harness.failures.slice(-2);
    emulator.setInsufficientSpace(false);
    await harness.redeliver(failed);
    const failedWithRoom = await harness.drain();

    // Assess
    await harness.setSetting('base-folder', '/Account');
    expect(failed).toHaveLength(2);
    for (const failure of failures) {
      expect(failure).toMatchObject({ kind: 'account', code: 'dropbox-insufficient-space' });
      expect(failure.retryInSeconds).toBeGreaterThanOrEqual(ACCOUNT_BACKOFF.baseMs / 2 / 1000);
    }
    expect(failedWithRoom).toEqual([]);
    expect(harness.outcomes.slice(-2).map((outcome) => outcome.decision)).toEqual(['exported', 'exported']);
  });

  it('moves a record that fails 5 times to the dead-letter queue, with its S3 event intact', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Account dlq');
    emulator.setFaults({ rate5xx: 1 });
    await harness.put('tickets/a/poison.pdf', 'Dropbox is down for this one', PRINT);

    // Act
    const depths: { queue: number; dlq: number }[] = [];
    for (let receive = 1; receive <= MAX_RECEIVE_COUNT; receive += 1) {
      const failed = await harness.drain();
      expect(failed).toHaveLength(1);
      depths.push(await harness.depth());
      await harness.redeliver(failed);
    }
    const afterLimit = await harness.drain();
    const dlq = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: harness.stack.outputs.DeadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
      }),
    );

    // Assess
    await harness.setSetting('base-folder', '/Account');
    expect(depths).toEqual(Array(MAX_RECEIVE_COUNT).fill({ queue: 1, dlq: 0 }));
    expect(harness.failures.slice(-MAX_RECEIVE_COUNT).map((failure) => [failure.kind, failure.code])).toEqual(
      Array(MAX_RECEIVE_COUNT).fill(['transient', 'dropbox-unavailable']),
    );
    expect(afterLimit).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 1 });
    const moved = dlq.Messages ?? [];
    expect(moved).toHaveLength(1);
    const body: unknown = JSON.parse(moved[0]?.Body ?? '{}');
    expect(body).toMatchObject({ Records: [{ eventName: 'ObjectCreated:Put' }] });
    const record = (body as { Records: { s3: { object: { key: string } } }[] }).Records[0];
    expect(decodeS3Key(record?.s3.object.key ?? '')).toBe('tickets/a/poison.pdf');
  });
});

describe('a team root that changed', () => {
  let harness: Harness;
  let emulator: DropboxEmulator;
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tds-team-'));
    emulator = await startDropboxEmulator({ root, team: true });
    harness = await startHarness({ settings: { 'base-folder': '/Team' }, dropboxEndpointUrl: emulator.url });
  });
  afterAll(async () => {
    await harness?.close();
    await emulator?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reads the root again once after 422 invalid_root, and the record exports on its first receive', async () => {
    // Prepare
    await harness.put('tickets/t/before.pdf', 'before the change', PRINT);
    expect(await harness.drain()).toEqual([]);
    const failuresBefore = harness.failures.length;
    emulator.changeTeamRoot();
    const logStart = emulator.requestLog.length;
    await harness.put('tickets/t/after.pdf', 'after the change', PRINT);

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(harness.failures.length).toBe(failuresBefore);
    expect(harness.outcomes.at(-1)).toMatchObject({ decision: 'exported', dropboxPath: '/Team/after.pdf' });
    const statuses = emulator.requestLog.slice(logStart).map((entry) => entry.status);
    expect(statuses.filter((status) => status === 422)).toHaveLength(1);
    expect(statuses.at(-1)).toBe(200);
  });
});
