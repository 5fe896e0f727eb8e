/**
 * The syncing process of the benchmarks: loads the function's bundle (as Lambda would) and, on the bench's
 * commands, either invokes its handler with an SQS event (`invoke`) or runs pollers that feed it batches from the
 * queue (`poll`, as the event source mapping does). Reports its peak RSS on `exit`. Bundled itself before it runs.
 */
import { pathToFileURL } from 'node:url';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createSqsClient } from '../lib/aws/clients.ts';
import { startPoller } from '../tools/local/poller.ts';
import { readPeakRss } from './support/child.ts';
import { readOwnCpuSeconds } from './support/cpu.ts';

interface Config {
  readonly handlerBundle: string;
  readonly mode: 'invoke' | 'poll';
  readonly pollers?: number;
  readonly batchSize?: number;
  readonly queueUrl?: string;
  readonly queueArn?: string;
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

function lambdaContext(): Context {
  const deadline = Date.now() + 900_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'sync-to-dropbox-bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:sync-to-dropbox-bench',
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/bench/sync-to-dropbox',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const module = (await import(pathToFileURL(config.handlerBundle).href)) as { handler: Handler };
const handler = module.handler;
let poller: ReturnType<typeof startPoller> | undefined;
/** Invocations the pollers made, and their summed duration: what Lambda would bill as duration. */
const invocations = { count: 0, ms: 0 };
const timedHandler: Handler = async (event, context) => {
  const started = performance.now();
  try {
    return await handler(event, context);
  } finally {
    invocations.count += 1;
    invocations.ms += performance.now() - started;
  }
};

process.on('message', (raw: unknown) => {
  const message = raw as { type: string; id?: number; event?: SQSEvent };
  if (message.type === 'invoke' && message.event !== undefined) {
    const started = performance.now();
    const cpuFrom = readOwnCpuSeconds();
    const report = (outcome: Record<string, unknown>) =>
      send({
        type: 'invoked',
        id: message.id,
        ms: performance.now() - started,
        cpuSeconds: readOwnCpuSeconds() - cpuFrom,
        ...outcome,
      });
    handler(message.event, lambdaContext()).then(
      (response) => report({ response }),
      (error: unknown) => report({ error: String(error) }),
    );
  } else if (message.type === 'start' && config.mode === 'poll') {
    poller = startPoller({
      sqs: createSqsClient(),
      queueUrl: config.queueUrl ?? '',
      queueArn: config.queueArn ?? '',
      handler: timedHandler,
      concurrency: config.pollers ?? 4,
      batchSize: config.batchSize ?? 10,
      waitTimeSeconds: 1,
      onError: (error) => send({ type: 'poller-error', error: String(error) }),
    });
    send({ type: 'started' });
  } else if (message.type === 'exit') {
    const stopping = poller?.stop() ?? Promise.resolve();
    void stopping.then(async () => {
      send({
        type: 'peak',
        peakRssBytes: await readPeakRss(),
        cpuSeconds: readOwnCpuSeconds(),
        batches: poller?.batches ?? 0,
        invocations: invocations.count,
        invokedMs: invocations.ms,
      });
      process.disconnect?.();
    });
  }
});
send({ type: 'ready', peakRssBytes: await readPeakRss() });
