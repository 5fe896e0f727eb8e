/**
 * Every call is bounded, and one hung call never fails a whole batch (issue 12, item 2): a HeadObject that never
 * answers, among healthy records, on the local stack. At the invocation's work deadline the hung record fails on
 * its own; the healthy ones are exported, their messages deleted, and the commits they queued are sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

const SERVICE = { 'ticket-type': 'service' } as const;
/** Keys containing this marker hang in the local S3 (its `hang` fault). */
const HANG = 'HANG';

function uploadCalls(harness: Harness, route: string): number {
  return harness.stack.dropbox?.requestLog.filter((entry) => entry.route === route).length ?? 0;
}

describe.each([
  { batchCommits: 'on', commitRoute: 'files/upload_session/finish_batch_v2' },
  { batchCommits: 'off', commitRoute: 'files/upload' },
])(
  'a hanging HeadObject among healthy records, batch commits $batchCommits',
  ({ batchCommits, commitRoute }) => {
    let harness: Harness;
    beforeAll(async () => {
      harness = await startHarness({
        settings: { 'base-folder': `/Deadline ${batchCommits}` },
        functionEnv: { UPLOAD_BATCH_COMMITS: batchCommits },
      });
    });
    afterAll(async () => {
      await harness?.close();
    });

    it('exports and deletes the healthy records at the deadline, and fails only the hung one, which exports later', async () => {
      // Prepare
      const healthy = ['tickets/d/one.pdf', 'tickets/d/two.pdf', 'tickets/d/three.pdf'];
      for (const key of healthy) await harness.put(key, `content of ${key}`, SERVICE);
      await harness.put(`tickets/d/${HANG}.pdf`, 'the hung one', SERVICE);
      harness.stack.s3.setFaults({ hang: { actions: ['HeadObject'], keyIncludes: HANG } });
      const commitsBefore = uploadCalls(harness, commitRoute);

      // Act: 14 s left, so the work deadline (10 s before the end by default) comes after 4 s.
      const failed = await harness.drain({ remainingMs: 14_000 });
      const depthAtDeadline = await harness.depth();
      const failure = harness.failures.at(-1);
      harness.stack.s3.setFaults({});
      await harness.redeliver(failed);
      const failedLater = await harness.drain();

      // Assess
      expect(harness.stack.s3.hungRequests).toBeGreaterThanOrEqual(1);
      expect(failed).toHaveLength(1);
      expect(failure).toMatchObject({ key: `tickets/d/${HANG}.pdf`, kind: 'aborted', code: 'deadline' });
      expect(depthAtDeadline).toEqual({ queue: 1, dlq: 0 });
      expect(uploadCalls(harness, commitRoute)).toBeGreaterThan(commitsBefore);
      expect(failedLater).toEqual([]);
      expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
      expect(Object.keys(await dropboxTree(harness.dropbox, `/Deadline ${batchCommits}`))).toEqual([
        `/Deadline ${batchCommits}/HANG.pdf`,
        `/Deadline ${batchCommits}/one.pdf`,
        `/Deadline ${batchCommits}/three.pdf`,
        `/Deadline ${batchCommits}/two.pdf`,
      ]);
    });
  },
);

describe('a HeadObject that hangs past the S3 client’s request timeout', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({
      settings: { 'base-folder': '/Request timeout' },
      functionEnv: { AWS_REQUEST_TIMEOUT_MS: '500' },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('fails that record as transient long before the deadline, while the others export', async () => {
    // Prepare
    await harness.put('tickets/t/fine.pdf', 'fine', SERVICE);
    await harness.put(`tickets/t/${HANG}.pdf`, 'times out', SERVICE);
    harness.stack.s3.setFaults({ hang: { actions: ['HeadObject'], keyIncludes: HANG } });

    // Act: a whole 15 minutes left; only the client's own timeout can end the hung call.
    const failed = await harness.drain({ remainingMs: 900_000 });

    // Assess
    harness.stack.s3.setFaults({});
    expect(failed).toHaveLength(1);
    expect(harness.failures.at(-1)).toMatchObject({
      key: `tickets/t/${HANG}.pdf`,
      kind: 'transient',
      code: 's3-error',
    });
    expect(harness.outcomes.at(-1)).toMatchObject({ key: 'tickets/t/fine.pdf', decision: 'exported' });
    expect(await harness.depth()).toEqual({ queue: 1, dlq: 0 });
  });
});
