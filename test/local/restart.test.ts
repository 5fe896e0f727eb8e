/**
 * The local stack keeps working across a restart: `connect --local` stores a refresh token the Dropbox emulator issued,
 * and the next start (a new emulator process on the same folder) still exports with it, as Dropbox would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, createSsmClient } from '../../lib/aws/clients.ts';
import type { RecordFailure } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { type LocalStack, startLocalStack } from '../../tools/local/stack.ts';
import { startCliProcess } from '../cli/run-cli.ts';

let dir: string;
let home: string;
const stacks: LocalStack[] = [];

beforeAll(() => {
  // The function's JSON log lines would drown the test report; outcomes and failures are asserted instead.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  dir = mkdtempSync(join(tmpdir(), 'tds-restart-'));
  home = mkdtempSync(join(tmpdir(), 'tds-restart-home-'));
});

afterAll(async () => {
  for (const stack of stacks.splice(0)) await stack.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

/** Resolves with the first outcome or failure of `key`. */
function firstResultOf(key: string): {
  onOutcome: (outcome: SyncOutcome) => void;
  onFailure: (failure: RecordFailure) => void;
  result: Promise<unknown>;
} {
  let settle: (value: unknown) => void = () => undefined;
  const result = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  return {
    onOutcome: (outcome) => {
      if (outcome.key === key) settle(outcome);
    },
    onFailure: (failure) => {
      if (failure.key === key) settle(failure);
    },
    result,
  };
}

describe('the local stack across a restart', () => {
  it('exports the next upload after connect --local and a restart, with the refresh token connect stored', async () => {
    // Prepare: a stack, and `connect --local` through the emulator's authorize page. A stack sets its endpoints in
    // process.env; they are put back after the first one, as a new process would start without them.
    const savedEnv = { ...process.env };
    const first = await startLocalStack({ dir, poll: true });
    stacks.push(first);
    const env = { ...process.env, ...first.env, HOME: home, XDG_STATE_HOME: join(home, 'state') };
    const connecting = startCliProcess(['--local', 'connect', '--app-key', EMULATOR_CREDENTIALS.appKey], env);
    const [url] = await connecting.waitForStdout(/http:\/\/\S+\/oauth2\/authorize\?\S+/);
    const code = (await (await fetch(url)).text()).trim();
    connecting.child.stdin.end(`${code}\n`);
    const connected = await connecting.done();
    await first.close();
    stacks.splice(stacks.indexOf(first), 1);
    for (const name of Object.keys(first.env)) {
      const saved = savedEnv[name];
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }

    // Act: start again on the same folder and upload a file
    const watch = firstResultOf('tickets/3001/After restart.pdf');
    const second = await startLocalStack({
      dir,
      poll: true,
      onOutcome: watch.onOutcome,
      onFailure: watch.onFailure,
    });
    stacks.push(second);
    const stored = await createSsmClient({ env: second.env }).send(
      new GetParameterCommand({
        Name: `${second.outputs.SettingsPath}dropbox/refresh-token`,
        WithDecryption: true,
      }),
    );
    await createS3Client({ env: second.env }).send(
      new PutObjectCommand({
        Bucket: second.outputs.BucketName,
        Key: 'tickets/3001/After restart.pdf',
        Body: 'exported after a restart',
        Metadata: { 'ticket-type': 'service', 'ticket-id': '3001' },
      }),
    );
    const result = await watch.result;

    // Assess
    expect(connected.code, connected.stderr).toBe(0);
    expect(stored.Parameter?.Value).not.toBe(EMULATOR_CREDENTIALS.refreshToken);
    expect(result).toMatchObject({
      decision: 'exported',
      dropboxPath: '/Ticket Files/After restart.pdf',
    });
  });
});
