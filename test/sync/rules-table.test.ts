import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

/**
 * Every row of DESIGN.md's rules table, end to end: uploads through the local S3, events through the SQS emulator,
 * the real handler, files into the Dropbox emulator. Expectations are written out by hand from the table.
 */
interface Upload {
  readonly name: string;
  readonly metadata: Record<string, string>;
}

const P = { 'publication-alias': 'Daily', 'issue-alias': 'Dec' };
const uploads: Upload[] = [
  { name: 'print-final.pdf', metadata: { 'ticket-type': 'print', 'file-status': 'final', ...P } },
  { name: 'print-final-caps.pdf', metadata: { 'ticket-type': 'PRINT', 'file-status': ' Final ', ...P } },
  { name: 'print-rtd.pdf', metadata: { 'ticket-type': 'print', 'file-status': 'ready-to-deliver', ...P } },
  { name: 'print-nonfinal.pdf', metadata: { 'ticket-type': 'print', 'file-status': 'non-final', ...P } },
  { name: 'print-absent.pdf', metadata: { 'ticket-type': 'print', ...P } },
  { name: 'print-noalias.pdf', metadata: { 'ticket-type': 'print' } },
  { name: 'ad-final.png', metadata: { 'ticket-type': 'digital-ad', 'file-status': 'final', ...P } },
  { name: 'ad-absent.png', metadata: { 'ticket-type': 'digital-ad', ...P } },
  {
    name: 'media-rtd.mp4',
    metadata: { 'ticket-type': 'digital-media', 'file-status': 'Ready-To-Deliver', 'product-alias': 'Cast' },
  },
  {
    name: 'media-final.mp4',
    metadata: { 'ticket-type': 'digital-media', 'file-status': 'final', 'product-alias': 'Cast' },
  },
  { name: 'media-noalias.mp4', metadata: { 'ticket-type': 'digital-media' } },
  { name: 'service-final.pdf', metadata: { 'ticket-type': 'service', 'file-status': 'final', ...P } },
  { name: 'service-absent.pdf', metadata: { 'ticket-type': 'service' } },
  { name: 'no-type.pdf', metadata: { 'file-status': 'final' } },
  { name: 'odd-type.pdf', metadata: { 'ticket-type': 'billboard' } },
];

/** Final files by the seed's definition. */
const finals = new Set(['print-final.pdf', 'print-final-caps.pdf', 'ad-final.png', 'media-rtd.mp4']);
const services = new Set(['service-final.pdf', 'service-absent.pdf']);
const notTickets = new Set(['no-type.pdf', 'odd-type.pdf']);
/** Folder of each file when `export-to-single-folder` is `no`. */
const folders: Record<string, string> = {
  'print-final.pdf': 'Daily/Dec',
  'print-final-caps.pdf': 'Daily/Dec',
  'print-rtd.pdf': 'Daily/Dec',
  'print-nonfinal.pdf': 'Daily/Dec',
  'print-absent.pdf': 'Daily/Dec',
  'print-noalias.pdf': '',
  'ad-final.png': 'Daily/Dec',
  'ad-absent.png': 'Daily/Dec',
  'media-rtd.mp4': 'Cast',
  'media-final.mp4': 'Cast',
  'media-noalias.mp4': '',
  'service-final.pdf': '',
  'service-absent.pdf': '',
};

function expectedTree(status: string, single: boolean, base: string): Record<string, number> {
  const tree: Record<string, number> = {};
  for (const upload of uploads) {
    if (notTickets.has(upload.name)) continue;
    const isFinal = finals.has(upload.name);
    const exported =
      services.has(upload.name) || status === 'all' || (status === 'final' ? isFinal : !isFinal);
    if (!exported) continue;
    const folder = single ? '' : folders[upload.name];
    tree[`${base}/${folder ? `${folder}/` : ''}${upload.name}`] = upload.name.length;
  }
  return Object.fromEntries(Object.entries(tree).sort(([a], [b]) => a.localeCompare(b)));
}

describe('the rules table, end to end', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const status of ['non-final', 'final', 'all']) {
    for (const single of [true, false]) {
      it(`exports exactly the qualifying files when export-by-status is ${status} and single folder is ${single ? 'yes' : 'no'}`, async () => {
        // Prepare
        const base = `/Rules ${status} ${single ? 'single' : 'folders'}`;
        await harness.setSetting('export-by-status', status);
        await harness.setSetting('export-to-single-folder', single ? 'yes' : 'no');
        await harness.setSetting('base-folder', base);
        const run = `${status}-${single}`;
        for (const upload of uploads) {
          await harness.put(`tickets/${run}/${upload.name}`, upload.name, upload.metadata);
        }
        // Act
        const failed = await harness.drain();
        // Assess
        expect(failed).toEqual([]);
        expect(await dropboxTree(harness.dropbox, base)).toEqual(expectedTree(status, single, base));
        const skips = harness.outcomes.filter(
          (o) => o.key.startsWith(`tickets/${run}/`) && o.decision === 'skipped',
        );
        expect(skips.find((o) => o.key.endsWith('no-type.pdf'))?.reason.code).toBe('not-a-ticket-file');
        expect(skips.find((o) => o.key.endsWith('odd-type.pdf'))?.reason.code).toBe('unknown-ticket-type');
        if (!single) {
          const fallback = harness.outcomes.find((o) => o.key === `tickets/${run}/print-noalias.pdf`);
          if (fallback?.decision === 'exported') {
            expect(fallback.warnings.map((w) => w.code)).toContain('alias-missing');
          }
        }
      });
    }
  }
});
