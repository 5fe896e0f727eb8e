/**
 * Account-wide and persistent Dropbox failures (DESIGN.md "Errors"): a revoked refresh token and a full Dropbox fail
 * every record account-wide; the circuit breaker stops the flow, the records wait in the queue without ever counting
 * toward the DLQ, and the flow starts again after `connect`, or by itself once the probe finds room; a team root
 * that changed (422 `invalid_root`) is recovered once, within the call; a record that keeps failing transiently
 * moves to the dead-letter queue after 5 receives, never lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/aws/clients.ts';
import { createDynamoDbFlowControlStore } from '../../lib/aws/dynamodb-flow-control.ts';
import { decodeS3Key } from '../../lib/s3-event.ts';
import {
  type DropboxEmulator,
  EMULATOR_CREDENTIALS,
  startDropboxEmulator,
} from '../../tools/emulators/dropbox/server.ts';
import { runCliProcess, startCliProcess } from '../cli/run-cli.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { PRINT } from './support.ts';

/** The redrive policy of the local stack's queue, as the CDK stack sets it. */
const MAX_RECEIVE_COUNT = 5;

/** Lets the time pass that a requeued copy waits (`ACCOUNT_RETRY_DELAY_SECONDS` 1 here) before it is received. */
const COPY_DELAY_MS = 1100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits, a second at a time, until `done()`; false when it never happened within `seconds`. */
async function waitUntil(done: () => boolean, seconds: number): Promise<boolean> {
  for (let waited = 0; waited < seconds; waited += 1) {
    if (done()) return true;
    await sleep(1000);
  }
  return done();
}

describe('account-wide Dropbox failures', () => {
  let harness: Harness;
  let emulator: DropboxEmulator;
  let home: string;
  let cliEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    harness = await startHarness({
      settings: { 'base-folder': '/Account' },
      // The probe runs every second here (every 5 minutes by default), and a requeued copy waits 1 s (minutes).
      breakerProbeSeconds: 1,
      functionEnv: { ACCOUNT_RETRY_DELAY_SECONDS: '1' },
    });
    const started = harness.stack.dropbox;
    if (started === undefined) throw new Error('the harness runs its own Dropbox emulator');
    emulator = started;
    home = await mkdtemp(join(tmpdir(), 'tds-account-home-'));
    // The CLI as an operator runs it against this local stack; HOME keeps its pending connect out of the real one.
    cliEnv = { ...process.env, ...harness.stack.env, HOME: home, XDG_STATE_HOME: join(home, 'state') };
  });
  afterAll(async () => {
    await harness?.close();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });
  beforeEach(() => {
    emulator.setFaults({});
    emulator.setInsufficientSpace(false);
  });

  it('holds a revoked token for longer than five receive cycles with DLQ 0, and exports every file after `connect`, without `redrive`', async () => {
    // Prepare
    await harness.put('tickets/a/before.pdf', 'before the revoke', PRINT);
    expect(await harness.drain()).toEqual([]);
    emulator.revokeAllTokens();
    await harness.put('tickets/a/one.pdf', 'one', PRINT);
    await harness.put('tickets/a/two.pdf', 'two', PRINT);

    // Act: the breaker opens on the first failure; the flow is then let through seven times more while the token
    // is still revoked (as a probe's trial or a slow disable would), well past the queue's 5 receives.
    const failedFirst = await harness.drain();
    const pausedAfterFirst = harness.paused();
    for (let cycle = 0; cycle < 7; cycle += 1) {
      await sleep(COPY_DELAY_MS);
      await harness.drain({ ignorePause: true });
    }
    const failures = harness.failures.filter((failure) => failure.key !== 'tickets/a/before.pdf');
    const depthWhileRevoked = await harness.depth();
    const status = await runCliProcess(['status'], { env: cliEnv });
    const connecting = startCliProcess(['connect'], cliEnv);
    const [url] = await connecting.waitForStdout(/http:\/\/\S+\/oauth2\/authorize\?\S+/);
    connecting.child.stdin.end(`${await (await fetch(url)).text()}\n`);
    const connected = await connecting.done();
    const pausedAfterConnect = harness.paused();
    const controlAfterConnect = await createDynamoDbFlowControlStore({
      client: createDynamoDbClient({ env: harness.stack.env }),
      tableName: harness.stack.outputs.LedgerTableName,
    }).read();
    await sleep(COPY_DELAY_MS);
    const failedAfterConnect = await harness.drain();

    // Assess
    expect(failedFirst).toEqual([]);
    expect(pausedAfterFirst).toBe(true);
    expect(failures.length).toBeGreaterThanOrEqual(2 * 6);
    for (const failure of failures) {
      expect(failure).toMatchObject({ kind: 'account', code: 'dropbox-auth', route: 'requeue' });
      expect(failure.message).not.toContain(EMULATOR_CREDENTIALS.refreshToken);
      expect(failure.message).not.toContain(EMULATOR_CREDENTIALS.appSecret);
    }
    expect(depthWhileRevoked).toEqual({ queue: 2, dlq: 0 });
    expect(status.stdout).toMatch(/Flow: +paused by the breaker since \S+: dropbox-auth: /);
    expect(connected.code, connected.stderr).toBe(0);
    // connect lifts the breaker once the new token is saved, unless the probe (every second here) saw the healthy
    // account in between and lifted it first
    expect(controlAfterConnect.holder).toBe('none');
    if (controlAfterConnect.updatedBy !== 'probe') {
      expect(connected.stdout).toContain('The circuit breaker was open: the flow runs again.');
    }
    expect(pausedAfterConnect).toBe(false);
    expect(failedAfterConnect).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
    const exported = harness.outcomes.filter((outcome) => outcome.decision === 'exported');
    expect(exported.map((outcome) => outcome.dropboxPath).sort()).toEqual([
      '/Account/before.pdf',
      '/Account/one.pdf',
      '/Account/two.pdf',
    ]);
  });

  it('holds the flow while Dropbox is full, and the probe starts it again by itself once there is room', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Account full');
    emulator.setInsufficientSpace(true);
    await harness.put('tickets/a/full-1.pdf', 'no room for me', PRINT);
    await harness.put('tickets/a/full-2.pdf', 'nor for me', PRINT);

    // Act
    const failed = await harness.drain();
    const failures = harness.failures.slice(-2);
    await sleep(2500);
    const whileFull = await runCliProcess(['status', '--json'], { env: cliEnv });
    const stillPaused = harness.paused();
    emulator.setInsufficientSpace(false);
    const resumed = await waitUntil(() => !harness.paused(), 30);
    await sleep(COPY_DELAY_MS);
    const failedWithRoom = await harness.drain();

    // Assess
    await harness.setSetting('base-folder', '/Account');
    expect(failed).toEqual([]);
    for (const failure of failures) {
      expect(failure).toMatchObject({
        kind: 'account',
        code: 'dropbox-insufficient-space',
        route: 'requeue',
      });
    }
    expect(JSON.parse(whileFull.stdout)).toMatchObject({
      flow: {
        state: 'paused',
        holder: 'breaker',
        reason: { code: 'dropbox-insufficient-space' },
        lastProbe: { status: 'unhealthy', code: 'dropbox-insufficient-space' },
      },
    });
    expect(stillPaused).toBe(true);
    expect(resumed).toBe(true);
    expect(failedWithRoom).toEqual([]);
    expect(harness.outcomes.slice(-2).map((outcome) => outcome.decision)).toEqual(['exported', 'exported']);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
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
