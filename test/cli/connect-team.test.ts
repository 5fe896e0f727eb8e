/**
 * `connect` against a Dropbox team account, run as a process: with `dropbox/path-root` `auto` the files go to the
 * team space root, and the write check lands there (the request carries `Dropbox-API-Path-Root`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DropboxEmulator, startDropboxEmulator } from '../../tools/emulators/dropbox/server.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { runCliProcess } from './run-cli.ts';

let dropbox: DropboxEmulator;
let harness: Harness;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tds-cli-team-'));
  dropbox = await startDropboxEmulator({ root: join(dir, 'dropbox'), team: true });
  harness = await startHarness({ dropboxEndpointUrl: dropbox.url });
  env = { ...process.env, ...harness.stack.env, HOME: dir, XDG_STATE_HOME: join(dir, 'state') };
});

afterAll(async () => {
  await harness?.close();
  await dropbox?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('connect with a Dropbox team account', () => {
  it('says the team space root is used, and the write check goes there', async () => {
    // Prepare
    const started = await runCliProcess(['connect', '--print-url'], { env });
    const url = /http:\/\/\S+\/oauth2\/authorize\?\S+/.exec(started.stdout)?.[0] ?? '';
    const code = (await (await fetch(url)).text()).trim();

    // Act
    const run = await runCliProcess(['connect', '--code', code, '--json'], { env });
    const writes = dropbox.requestLog.filter((entry) => entry.route === 'files/upload');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      connected: true,
      teamRootUsed: true,
      pathRoot: 'auto',
      writeCheck: { ok: true, path: '/Ticket Files/.ticket-dropbox-sync-check' },
    });
    expect(writes).toHaveLength(1);
    expect(writes[0]?.pathRoot).toMatch(/"\.tag":\s*"root"/);
    expect(run.stdout).not.toContain(code);
  });
});
