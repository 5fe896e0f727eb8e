/**
 * A file that holds an alias folder's name must not block a publication (issue 12, lib/folder-clash.ts): a service
 * file named `Daily` sits in the base folder, then print files of publication `Daily` arrive with
 * `export-to-single-folder` `no`. Dropbox refuses their path (`path/conflict/file_ancestor`); the publication's folder
 * takes the first free suffixed name, `Daily (1)`, for every file of it, with a warning, and nothing is blocked,
 * moved or replaced. Default `rename` and `{fileName}` otherwise; with batch commits on and off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

const SERVICE = { 'ticket-type': 'service' } as const;
const DAILY = { 'ticket-type': 'print', 'publication-alias': 'Daily', 'issue-alias': 'Dec' } as const;

describe.each(['on', 'off'])('an alias folder whose name a file holds, batch commits %s', (batchCommits) => {
  let harness: Harness;
  const base = `/Clash ${batchCommits}`;
  beforeAll(async () => {
    harness = await startHarness({
      settings: { 'base-folder': base, 'export-to-single-folder': 'no' },
      functionEnv: { UPLOAD_BATCH_COMMITS: batchCommits },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('exports the publication into a suffixed folder beside the file, with a warning, and a redelivery adds nothing', async () => {
    // Prepare
    await harness.put('tickets/s1/Daily', 'the service file named Daily', SERVICE);
    expect(await harness.drain()).toEqual([]);

    // Act
    await harness.put('tickets/p1/proof.pdf', 'the first proof', DAILY);
    await harness.put('tickets/p2/art.pdf', 'the artwork', DAILY);
    const failed = await harness.drain();
    const outcomes = harness.outcomes.slice(-2);
    await harness.tag('tickets/p1/proof.pdf', { 'av-scan': 'clean' });
    const failedOnTag = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(failedOnTag).toEqual([]);
    expect(harness.failures).toEqual([]);
    for (const outcome of outcomes) {
      expect(outcome.decision).toBe('exported');
      expect(outcome.dropboxPath).toMatch(new RegExp(`^${base}/Daily \\(1\\)/Dec/`));
      expect(outcome.warnings).toContainEqual(
        expect.objectContaining({
          code: 'alias-folder-clash',
          message: expect.stringContaining(`"${base}/Daily" is a file, so the folder is "${base}/Daily (1)"`),
        }),
      );
    }
    expect(harness.outcomes.at(-1)).toMatchObject({
      decision: 'skipped',
      reason: { code: 'already-exported' },
    });
    expect(await dropboxTree(harness.dropbox, base)).toEqual({
      [`${base}/Daily`]: 28,
      [`${base}/Daily (1)/Dec/art.pdf`]: 11,
      [`${base}/Daily (1)/Dec/proof.pdf`]: 15,
    });
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
  });
});
