/**
 * The operator CLI, each command run as a real process (`node cli/main.ts …`) against a local stack started here:
 * s3rver behind the notifying proxy, the SSM and SQS emulators and the Dropbox emulator, with the function's own
 * handler run by the harness's `drain()`. Every output is kept and searched for the secret values at the end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand, ParameterNotFound, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDropboxClient } from '../../lib/dropbox/client.ts';
import { parseS3Message } from '../../lib/s3-event.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { type CliRun, runCliProcess, startCliProcess } from './run-cli.ts';

let harness: Harness;
let home: string;
let env: NodeJS.ProcessEnv;
/** Every output of every run, for the secret search. */
const runs: CliRun[] = [];
/** Secret values met during the tests (refresh tokens issued by `connect`, authorization codes). */
const secrets = new Set<string>([EMULATOR_CREDENTIALS.refreshToken, EMULATOR_CREDENTIALS.appSecret]);

async function cli(args: readonly string[], input?: string): Promise<CliRun> {
  const run = await runCliProcess(args, { env, input });
  runs.push(run);
  return run;
}

function json<T>(run: CliRun): T {
  return JSON.parse(run.stdout) as T;
}

async function readParameter(name: string): Promise<{ value: string; type: string } | null> {
  try {
    const result = await harness.ssm.send(
      new GetParameterCommand({ Name: `${harness.stack.outputs.SettingsPath}${name}`, WithDecryption: true }),
    );
    return { value: result.Parameter?.Value ?? '', type: result.Parameter?.Type ?? '' };
  } catch (error) {
    if (error instanceof ParameterNotFound) return null;
    throw error;
  }
}

/** Approves an authorization URL the way a person would; the emulator answers with the code Dropbox shows. */
async function approve(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const code = (await response.text()).trim();
  secrets.add(code);
  return code;
}

/** A port nothing listens on: taken from the system, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const bucketUrl = (key: string): string => `s3://${harness.stack.outputs.BucketName}/${key}`;

beforeAll(async () => {
  harness = await startHarness();
  home = mkdtempSync(join(tmpdir(), 'tds-cli-home-'));
  // The stack's env names the local stack (TICKET_DROPBOX_SYNC_LOCAL) and its endpoints; HOME keeps the pending
  // connect state of these runs out of the real home folder.
  env = { ...process.env, ...harness.stack.env, HOME: home, XDG_STATE_HOME: join(home, 'state') };
});

afterAll(async () => {
  await harness?.close();
  if (home !== undefined) rmSync(home, { recursive: true, force: true });
});

describe('ticket-dropbox-sync, run as a process against the local stack', () => {
  it('prints the help of the program and of every command, exiting 0', async () => {
    // Prepare
    const commands = [
      [],
      ['connect'],
      ['disconnect'],
      ['config'],
      ['config', 'show'],
      ['config', 'validate'],
      ['config', 'set'],
      ['config', 'unset'],
      ['explain'],
      ['backfill'],
      ['pause'],
      ['resume'],
      ['redrive'],
      ['status'],
      ['upload'],
      ['tag'],
    ];

    // Act
    const results = await Promise.all(commands.map((command) => cli([...command, '--help'])));

    // Assess
    results.forEach((run, index) => {
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        `Usage: ticket-dropbox-sync ${(commands[index] ?? []).join(' ')}`.trimEnd(),
      );
    });
    expect(results[0]?.stdout).toMatch(
      /--instance <name>[\s\S]*--local {2,}[\s\S]*--local-dir <dir>[\s\S]*--region <region>/,
    );
  });

  it('exits 2 with the usage line of the command when it is called wrongly', async () => {
    // Prepare
    const cases: { args: string[]; usage: string; message: RegExp }[] = [
      {
        args: ['bogus'],
        usage: 'ticket-dropbox-sync [options] [command]',
        message: /unknown command 'bogus'/,
      },
      {
        args: ['status', '--verbose'],
        usage: 'ticket-dropbox-sync status',
        message: /unknown option '--verbose'/,
      },
      {
        args: ['explain'],
        usage: 'ticket-dropbox-sync explain',
        message: /missing required argument 's3-url'/,
      },
      {
        args: ['explain', 'tickets/a.pdf'],
        usage: 'ticket-dropbox-sync explain',
        message: /s3:\/\/BUCKET\/KEY/,
      },
      {
        args: ['backfill', '--since', 'yesterday'],
        usage: 'ticket-dropbox-sync backfill',
        message: /ISO 8601/,
      },
      { args: ['backfill', '--concurrency', '0'], usage: 'ticket-dropbox-sync backfill', message: /1 to 64/ },
      {
        args: ['config', 'set', 'export-by-status'],
        usage: 'ticket-dropbox-sync config set',
        message: /missing/,
      },
      {
        args: ['config', 'set', 'colour', 'blue'],
        usage: 'ticket-dropbox-sync config set',
        message: /unknown setting "colour"/,
      },
      {
        args: ['connect', '--code', 'x', '--print-url'],
        usage: 'ticket-dropbox-sync connect',
        message: /exclude/,
      },
      {
        args: ['status', '--local-dir', '.', '--instance', 'prod'],
        usage: 'ticket-dropbox-sync status',
        message: /--local-dir and --instance exclude/,
      },
      {
        args: ['--local', 'status', '--instance', 'prod'],
        usage: 'ticket-dropbox-sync status',
        message: /--local and --instance exclude/,
      },
      {
        args: ['status', '--instance', 'Bad Name!'],
        usage: 'ticket-dropbox-sync status',
        message: /--instance must be 1 to 32 lowercase letters, digits or hyphens.*got "Bad Name!"/,
      },
      {
        args: ['backfill', '--prefix', '/tickets'],
        usage: 'ticket-dropbox-sync backfill',
        message: /no leading '\/'.*did you mean tickets\?/,
      },
      { args: ['config'], usage: 'ticket-dropbox-sync config', message: /Commands:/ },
    ];

    // Act
    const results = await Promise.all(cases.map((item) => cli(item.args)));

    // Assess
    results.forEach((run, index) => {
      const item = cases[index];
      expect(run.code, item?.args.join(' ')).toBe(2);
      expect(run.stderr).toContain(`Usage: ${item?.usage}`);
      expect(run.stderr).toMatch(item?.message ?? /./);
      expect(run.stdout).toBe('');
    });
  });

  it('shows every setting with its default, secrets only as set or not set', async () => {
    // Prepare: the local stack stores the emulator's app key, app secret and refresh token.

    // Act
    const [text, data] = await Promise.all([cli(['config', 'show']), cli(['config', 'show', '--json'])]);

    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/export-by-status\s+"non-final" \(default\)/);
    expect(text.stdout).toMatch(/dropbox\/refresh-token\s+set \(secret, not shown\)/);
    expect(text.stdout).toMatch(/dropbox\/app-key\s+"emulator-app-key"/);
    const settings = json<{
      settings: { name: string; set: boolean; value: string | null; effective: string | null }[];
    }>(data).settings;
    expect(settings.find((setting) => setting.name === 'base-folder')).toMatchObject({
      set: false,
      effective: '/Ticket Files',
    });
    expect(settings.find((setting) => setting.name === 'dropbox/refresh-token')).toMatchObject({
      set: true,
      value: null,
      effective: null,
    });
  });

  it('stores a valid setting, refuses an invalid one without writing, and reads a secret from stdin', async () => {
    // Prepare
    await harness.setSetting('export-by-status', undefined);

    // Act
    const spaced = await cli(['config', 'set', 'export-by-status', ' FINAL ']);
    const storedSpaced = await readParameter('export-by-status');
    const valid = await cli(['config', 'set', 'export-by-status', 'all']);
    const invalid = await cli(['config', 'set', 'export-by-status', 'finals']);
    const secret = await cli(
      ['config', 'set', 'dropbox/app-secret', '-'],
      `${EMULATOR_CREDENTIALS.appSecret}\n`,
    );

    // Assess: an enum value is stored in its own spelling (enums are case-insensitive and trimmed)
    expect(spaced.code).toBe(0);
    expect(spaced.stdout).toContain(
      'Set export-by-status = "final" under /ticket-dropbox-sync/default/ (given as " FINAL ").',
    );
    expect(storedSpaced).toMatchObject({ value: 'final', type: 'String' });
    expect(valid.code).toBe(0);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /export-by-status must be one of non-final, final, all.*Nothing was written/,
    );
    expect(await readParameter('export-by-status')).toMatchObject({ value: 'all', type: 'String' });
    expect(secret.code).toBe(0);
    expect(secret.stdout).toContain('SecureString, KMS key alias/ticket-dropbox-sync-local');
    expect(await readParameter('dropbox/app-secret')).toMatchObject({
      value: EMULATOR_CREDENTIALS.appSecret,
      type: 'SecureString',
    });
  });

  it('validates the stored settings and lists every problem with exit 1', async () => {
    // Prepare
    await harness.setSetting('on-conflict', 'sometimes');
    await harness.setSetting('file-name-template', '{fileName}-{colour}');

    // Act
    const [invalid, invalidJson] = await Promise.all([
      cli(['config', 'validate']),
      cli(['config', 'validate', '--json']),
    ]);
    await Promise.all([
      cli(['config', 'unset', 'on-conflict']),
      cli(['config', 'unset', 'file-name-template']),
    ]);
    const valid = await cli(['config', 'validate']);

    // Assess
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/on-conflict: on-conflict must be one of rename, overwrite/);
    expect(invalid.stdout).toMatch(/file-name-template: .*\{colour\}/);
    const report = json<{ valid: boolean; problems: { parameter: string }[] }>(invalidJson);
    expect(report.valid).toBe(false);
    expect(report.problems.map((problem) => problem.parameter).sort()).toEqual([
      'file-name-template',
      'on-conflict',
    ]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain('are valid');
  });

  it('explains a decision, its path and what Dropbox holds there, before and after the export', async () => {
    // Prepare
    await harness.setSetting('export-by-status', 'non-final');
    await harness.put('tickets/4711/Proof A.pdf', 'proof content', {
      'ticket-type': 'print',
      'ticket-id': '4711',
    });
    await harness.put('tickets/4711/notes.txt', 'not a ticket file');
    await harness.put('tickets/4711/Final.pdf', 'final content', {
      'ticket-type': 'print',
      'file-status': 'final',
    });

    // Act
    const before = await cli(['explain', bucketUrl('tickets/4711/Proof A.pdf'), '--json']);
    await harness.drain();
    const [after, skipped, missing, noBucket] = await Promise.all([
      cli(['explain', bucketUrl('tickets/4711/Proof A.pdf')]),
      cli(['explain', bucketUrl('tickets/4711/Final.pdf'), '--json']),
      cli(['explain', bucketUrl('tickets/4711/none.pdf')]),
      cli(['explain', 's3://no-bucket/x']),
    ]);

    // Assess
    expect(before.code).toBe(0);
    expect(json(before)).toMatchObject({
      decision: {
        export: true,
        reason: { code: 'non-final-file' },
        dropboxPath: '/Ticket Files/Proof A.pdf',
      },
      dropbox: { looked: true, file: null },
    });
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/Decision: +EXPORT \(non-final-file\)/);
    expect(after.stdout).toMatch(
      /Dropbox: +the ledger's file is \/Ticket Files\/Proof A\.pdf: 13 B \(13 bytes\).*content hash [0-9a-f]{64}/,
    );
    expect(after.stdout).toMatch(
      /Ledger: +exported \(non-final-file\)\nExported: +\/Ticket Files\/Proof A\.pdf\n/,
    );
    expect(after.stdout).toContain("at the decision's path: the ledger's file");
    expect(after.stdout).toContain(
      "Next:      already exported: Dropbox holds this version at /Ticket Files/Proof A.pdf (the ledger's file, found by its id)",
    );
    expect(json(skipped)).toMatchObject({
      decision: { export: false, reason: { code: 'final-excluded' }, dropboxPath: null },
      dropbox: { looked: false },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'tickets/4711/none.pdf does not exist: the bucket has no such key (404)',
    );
    expect(noBucket.code).toBe(1);
    expect(noBucket.stderr).toContain(
      "s3://no-bucket/x does not exist: the bucket no-bucket does not exist (404); the deployment's bucket is ticket-files",
    );
  });

  it('backfills only what qualifies, sends nothing on a dry run, and leaves one file when run twice', async () => {
    // Prepare: uploaded under export-by-status final (One and Two skipped, Done exported), then the setting
    // changes to non-final: the case a backfill is for
    await harness.setSetting('export-by-status', 'final');
    await harness.put('tickets/bf/One.pdf', 'one', { 'ticket-type': 'digital-ad' });
    await harness.put('tickets/bf/Two.pdf', 'two', { 'ticket-type': 'print' });
    await harness.put('tickets/bf/Done.pdf', 'done', {
      'ticket-type': 'digital-media',
      'file-status': 'ready-to-deliver',
    });
    await harness.put('tickets/bf/readme.txt', 'no metadata');
    await harness.drain();
    await harness.setSetting('export-by-status', 'non-final');
    const exportedBefore = await dropboxTree(harness.dropbox, '/Ticket Files');

    // Act
    const dryRun = await cli(['backfill', '--prefix', 'tickets/bf/', '--dry-run', '--json']);
    const depthAfterDryRun = await harness.depth();
    const [first, second] = await Promise.all([
      cli(['backfill', '--prefix', 'tickets/bf/']),
      cli(['backfill', '--prefix', 'tickets/bf/', '--json']),
    ]);
    const depthAfterTwo = await harness.depth();
    const received = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: harness.stack.outputs.QueueUrl,
        MaxNumberOfMessages: 1,
        VisibilityTimeout: 0,
      }),
    );
    await harness.drain();
    const exportedAfter = await dropboxTree(harness.dropbox, '/Ticket Files');
    const again = await cli(['backfill', '--prefix', 'tickets/bf/', '--json']);
    const future = await cli(['backfill', '--prefix', 'tickets/bf/', '--since', '2999-01-01', '--json']);

    // Assess
    expect(dryRun.code).toBe(0);
    expect(json(dryRun)).toMatchObject({
      dryRun: true,
      listed: 4,
      wouldExport: 2,
      enqueued: 0,
      skipped: { 'already-exported': 1, 'not-a-ticket-file': 1 },
      failed: 0,
    });
    expect(depthAfterDryRun.queue).toBe(0);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/would export: +2/);
    expect(first.stdout).toMatch(/sent to queue: +2/);
    expect(json(second)).toMatchObject({ enqueued: 2, failed: 0 });
    expect(depthAfterTwo.queue).toBe(4);
    const body = received.Messages?.[0]?.Body ?? '';
    const parsed = parseS3Message('m1', body);
    expect(parsed).toMatchObject({ kind: 'records', records: [{ eventName: 'ObjectCreated:Put' }] });
    const backfilled = (tree: Record<string, number>): string[] =>
      Object.keys(tree).filter((path) => /\/(One|Two|Done)( \(\d+\))?\.pdf$/.test(path));
    expect(backfilled(exportedBefore)).toEqual(['/Ticket Files/Done.pdf']);
    expect(backfilled(exportedAfter)).toEqual([
      '/Ticket Files/Done.pdf',
      '/Ticket Files/One.pdf',
      '/Ticket Files/Two.pdf',
    ]);
    expect(json(again)).toMatchObject({ wouldExport: 0, enqueued: 0, skipped: { 'already-exported': 3 } });
    expect(json(future)).toMatchObject({ listed: 4, olderThanSince: 4, wouldExport: 0, enqueued: 0 });
  });

  it('pauses and resumes the flow and reports it in the status', async () => {
    // Prepare
    const pauseFile = harness.stack.outputs.PauseFile;

    // Act
    const paused = await cli(['pause']);
    const pausedStatus = await cli(['status', '--json']);
    const pauseFileWhilePaused = existsSync(pauseFile);
    const resumed = await cli(['resume', '--json']);
    const status = await cli(['status']);

    // Assess
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('Paused the flow of local stack');
    expect(pauseFileWhilePaused).toBe(true);
    expect(json(pausedStatus)).toMatchObject({ flow: { state: 'paused' } });
    expect(json(resumed)).toMatchObject({ state: 'running' });
    expect(existsSync(pauseFile)).toBe(false);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Flow: +running/);
    expect(status.stdout).toMatch(/Dropbox: +connected as .+, writing to the home folder/);
  });

  it('reports queue depths, settings and a working Dropbox in the status', async () => {
    // Prepare
    await harness.sqs.send(
      new SendMessageCommand({
        QueueUrl: harness.stack.outputs.DeadLetterQueueUrl,
        MessageBody: '{"Records":[]}',
      }),
    );

    // Act
    const run = await cli(['status', '--json']);
    await cli(['redrive']);
    await harness.drain();

    // Assess
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({
      deployment: { kind: 'local' },
      queue: { visible: 0, oldestMessageAgeSeconds: null },
      deadLetterQueue: { visible: 1 },
      settings: { valid: true, rules: { exportByStatus: 'non-final', baseFolder: '/Ticket Files' } },
      dropbox: { credentialsSet: true, works: true, teamRootUsed: false },
    });
  });

  it('moves the dead letters back to the queue and reports how many', async () => {
    // Prepare
    const dlq = harness.stack.outputs.DeadLetterQueueUrl;
    for (const key of ['tickets/4711/Proof A.pdf', 'tickets/bf/One.pdf', 'tickets/bf/Two.pdf']) {
      const body = buildS3Notification([
        { eventName: 'ObjectCreated:Put', bucket: harness.stack.outputs.BucketName, key },
      ]);
      await harness.sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: body }));
    }

    // Act
    const run = await cli(['redrive', '--json']);
    const depth = await harness.depth();
    const again = await cli(['redrive']);
    await harness.drain();

    // Assess
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ method: 'receive-send-delete', moved: 3, failed: 0 });
    expect(depth).toEqual({ queue: 3, dlq: 0 });
    expect(again.stdout).toContain('Moved 0 message(s)');
  });

  it('connects Dropbox end to end: URL, pasted code, SecureString, account check and write check', async () => {
    // Prepare
    const connecting = startCliProcess(['connect', '--app-key', EMULATOR_CREDENTIALS.appKey], env);

    // Act
    const [url] = await connecting.waitForStdout(/http:\/\/\S+\/oauth2\/authorize\?\S+/);
    const code = await approve(url);
    connecting.child.stdin.end(`${code}\n`);
    const run = await connecting.done();
    runs.push(run);
    const stored = await readParameter('dropbox/refresh-token');
    if (stored !== null) secrets.add(stored.value);
    const marker = await harness.dropbox.getFileMetadata('/Ticket Files/.ticket-dropbox-sync-check');
    const status = await cli(['status', '--json']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(url).toContain('code_challenge_method=S256');
    expect(url).toContain('token_access_type=offline');
    expect(url).toContain('scope=account_info.read%20files.metadata.read');
    expect(run.stdout).toMatch(/Connected the Dropbox account .+ <.+@.+>\./);
    expect(run.stdout).toContain('Files go to the home folder (dropbox/path-root auto)');
    expect(run.stdout).toContain('Write check: wrote /Ticket Files/.ticket-dropbox-sync-check');
    expect(stored).toMatchObject({ type: 'SecureString' });
    expect(stored?.value).not.toBe(EMULATOR_CREDENTIALS.refreshToken);
    expect(marker?.size).toBeGreaterThan(0);
    expect(json(status)).toMatchObject({ dropbox: { credentialsSet: true, works: true } });
  });

  it('connects in two steps with --print-url and --code (the app secret from stdin), and refuses a code nobody asked for', async () => {
    // Prepare
    const unasked = await cli(['connect', '--code', 'made-up-code']);

    // Act: the emulator refuses the code exchange unless the secret read from stdin is the app's.
    const started = await cli(['connect', '--print-url']);
    const url = /http:\/\/\S+\/oauth2\/authorize\?\S+/.exec(started.stdout)?.[0] ?? '';
    const code = await approve(url);
    const finished = await cli(
      ['connect', '--code', code, '--app-secret', '-', '--json'],
      `${EMULATOR_CREDENTIALS.appSecret}\n`,
    );
    const stored = await readParameter('dropbox/refresh-token');
    if (stored !== null) secrets.add(stored.value);
    const storedSecret = await readParameter('dropbox/app-secret');
    const reused = await cli(['connect', '--code', code]);

    // Assess
    expect(unasked.code).toBe(1);
    expect(unasked.stderr).toContain('run `connect --print-url`');
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('connect --code CODE');
    expect(finished.code, finished.stderr).toBe(0);
    expect(json(finished)).toMatchObject({ connected: true, teamRootUsed: false, writeCheck: { ok: true } });
    expect(storedSecret).toEqual({ value: EMULATOR_CREDENTIALS.appSecret, type: 'SecureString' });
    expect(reused.code).toBe(1);
  });

  it('disconnects: revokes the token in Dropbox and removes it from the settings', async () => {
    // Prepare
    const token = (await readParameter('dropbox/refresh-token'))?.value ?? '';

    // Act
    const run = await cli(['disconnect']);
    const stored = await readParameter('dropbox/refresh-token');
    const [status, validate, again] = await Promise.all([
      cli(['status', '--json']),
      cli(['config', 'validate']),
      cli(['disconnect']),
    ]);
    const revokedClient = getDropboxClient({
      credentials: { appKey: EMULATOR_CREDENTIALS.appKey, refreshToken: token, pathRoot: 'home' },
      endpointUrl: harness.stack.env.DROPBOX_ENDPOINT_URL,
    });

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Revoked the Dropbox token; removed dropbox/refresh-token');
    expect(stored).toBeNull();
    expect(json(status)).toMatchObject({ dropbox: { credentialsSet: false, works: null } });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain('dropbox/refresh-token is missing');
    expect(again.stdout).toContain('not connected');
    await expect(revokedClient.getCurrentAccount()).rejects.toMatchObject({ code: 'dropbox-auth' });
  });

  it('finds the local stack from --local-dir DIR without the environment variable', async () => {
    // Prepare
    const { TICKET_DROPBOX_SYNC_LOCAL: dir, ...withoutLocal } = env;
    await harness.ssm.send(
      new PutParameterCommand({
        Name: `${harness.stack.outputs.SettingsPath}dropbox/refresh-token`,
        Value: EMULATOR_CREDENTIALS.refreshToken,
        Type: 'SecureString',
        Overwrite: true,
      }),
    );

    // Act
    const run = await runCliProcess(['status', '--local-dir', dir ?? '', '--json'], { env: withoutLocal });
    runs.push(run);

    // Assess
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ deployment: { kind: 'local' }, dropbox: { works: true } });
  });

  it('uploads a file with the upload contract metadata and tags, then replaces its tags, as the ticket system does', async () => {
    // Prepare
    const file = join(home, 'Épreuve.pdf');
    writeFileSync(file, 'proof from the CLI');

    // Act
    const uploaded = await cli([
      'upload',
      file,
      'tickets/5001/proof.pdf',
      '--metadata',
      'ticket-type=print,ticket-id=5001,file-name=Épreuve, v2.pdf',
      '--metadata',
      'colour=red',
      '--tag',
      'file-status=non-final',
    ]);
    const before = await cli(['explain', bucketUrl('tickets/5001/proof.pdf'), '--json']);
    const tagged = await cli(['tag', 'tickets/5001/proof.pdf', 'file-status=final']);
    const after = await cli(['explain', bucketUrl('tickets/5001/proof.pdf'), '--json']);
    const [noType, missingFile, badPair, missingKey] = await Promise.all([
      cli(['upload', file, 'tickets/5002/x.pdf', '--json']),
      cli(['upload', join(home, 'none.pdf'), 'tickets/5003/x.pdf']),
      cli(['upload', file, 'tickets/5004/x.pdf', '--metadata', 'ticket-type']),
      cli(['tag', 'tickets/5005/none.pdf', 'file-status=final']),
    ]);
    await harness.drain();

    // Assess
    expect(uploaded.code, uploaded.stderr).toBe(0);
    expect(uploaded.stdout).toContain(
      'Uploaded Épreuve.pdf (18 B) to s3://ticket-files/tickets/5001/proof.pdf (ETag',
    );
    expect(uploaded.stderr).toContain('warning: metadata colour is not part of the upload contract');
    expect(json(before)).toMatchObject({
      object: {
        metadata: {
          'ticket-type': 'print',
          'ticket-id': '5001',
          'file-name': '=?UTF-8?B?w4lwcmV1dmUsIHYyLnBkZg==?=',
        },
        tags: { 'file-status': 'non-final' },
      },
      decision: { export: true, dropboxPath: '/Ticket Files/Épreuve, v2.pdf' },
    });
    expect(tagged.stdout).toContain('Tagged s3://ticket-files/tickets/5001/proof.pdf: file-status="final"');
    expect(json(after)).toMatchObject({
      object: { tags: { 'file-status': 'final' } },
      decision: { export: false, reason: { code: 'final-excluded' } },
    });
    expect(noType.code).toBe(0);
    expect(noType.stderr).toContain('not a ticket file');
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('none.pdf does not exist');
    expect(badPair.code).toBe(2);
    expect(badPair.stderr).toContain('--metadata takes NAME=VALUE pairs');
    expect(missingKey.code).toBe(1);
    expect(missingKey.stderr).toContain('tickets/5005/none.pdf does not exist (404');
  });

  it('says the local stack is not running when nothing answers at the endpoints its outputs.json names', async () => {
    // Prepare: the outputs of a stack that has stopped (its ports closed), and a folder with no outputs at all
    const stopped = mkdtempSync(join(tmpdir(), 'tds-stopped-'));
    const closedPort = await freePort();
    const outputs = JSON.parse(
      readFileSync(join(harness.stack.env.TICKET_DROPBOX_SYNC_LOCAL ?? '', 'outputs.json'), 'utf8'),
    ) as {
      Endpoints: Record<string, string>;
    };
    for (const name of Object.keys(outputs.Endpoints)) {
      outputs.Endpoints[name] = `http://127.0.0.1:${closedPort}`;
    }
    writeFileSync(join(stopped, 'outputs.json'), JSON.stringify(outputs));
    const empty = mkdtempSync(join(tmpdir(), 'tds-empty-'));

    // Act
    const [stale, none] = await Promise.all([
      cli(['--local-dir', stopped, 'status']),
      cli(['--local-dir', empty, 'config', 'show']),
    ]);
    rmSync(stopped, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });

    // Assess
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(
      new RegExp(
        `^error: the local stack is not running; start it with \`npm start -- --dir ${stopped}\` \\(nothing answers at`,
      ),
    );
    expect(stale.stderr).not.toMatch(/ECONNREFUSED|\n\s+at /);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('the local stack is not running; start it with');
    expect(none.stderr).toContain('outputs.json does not exist');
  });

  it('never printed a secret: no refresh token, app secret, code or access token in any output', () => {
    // Prepare
    const everything = runs.map((run) => `${run.stdout}\n${run.stderr}`).join('\n');

    // Act
    const leaked = [...secrets].filter((secret) => secret.length > 0 && everything.includes(secret));
    const accessTokens = everything.match(/sl\.[A-Za-z0-9_-]{20,}/g) ?? [];

    // Assess
    expect(runs.length).toBeGreaterThan(40);
    expect(secrets.size).toBeGreaterThan(4);
    expect(leaked).toEqual([]);
    expect(accessTokens).toEqual([]);
  });
});
