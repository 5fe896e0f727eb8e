/**
 * The invocation's deadlines (lib/invocation.ts) and the handler's promise that follows from them: whatever a call
 * does, even one that ignores its abort signal, the handler answers before the Lambda timeout with the records done
 * so far, and never throws in a way that fails the whole batch.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/sync-to-dropbox/handler.ts';
import { answerBy, BatchProgress, createInvocationDeadlines } from '../../lib/invocation.ts';
import { createLogger, createMetrics } from '../../lib/powertools.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { parseSettings } from '../../lib/settings.ts';

describe('createInvocationDeadlines', () => {
  it('ends the work before the final deadline, which comes before the timeout', async () => {
    // Act
    const deadlines = createInvocationDeadlines(3000, 2500, 1000);
    await new Promise((resolve) => deadlines.work.addEventListener('abort', resolve, { once: true }));
    const workAbortedFirst = !deadlines.final.aborted;
    await new Promise((resolve) => deadlines.final.addEventListener('abort', resolve, { once: true }));

    // Assess
    expect(workAbortedFirst).toBe(true);
    expect(deadlines.final.aborted).toBe(true);
  });
});

describe('answerBy', () => {
  it('answers with the fallback when the work never settles', async () => {
    // Prepare
    const progress = new BatchProgress(['a', 'b', 'c']);
    progress.markDone('b');

    // Act
    const answer = await answerBy(new Promise<never>(() => undefined), AbortSignal.timeout(10), () =>
      progress.answer(),
    );

    // Assess
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'c' }] });
  });
});

function eventFor(keys: readonly string[]): SQSEvent {
  return {
    Records: keys.map((key, index) => ({
      messageId: `m${index}`,
      receiptHandle: `h${index}`,
      body: buildS3Notification([{ eventName: 'ObjectCreated:Put', bucket: 'b', key, size: 1, eTag: 'e' }]),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
    })),
  };
}

describe('the sync handler at its deadline', () => {
  it('answers before the timeout, the finished records done, even when a call ignores its abort signal', async () => {
    // Prepare: one object whose HeadObject never settles and ignores the signal, one that is not a ticket file.
    process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const deferred: string[] = [];
    const handler = createHandler({
      logger: createLogger('test'),
      metrics: createMetrics('test'),
      deadlineMarginMs: 1500,
      loadSettings: async () => parseSettings({}),
      dropboxFor: () => {
        throw new Error('no Dropbox call expected');
      },
      objects: {
        headObject: (_bucket, key) =>
          key === 'stuck.pdf'
            ? new Promise(() => undefined)
            : Promise.resolve({ eTag: 'e', size: 1, lastModified: new Date(0), metadata: {} }),
        getObjectTags: async () => ({}),
        openObject: () => Promise.reject(new Error('no read expected')),
      },
      // Every object unclaimed and unknown: the ledger is not what this test is about.
      ledger: {
        read: async () => null,
        claim: async () => ({ taken: true, record: null }),
        settle: async () => true,
        release: async () => undefined,
        ownFile: async (_file, owner) => owner,
        fileOwnership: async () => null,
        takeFile: async () => true,
        leaveFile: async () => undefined,
      },
      retries: {
        deferRetry: async (record) => {
          deferred.push(record.messageId);
        },
        requeue: async () => undefined,
        deadLetter: async () => undefined,
      },
    });
    const context = { getRemainingTimeInMillis: () => 3000 } as unknown as Context;

    // Act: without the handler's own final deadline this never settles (and the test times out).
    const answer = await handler(eventFor(['stuck.pdf', 'not-a-ticket.pdf']), context);

    // Assess
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }] });
    expect(deferred).toEqual([]);
  });
});
