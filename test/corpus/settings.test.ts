/**
 * Each kind of invalid setting (DESIGN.md "Settings" and "Errors"): every record fails account-wide with an error
 * that names the parameter and its allowed values and never a secret's value; the circuit breaker stops the flow,
 * the records wait in the queue (never toward the DLQ), and once the admin fixes the value the breaker's probe
 * starts the flow again and they export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { PRINT } from './support.ts';

interface Case {
  readonly label: string;
  /** Parameters to set (a value) or delete (`undefined`) while the case runs. */
  readonly bad: Readonly<Record<string, string | undefined>>;
  readonly code: string;
  /** What the failure's message must say. */
  readonly says: readonly (string | RegExp)[];
  /** What it must never say (secret values). */
  readonly never?: readonly string[];
}

const SECRET_WITH_SPACE = 'sl.secret refresh value';
const SECRET_WITH_CONTROL = 'app-secret\u0007value';

const CASES: readonly Case[] = [
  {
    label: 'an export-by-status outside its values',
    bad: { 'export-by-status': 'sometimes' },
    code: 'invalid-settings',
    says: ['export-by-status', /non-final, final, all/, 'sometimes'],
  },
  {
    label: 'an export-to-single-folder outside its values',
    bad: { 'export-to-single-folder': 'maybe' },
    code: 'invalid-settings',
    says: ['export-to-single-folder', /yes, no/],
  },
  {
    label: 'a base-folder with a .. folder',
    bad: { 'base-folder': '/Ticket Files/../Elsewhere' },
    code: 'invalid-settings',
    says: ['base-folder', /"\." or "\.\."/],
  },
  {
    label: 'a base-folder holding a name Dropbox refuses',
    bad: { 'base-folder': '/Files/Thumbs.db' },
    code: 'invalid-settings',
    says: ['base-folder', 'Thumbs.db'],
  },
  {
    label: 'a base-folder with a backslash',
    bad: { 'base-folder': '/Files\\Proofs' },
    code: 'invalid-settings',
    says: ['base-folder', 'backslash'],
  },
  {
    label: 'a file-name-template with an unknown token',
    bad: { 'file-name-template': '{ticketNumber}-{fileName}' },
    code: 'invalid-settings',
    says: ['file-name-template', '{ticketNumber}', '{fileName}'],
  },
  {
    label: 'a blank file-name-template',
    bad: { 'file-name-template': '   ' },
    code: 'invalid-settings',
    says: ['file-name-template', 'must not be empty'],
  },
  {
    label: 'an on-conflict outside its values',
    bad: { 'on-conflict': 'replace' },
    code: 'invalid-settings',
    says: ['on-conflict', /rename, overwrite/],
  },
  {
    label: 'a dropbox/path-root outside its values',
    bad: { 'dropbox/path-root': 'team' },
    code: 'invalid-settings',
    says: ['dropbox/path-root', /auto, home/],
  },
  {
    label: 'a refresh token with whitespace in it',
    bad: { 'dropbox/refresh-token': SECRET_WITH_SPACE },
    code: 'invalid-settings',
    says: ['dropbox/refresh-token', 'whitespace'],
    never: [SECRET_WITH_SPACE, 'refresh value'],
  },
  {
    label: 'an app secret with a control character',
    bad: { 'dropbox/app-secret': SECRET_WITH_CONTROL },
    code: 'invalid-settings',
    says: ['dropbox/app-secret'],
    never: [SECRET_WITH_CONTROL, 'app-secret\u0007'],
  },
  {
    label: 'an app key without its refresh token',
    bad: { 'dropbox/refresh-token': undefined },
    code: 'invalid-settings',
    says: ['dropbox/refresh-token is missing', 'connect'],
  },
  {
    label: 'a refresh token without its app key',
    bad: { 'dropbox/app-key': undefined },
    code: 'invalid-settings',
    says: ['dropbox/app-key is missing', 'connect'],
    never: [EMULATOR_CREDENTIALS.refreshToken],
  },
  {
    label: 'no Dropbox connection at all',
    bad: {
      'dropbox/app-key': undefined,
      'dropbox/refresh-token': undefined,
      'dropbox/app-secret': undefined,
    },
    code: 'dropbox-not-connected',
    says: ['connect'],
  },
];

const GOOD: Readonly<Record<string, string | undefined>> = {
  'export-by-status': undefined,
  'export-to-single-folder': undefined,
  'base-folder': '/Settings',
  'file-name-template': undefined,
  'on-conflict': undefined,
  'dropbox/path-root': undefined,
  'dropbox/app-key': EMULATOR_CREDENTIALS.appKey,
  'dropbox/refresh-token': EMULATOR_CREDENTIALS.refreshToken,
  'dropbox/app-secret': EMULATOR_CREDENTIALS.appSecret,
};

describe('invalid settings', () => {
  let harness: Harness;
  let count = 0;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Settings' } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it.each(CASES)('fails every record account-wide on $label, and exports after the fix', async (testCase) => {
    // Prepare
    count += 1;
    for (const [name, value] of Object.entries(testCase.bad)) await harness.setSetting(name, value);
    const keys = [`tickets/s/${count}-a.pdf`, `tickets/s/${count}-b.pdf`];
    for (const key of keys) await harness.put(key, `file ${key}`, PRINT);

    // Act
    const failed = await harness.drain();
    const failures = harness.failures.slice(-2);
    const depthWhileBad = await harness.depth();
    const pausedWhileBad = harness.paused();
    const probedWhileBad = await harness.probe();
    for (const name of Object.keys(testCase.bad)) await harness.setSetting(name, GOOD[name]);
    const probedAfterFix = await harness.probe();
    const failedAfterFix = await harness.drain();

    // Assess: the breaker holds the flow, the records wait in the queue (requeued, never toward the DLQ), the
    // probe sees the bad setting as the records did, and the fix lets them through.
    expect(failed).toEqual([]);
    expect(depthWhileBad).toEqual({ queue: 2, dlq: 0 });
    expect(pausedWhileBad).toBe(true);
    expect(probedWhileBad).toMatchObject({
      action: 'kept',
      result: { status: 'unhealthy', code: testCase.code },
    });
    expect(probedAfterFix).toMatchObject({ action: 'released' });
    for (const failure of failures) {
      expect(failure).toMatchObject({ kind: 'account', code: testCase.code, route: 'requeue' });
      for (const expected of testCase.says) {
        if (typeof expected === 'string') expect(failure.message).toContain(expected);
        else expect(failure.message).toMatch(expected);
      }
      for (const secret of testCase.never ?? []) expect(failure.message).not.toContain(secret);
    }
    expect(failedAfterFix).toEqual([]);
    const exported = harness.outcomes.slice(-2).map((outcome) => [outcome.decision, outcome.dropboxPath]);
    expect(exported.sort()).toEqual(
      keys.map((key) => ['exported', `/Settings/${key.slice('tickets/s/'.length)}`]),
    );
  });
});
