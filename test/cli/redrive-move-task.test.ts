/**
 * `redrive` on AWS uses SQS's message move task. The local SQS emulator does not implement it (the process tests
 * cover the receive / send / delete fallback), so a fake SQS endpoint on 127.0.0.1 answers the two calls in
 * AWS JSON 1.0, as `@aws-sdk/client-sqs` sends them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { redriveDeadLetters } from '../../cli/queues.ts';

type Answer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** Serves SQS operations from `answers`, in order per operation; records each call's operation and input. */
async function startFakeSqs(
  answers: Record<string, Answer[]>,
): Promise<{ client: SQSClient; calls: { operation: string; input: unknown }[] }> {
  const calls: { operation: string; input: unknown }[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
      calls.push({ operation, input: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') });
      const queue = answers[operation] ?? [];
      const answer = queue.length > 1 ? queue.shift() : queue[0];
      if (answer === undefined) {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end(
          JSON.stringify({
            __type: 'com.amazon.coral.service#UnknownOperationException',
            message: operation,
          }),
        );
        return;
      }
      response
        .writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', ...answer.headers })
        .end(JSON.stringify(answer.body));
    });
  });
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  const client = new SQSClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return { client, calls };
}

const QUEUES = {
  queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/q',
  queueArn: 'arn:aws:sqs:us-east-1:123456789012:q',
  deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq',
  deadLetterQueueArn: 'arn:aws:sqs:us-east-1:123456789012:q-dlq',
};

const task = (status: string, moved: number): Answer => ({
  status: 200,
  body: {
    Results: [
      {
        TaskHandle: 'handle-1',
        Status: status,
        SourceArn: QUEUES.deadLetterQueueArn,
        DestinationArn: QUEUES.queueArn,
        ApproximateNumberOfMessagesMoved: moved,
        ApproximateNumberOfMessagesToMove: 5,
      },
    ],
  },
});

describe('redrive with SQS message move tasks', () => {
  it('starts a move task from the DLQ to the queue and follows it until it completes', async () => {
    // Prepare
    const { client, calls } = await startFakeSqs({
      StartMessageMoveTask: [{ status: 200, body: { TaskHandle: 'handle-1' } }],
      ListMessageMoveTasks: [task('RUNNING', 2), task('COMPLETED', 5)],
    });
    const progress: number[] = [];

    // Act
    const result = await redriveDeadLetters({
      sqs: client,
      ...QUEUES,
      pollIntervalMs: 10,
      onProgress: (moved) => progress.push(moved),
    });
    client.destroy();

    // Assess
    expect(result).toMatchObject({
      method: 'message-move-task',
      moved: 5,
      status: 'COMPLETED',
      taskHandle: 'handle-1',
    });
    expect(calls[0]).toEqual({
      operation: 'StartMessageMoveTask',
      input: { SourceArn: QUEUES.deadLetterQueueArn, DestinationArn: QUEUES.queueArn },
    });
    expect(progress).toEqual([2, 5]);
  });

  it('follows the task already running when SQS refuses a second one', async () => {
    // Prepare
    const { client, calls } = await startFakeSqs({
      StartMessageMoveTask: [
        {
          status: 400,
          body: {
            __type: 'com.amazonaws.sqs#UnsupportedOperation',
            message: 'There is already a task running.',
          },
          headers: { 'x-amzn-query-error': 'AWS.SimpleQueueService.UnsupportedOperation;Sender' },
        },
      ],
      ListMessageMoveTasks: [task('RUNNING', 1), task('RUNNING', 4), task('COMPLETED', 5)],
    });

    // Act
    const result = await redriveDeadLetters({ sqs: client, ...QUEUES, pollIntervalMs: 10 });
    client.destroy();

    // Assess
    expect(result).toMatchObject({ method: 'message-move-task', moved: 5, status: 'COMPLETED' });
    expect(calls.map((call) => call.operation)).not.toContain('ReceiveMessage');
  });

  it('returns at once with the task running when told not to wait', async () => {
    // Prepare
    const { client } = await startFakeSqs({
      StartMessageMoveTask: [{ status: 200, body: { TaskHandle: 'handle-1' } }],
      ListMessageMoveTasks: [task('RUNNING', 0)],
    });

    // Act
    const result = await redriveDeadLetters({ sqs: client, ...QUEUES, wait: false });
    client.destroy();

    // Assess
    expect(result).toMatchObject({ method: 'message-move-task', status: 'RUNNING', moved: 0 });
  });
});
