/**
 * The local stack's poller (what Lambda's event source mapping does): a pause holds from the moment the pause file
 * exists, even for a batch whose long-poll receive was already waiting when the pause began.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SqsEmulator, startSqsEmulator } from '../../tools/emulators/sqs/server.ts';
import { type Poller, startPoller } from '../../tools/local/poller.ts';
import { localClientConfig } from '../emulators/support.ts';

/** A promise and the function that resolves it. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

describe('the local poller', () => {
  let emulator: SqsEmulator;
  let sqs: SQSClient;
  let dir: string;
  let poller: Poller | undefined;

  beforeEach(async () => {
    emulator = await startSqsEmulator({ queues: [{ name: 'work', visibilityTimeoutSeconds: 900 }] });
    sqs = new SQSClient(localClientConfig(emulator.url));
    dir = mkdtempSync(join(tmpdir(), 'tds-poller-'));
  });

  afterEach(async () => {
    await poller?.stop();
    sqs.destroy();
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives back a batch received after the pause began instead of invoking the handler, and handles it after resume', async () => {
    // Prepare: see each receive start and each give-back, through the client the poller uses
    const pauseFile = join(dir, 'paused');
    const receiveStarted = signal();
    const givenBack = signal<'given back'>();
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ReceiveMessageCommand') receiveStarted.resolve();
        const result = await next(args);
        if (context.commandName === 'ChangeMessageVisibilityBatchCommand') givenBack.resolve('given back');
        return result;
      },
      { step: 'initialize', name: 'observeCalls' },
    );
    const invoked = signal<'invoked'>();
    const events: SQSEvent[] = [];
    const queueUrl = emulator.queueUrl('work');
    poller = startPoller({
      sqs,
      queueUrl,
      queueArn: emulator.queueArn('work'),
      pauseFile,
      waitTimeSeconds: 20,
      handler: async (event) => {
        events.push(event);
        invoked.resolve('invoked');
        return { batchItemFailures: [] };
      },
    });

    // Act: pause while the long-poll receive waits, then a message arrives
    await receiveStarted.promise;
    writeFileSync(pauseFile, 'paused\n');
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'upload after pause' }));
    const first = await Promise.race([givenBack.promise, invoked.promise]);
    const invokedWhilePaused = events.length;
    rmSync(pauseFile);
    await invoked.promise;

    // Assess
    expect(first).toBe('given back');
    expect(invokedWhilePaused).toBe(0);
    expect(events).toHaveLength(1);
    expect(events[0]?.Records[0]).toMatchObject({
      body: 'upload after pause',
      attributes: { ApproximateReceiveCount: '2' },
    });
  });
});
