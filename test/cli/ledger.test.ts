/**
 * The CLI reads the export ledger (issue 11, item 3): `status --key` and `explain` show where an object really went
 * (`Proof (1).pdf` included), which version and when, or its last skip with the reason; `backfill` skips what the
 * ledger shows exported at its current version with no Dropbox call, and `--verify` checks each of those in Dropbox
 * by the ledger's file id. Each command runs as a real process against a local stack in the default settings
 * (`rename`, single folder, `{fileName}`), whose Dropbox emulator logs every request it serves.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillSummary } from '../../cli/actions/backfill.ts';
import type { Explanation } from '../../cli/actions/explain.ts';
import type { ObjectStatusReport } from '../../cli/actions/status.ts';
import type { RequestLogEntry } from '../../tools/emulators/dropbox/server.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { type CliRun, runCliProcess } from './run-cli.ts';

let harness: Harness;
let env: NodeJS.ProcessEnv;

const PRINT = { 'ticket-type': 'print' } as const;

async function cli(args: readonly string[]): Promise<CliRun> {
  return runCliProcess(args, { env });
}

function json<T>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** The Dropbox requests served while `work` ran. */
async function dropboxRequestsDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; requests: RequestLogEntry[] }> {
  const log = harness.stack.dropbox?.requestLog;
  if (log === undefined) throw new Error('the harness runs no Dropbox emulator');
  const before = log.length === 0 ? 0 : (log.at(-1)?.id ?? 0);
  const result = await work();
  return { result, requests: log.filter((entry) => entry.id > before) };
}

const bucketUrl = (key: string): string => `s3://${harness.stack.outputs.BucketName}/${key}`;

beforeAll(async () => {
  harness = await startHarness();
  env = { ...process.env, ...harness.stack.env };
});

afterAll(async () => {
  await harness?.close();
});

describe('the CLI on the export ledger', () => {
  it("shows where each of two tickets' Proof.pdf went, the renamed one included, from the ledger", async () => {
    // Prepare: the same name, size and second from two tickets (default settings: one folder, {fileName}, rename)
    await Promise.all([
      harness.put('tickets/9001/Proof.pdf', 'proof of 9001', { ...PRINT, 'ticket-id': '9001' }),
      harness.put('tickets/9002/Proof.pdf', 'proof of 9002', { ...PRINT, 'ticket-id': '9002' }),
    ]);
    await harness.drain();
    const records = await Promise.all([
      harness.record('tickets/9001/Proof.pdf'),
      harness.record('tickets/9002/Proof.pdf'),
    ]);
    const paths = records.map((record) => record?.export?.file.pathDisplay);
    const renamedIndex = paths.indexOf('/Ticket Files/Proof (1).pdf');
    const renamedKey = `tickets/${9001 + renamedIndex}/Proof.pdf`;

    // Act
    const [text, asJson, explained] = await Promise.all([
      cli(['status', '--key', renamedKey]),
      cli(['status', '--key', bucketUrl(renamedKey), '--json']),
      cli(['explain', bucketUrl(renamedKey)]),
    ]);

    // Assess
    expect([...paths].sort()).toEqual(['/Ticket Files/Proof (1).pdf', '/Ticket Files/Proof.pdf']);
    const renamed = records[renamedIndex];
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Object:    ${bucketUrl(renamedKey)}`);
    expect(text.stdout).toMatch(/State: +exported \(non-final-file\)\nWhy: +Export: the file is not final/);
    expect(text.stdout).toContain(
      'Dropbox:   /Ticket Files/Proof (1).pdf; asked for /Ticket Files/Proof.pdf, which held another file, so Dropbox renamed it',
    );
    expect(text.stdout).toContain(`id ${renamed?.export?.file.id}, rev ${renamed?.export?.file.rev}`);
    expect(text.stdout).toContain(`Version:   ETag ${renamed?.object?.eTag}, exported `);
    expect(json<ObjectStatusReport>(asJson).status).toMatchObject({
      state: 'exported',
      reason: { code: 'non-final-file' },
      file: {
        path: '/Ticket Files/Proof (1).pdf',
        targetPath: '/Ticket Files/Proof.pdf',
        renamed: true,
        id: renamed?.export?.file.id,
        eTag: renamed?.object?.eTag,
        current: true,
      },
      ticket: { id: String(9001 + renamedIndex), type: 'print' },
    });
    expect(json<ObjectStatusReport>(asJson).status.summary).toMatch(
      /^In Dropbox: \/Ticket Files\/Proof \(1\)\.pdf \(asked for \/Ticket Files\/Proof\.pdf; /,
    );
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(
      'Exported:  /Ticket Files/Proof (1).pdf; asked for /Ticket Files/Proof.pdf',
    );
    expect(explained.stdout).toMatch(/Dropbox: +the ledger's file is \/Ticket Files\/Proof \(1\)\.pdf: /);
    expect(explained.stdout).toMatch(
      /at the decision's path: \/Ticket Files\/Proof\.pdf: .*content hash [0-9a-f]{64}/,
    );
    expect(explained.stdout).toContain(
      "Next:      already exported: Dropbox holds this version at /Ticket Files/Proof (1).pdf (the ledger's file, found by its id)",
    );
    expect(explained.stdout).not.toContain('same size and modified time');
  });

  it('explains a new version of the same size in the same second as a replacement of its own export', async () => {
    // Prepare: size and modified time say nothing; the ledger's ETag does
    await harness.put('tickets/9003/Artwork.tif', 'version A', { ...PRINT, 'ticket-id': '9003' });
    await harness.drain();
    const exported = await harness.record('tickets/9003/Artwork.tif');
    await harness.put('tickets/9003/Artwork.tif', 'version B', { ...PRINT, 'ticket-id': '9003' });

    // Act: before the new version's event is processed
    const run = await cli(['explain', bucketUrl('tickets/9003/Artwork.tif'), '--json']);

    // Assess
    const explanation = json<Explanation>(run);
    expect(explanation.ledger).toMatchObject({
      read: true,
      status: { state: 'exported', file: { path: '/Ticket Files/Artwork.tif', current: true } },
    });
    expect(explanation.object.eTag).not.toBe(exported?.object?.eTag);
    expect(explanation.dropbox).toMatchObject({
      looked: true,
      next: { action: 'replace-own-export' },
      exportedFile: { id: exported?.export?.file.id, rev: exported?.export?.file.rev },
    });
    await harness.drain();
  });

  it('shows the last skip with its reason, and says so when the ledger has no record', async () => {
    // Prepare
    await harness.put('tickets/9004/Final.pdf', 'final', { ...PRINT, 'file-status': 'final' });
    await harness.drain();
    await harness.put('tickets/9004/Later.pdf', 'not processed yet', PRINT);

    // Act
    const [skipped, none, usage] = await Promise.all([
      cli(['status', '--key', 'tickets/9004/Final.pdf', '--json']),
      cli(['status', '--key', 'tickets/9004/Later.pdf']),
      cli(['status', '--key', '/tickets/9004/Final.pdf']),
    ]);

    // Assess
    expect(json<ObjectStatusReport>(skipped).status).toMatchObject({
      state: 'skipped',
      reason: { code: 'final-excluded' },
    });
    expect(json<ObjectStatusReport>(skipped).status.summary).toMatch(
      /^Not exported since \S+: .*\(final-excluded\)\.$/,
    );
    expect(json<ObjectStatusReport>(skipped).status.file).toBeUndefined();
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/State: +no ledger record\. /);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("S3 keys have no leading '/'; did you mean tickets/9004/Final.pdf?");
    await harness.drain();
  });

  it('backfills what the ledger shows exported with no Dropbox call, and --verify looks each one up by its id', async () => {
    // Prepare: five exported files; in Dropbox a person then edits C, deletes D and moves E
    const keys = ['A', 'B', 'C', 'D', 'E'].map((name) => `tickets/bf2/${name}.pdf`);
    for (const key of keys) await harness.put(key, `content of ${key}`, PRINT);
    await harness.drain();
    const emulator = harness.stack.dropbox;
    if (emulator === undefined) throw new Error('the harness runs no Dropbox emulator');
    await harness.dropbox.upload({
      path: '/Ticket Files/C.pdf',
      size: 7,
      clientModified: new Date(),
      onConflict: 'overwrite',
      body: Readable.from([Buffer.from('edited!')]),
    });
    await emulator.deleteFile('/Ticket Files/D.pdf');
    await emulator.moveFile('/Ticket Files/E.pdf', '/Ticket Files/Moved/E.pdf');
    const treeBefore = await dropboxTree(harness.dropbox, '/Ticket Files');
    const outcomesBefore = harness.outcomes.length;

    // Act
    const plain = await dropboxRequestsDuring(() => cli(['backfill', '--prefix', 'tickets/bf2/', '--json']));
    const verified = await dropboxRequestsDuring(() =>
      cli(['backfill', '--prefix', 'tickets/bf2/', '--verify', '--json']),
    );
    await harness.drain();
    const treeAfter = await dropboxTree(harness.dropbox, '/Ticket Files');
    const again = await dropboxRequestsDuring(() => cli(['backfill', '--prefix', 'tickets/bf2/', '--json']));

    // Assess: the default run made one GetItem per object, nothing else per object, and no Dropbox request at all
    const first = json<BackfillSummary>(plain.result);
    expect(first).toMatchObject({
      listed: 5,
      wouldExport: 0,
      enqueued: 0,
      skipped: { 'already-exported': 5 },
      ledger: { alreadyExported: 5, verify: null },
    });
    expect(first.calls.dynamodb).toEqual({ total: 5, perObject: 1, byOperation: { GetItem: 5 } });
    expect(first.calls.s3.byOperation).toEqual({ ListObjectsV2: 1 });
    expect(first.calls.dropbox.total).toBe(0);
    expect(plain.requests).toEqual([]);
    // --verify: one files/get_metadata per object, by id; the deleted and the edited file are sent, the moved one not
    const second = json<BackfillSummary>(verified.result);
    expect(second).toMatchObject({
      listed: 5,
      wouldExport: 2,
      enqueued: 2,
      skipped: { 'already-exported': 3 },
      ledger: {
        alreadyExported: 3,
        verify: { checked: 5, asRecorded: 3, moved: 1, missing: 1, changed: 1 },
      },
    });
    expect(second.ledger?.verify?.notAsRecorded).toEqual(
      expect.arrayContaining([
        { key: 'tickets/bf2/C.pdf', finding: 'changed' },
        { key: 'tickets/bf2/D.pdf', finding: 'missing' },
      ]),
    );
    const lookups = verified.requests.filter((entry) => entry.route === 'files/get_metadata');
    expect(lookups).toHaveLength(5);
    expect(second.calls.dropbox.byOperation['files/get_metadata']).toBe(5);
    expect(second.calls.dropbox.total).toBe(verified.requests.length);
    expect(second.calls.s3.byOperation).toEqual({ GetObjectTagging: 2, HeadObject: 2, ListObjectsV2: 1 });
    // The function recorded what it found and put nothing back: no upload, no copy
    expect(treeAfter).toEqual(treeBefore);
    expect(
      harness.outcomes
        .slice(outcomesBefore)
        .map(({ key, reason }) => `${key} ${reason.code}`)
        .sort(),
    ).toEqual(['tickets/bf2/C.pdf edited-in-dropbox', 'tickets/bf2/D.pdf deleted-in-dropbox']);
    // The next backfill knows the deletion from the ledger too, still without a Dropbox request
    expect(json<BackfillSummary>(again.result)).toMatchObject({
      enqueued: 0,
      skipped: { 'already-exported': 4, 'deleted-in-dropbox': 1 },
    });
    expect(again.requests).toEqual([]);
  });
});
