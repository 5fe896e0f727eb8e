/**
 * A Dropbox refusal the rules did not foresee is never a silent skip (DESIGN.md "Errors", `blocked`): the record
 * goes to the DLQ at once, with its reason in message attributes beside the intact S3 event, the failure is counted
 * (the blocked-records alarm's metric), and after the cause is fixed `redrive` exports it. The refusal here is a
 * real Dropbox one: under `on-conflict` `overwrite`, a file cannot replace a folder (`path/conflict/folder`).
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redriveDeadLetters } from '../../cli/queues.ts';
import { FAILURE_ATTRIBUTES } from '../../lib/aws/sqs-retry-scheduler.ts';
import { decodeS3Key } from '../../lib/s3-event.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { PRINT } from './support.ts';

describe('a Dropbox refusal the rules did not foresee', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({
      settings: { 'base-folder': '/Blocked', 'export-to-single-folder': 'no', 'on-conflict': 'overwrite' },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('goes to the DLQ at once with its reason, and exports after the fix and a redrive', async () => {
    // Prepare: publication Daily's folder exists; then a service file named Daily must replace that folder.
    await harness.put('tickets/p1/proof.pdf', 'a proof', PRINT);
    expect(await harness.drain()).toEqual([]);
    await harness.put('tickets/s1/Daily', 'a service file named like the folder', {
      'ticket-type': 'service',
    });

    // Act
    const failed = await harness.drain();
    const failure = harness.failures.at(-1);
    const depthWhenBlocked = await harness.depth();
    const dead = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: harness.stack.outputs.DeadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 0,
      }),
    );
    await harness.setSetting('on-conflict', 'rename');
    const redriven = await redriveDeadLetters({
      sqs: harness.sqs,
      queueUrl: harness.stack.outputs.QueueUrl,
      queueArn: harness.stack.outputs.QueueArn,
      deadLetterQueueUrl: harness.stack.outputs.DeadLetterQueueUrl,
      deadLetterQueueArn: harness.stack.outputs.DeadLetterQueueArn,
    });
    const failedAfterFix = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    expect(failure).toMatchObject({
      key: 'tickets/s1/Daily',
      kind: 'blocked',
      code: 'dropbox-path-conflict',
      route: 'dead-letter',
    });
    expect(failure?.message).toContain('path/conflict/folder');
    expect(depthWhenBlocked).toEqual({ queue: 0, dlq: 1 });
    const message = dead.Messages?.[0];
    expect(dead.Messages).toHaveLength(1);
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.code]?.StringValue).toBe('dropbox-path-conflict');
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.kind]?.StringValue).toBe('blocked');
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.object]?.StringValue).toBe(
      's3://ticket-files/tickets/s1/Daily',
    );
    expect(message?.MessageAttributes?.[FAILURE_ATTRIBUTES.message]?.StringValue).toContain('conflict');
    const body = JSON.parse(message?.Body ?? '{}') as { Records: { s3: { object: { key: string } } }[] };
    expect(decodeS3Key(body.Records[0]?.s3.object.key ?? '')).toBe('tickets/s1/Daily');
    expect(redriven).toMatchObject({ moved: 1, failed: 0 });
    expect(failedAfterFix).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 0, dlq: 0 });
    expect(await dropboxTree(harness.dropbox, '/Blocked')).toEqual({
      '/Blocked/Daily (1)': 36,
      '/Blocked/Daily/Dec/proof.pdf': 7,
    });
  });
});
