/**
 * Which Dropbox credentials the local stack stores at start: the real ones given to a `DROPBOX_REAL=1` run win over
 * whatever an earlier run stored, and a run on the emulator after it goes back to the emulator's, with no trace of
 * the real ones left in the local SSM file. A `connect --local` token stays (test/local/restart.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSsmClient } from '../../lib/aws/clients.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { type LocalStackOptions, startLocalStack } from '../../tools/local/stack.ts';

const REAL = {
  DROPBOX_APP_KEY: 'realappkey0123',
  DROPBOX_REFRESH_TOKEN: 'Hq3vT9xWkA0AAAAAAAAAAbYz7_Lp2Rm4Nc8sJd-QeUf5GhKo1iVtXw6yBnCaZ0Ml',
  DROPBOX_APP_SECRET: 'realappsecret9876',
};

let dir: string;
const savedEnv = { ...process.env };

beforeAll(() => {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  dir = mkdtempSync(join(tmpdir(), 'tds-credentials-'));
});

afterEach(() => {
  // A stack sets its endpoints in process.env, and a real run reads its credentials from there: a new run starts clean.
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the stack without its poller (no Dropbox call), and returns the Dropbox parameters it stored. */
async function storedCredentials(options: Partial<LocalStackOptions>): Promise<Record<string, string>> {
  const stack = await startLocalStack({ dir, poll: false, ledger: 'memory', ...options });
  try {
    const answer = await createSsmClient({ env: stack.env }).send(
      new GetParametersByPathCommand({
        Path: `${stack.outputs.SettingsPath}dropbox`,
        WithDecryption: true,
      }),
    );
    return Object.fromEntries(
      (answer.Parameters ?? []).map((parameter) => [
        parameter.Name?.split('/').at(-1) ?? '',
        parameter.Value ?? '',
      ]),
    );
  } finally {
    await stack.close();
  }
}

describe('the Dropbox credentials the local stack stores', () => {
  it('stores the real ones given after a run on the emulator, and the emulator’s again on the next run without them', async () => {
    // Prepare: a first run on the emulator stores its test credentials.
    const emulatorRun = await storedCredentials({});

    // Act: a real-Dropbox run, then one with PKCE credentials (no app secret), then a run on the emulator again.
    Object.assign(process.env, REAL);
    const realRun = await storedCredentials({ dropboxEndpointUrl: null });
    Object.assign(process.env, REAL, { DROPBOX_APP_SECRET: '' });
    const pkceRun = await storedCredentials({ dropboxEndpointUrl: null });
    delete process.env.DROPBOX_APP_KEY;
    delete process.env.DROPBOX_REFRESH_TOKEN;
    delete process.env.DROPBOX_APP_SECRET;
    const emulatorAgain = await storedCredentials({});

    // Assess
    const emulator = {
      'app-key': EMULATOR_CREDENTIALS.appKey,
      'app-secret': EMULATOR_CREDENTIALS.appSecret,
      'refresh-token': EMULATOR_CREDENTIALS.refreshToken,
    };
    expect(emulatorRun).toEqual(emulator);
    expect(realRun).toEqual({
      'app-key': REAL.DROPBOX_APP_KEY,
      'app-secret': REAL.DROPBOX_APP_SECRET,
      'refresh-token': REAL.DROPBOX_REFRESH_TOKEN,
    });
    expect(pkceRun).toEqual({ 'app-key': REAL.DROPBOX_APP_KEY, 'refresh-token': REAL.DROPBOX_REFRESH_TOKEN });
    expect(emulatorAgain).toEqual(emulator);
    const ssmFile = readFileSync(join(dir, 'ssm.json'), 'utf8');
    expect(ssmFile).not.toContain(REAL.DROPBOX_REFRESH_TOKEN);
    expect(ssmFile).not.toContain(REAL.DROPBOX_APP_SECRET);
  });
});
