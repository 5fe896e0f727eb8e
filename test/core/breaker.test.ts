/**
 * The circuit breaker (lib/breaker.ts) on its real adapters: the control item in a dynalite table through the
 * DynamoDB adapter, and the local pause file as the flow switch. A trip stops the flow and says why; the probe
 * releases only a hold the breaker made, once the account is healthy, and never loses a trip it has not seen.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/aws/clients.ts';
import { createDynamoDbFlowControlStore } from '../../lib/aws/dynamodb-flow-control.ts';
import {
  type AccountCheck,
  createCircuitBreaker,
  type FlowControlStore,
  type FlowSwitch,
  type ProbeResult,
  releaseFlow,
  runProbe,
} from '../../lib/breaker.ts';
import { createFileFlowSwitch } from '../../lib/file-flow-switch.ts';
import { type LocalLedger, startLocalLedger } from '../../tools/local/ledger.ts';

const TRIP = { code: 'dropbox-auth', message: 'oauth2/token: invalid_grant', object: 's3://b/tickets/a.pdf' };
const HEALTHY: ProbeResult = { status: 'healthy', code: 'healthy', message: 'fine' };
const FULL: ProbeResult = {
  status: 'unhealthy',
  code: 'dropbox-insufficient-space',
  message: 'Dropbox is full',
};

describe('the circuit breaker on the control item and the pause file', () => {
  let ledger: LocalLedger;
  let dir: string;
  let count = 0;
  let store: FlowControlStore;
  let flow: FlowSwitch;
  let pauseFile: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tds-breaker-'));
    ledger = await startLocalLedger({ tableName: 'breaker-test', region: 'us-east-1' });
  });
  afterAll(async () => {
    await ledger?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // One control item for the file: each test starts with nobody holding the flow and a pause file of its own.
    count += 1;
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: ledger.url,
      AWS_REGION: 'us-east-1',
    };
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    store = createDynamoDbFlowControlStore({
      client: createDynamoDbClient({ env }),
      tableName: 'breaker-test',
    });
    await store.setHolder('none', 'test', new Date());
    pauseFile = join(dir, `paused-${count}`);
    flow = createFileFlowSwitch(pauseFile);
  });

  const check =
    (result: ProbeResult): AccountCheck =>
    async () =>
      result;

  it('stops the flow on a trip, says why and since when, and counts later trips without moving that time', async () => {
    // Prepare
    const breaker = createCircuitBreaker({ store, flow });
    const before = await store.read();

    // Act
    await Promise.all([breaker.trip(TRIP), breaker.trip(TRIP)]);
    const opened = await store.read();
    await breaker.trip({ ...TRIP, object: 's3://b/tickets/b.pdf' });
    const again = await store.read();

    // Assess
    expect(opened).toMatchObject({
      holder: 'breaker',
      reason: {
        code: 'dropbox-auth',
        message: 'oauth2/token: invalid_grant',
        object: 's3://b/tickets/a.pdf',
      },
    });
    expect(opened.trips).toBe(before.trips + 1);
    expect(readFileSync(pauseFile, 'utf8')).toBe(
      `paused by the breaker since ${opened.since}: dropbox-auth: oauth2/token: invalid_grant\n`,
    );
    expect(again).toMatchObject({ holder: 'breaker', since: opened.since, trips: opened.trips + 1 });
  });

  it('keeps the breaker open while the account is unhealthy, and releases it once healthy', async () => {
    // Prepare
    await createCircuitBreaker({ store, flow }).trip(TRIP);

    // Act
    const whileFull = await runProbe({ store, flow, checkAccount: check(FULL) });
    const pausedWhileFull = existsSync(pauseFile);
    const once = await runProbe({ store, flow, checkAccount: check(HEALTHY) });

    // Assess
    expect(whileFull).toEqual({ holder: 'breaker', action: 'kept', result: FULL });
    expect(pausedWhileFull).toBe(true);
    expect(once).toEqual({ holder: 'none', action: 'released', result: HEALTHY });
    expect(existsSync(pauseFile)).toBe(false);
    expect(await store.read()).toMatchObject({
      holder: 'none',
      updatedBy: 'probe',
      lastProbe: { status: 'healthy', code: 'healthy' },
    });
  });

  it("never touches an operator's pause: a trip counts but does not take it over, and the probe leaves it", async () => {
    // Prepare
    await flow.setEnabled(false, 'paused by ticket-dropbox-sync pause');
    await store.setHolder('operator', 'cli pause', new Date());

    // Act
    await createCircuitBreaker({ store, flow }).trip(TRIP);
    const probed = await runProbe({ store, flow, checkAccount: check(HEALTHY) });
    const heldBy = await releaseFlow(store, flow, 'cli connect', { onlyBreaker: true });

    // Assess
    expect(probed).toEqual({ holder: 'operator', action: 'none' });
    expect(heldBy).toBe('operator');
    expect((await store.read()).holder).toBe('operator');
    expect(readFileSync(pauseFile, 'utf8')).toBe('paused by ticket-dropbox-sync pause\n');
  });

  it('keeps the breaker when a record trips it again while the probe is switching the flow back on', async () => {
    // Prepare: the probe's look finds the account healthy, and a record trips the breaker during the look.
    const breaker = createCircuitBreaker({ store, flow });
    await breaker.trip(TRIP);
    const racing: AccountCheck = async () => {
      await breaker.trip({ ...TRIP, object: 's3://b/tickets/racing.pdf' });
      return HEALTHY;
    };

    // Act
    const outcome = await runProbe({ store, flow, checkAccount: racing });

    // Assess: the hold stays with the breaker, so the next run (or the next trip) settles the flow; it is never
    // left off with nobody holding it.
    expect(outcome).toMatchObject({ holder: 'breaker', action: 'kept' });
    expect((await store.read()).holder).toBe('breaker');
  });

  it('starts the flow at once for resume, whoever held it', async () => {
    // Prepare
    await createCircuitBreaker({ store, flow }).trip(TRIP);

    // Act
    const heldBy = await releaseFlow(store, flow, 'cli resume', { onlyBreaker: false });

    // Assess
    expect(heldBy).toBe('breaker');
    expect(existsSync(pauseFile)).toBe(false);
    expect(await store.read()).toMatchObject({ holder: 'none', updatedBy: 'cli resume' });
  });
});
