/**
 * Scenario **small**: 1,000 objects of 64 KiB, four pollers at once feeding the bundled function batches of 10 (in
 * one child process, as four Lambda instances would), with the Dropbox emulator's namespace write-lock contention on
 * (a commit that overlaps another in the namespace fails with too_many_write_operations). The function with its
 * default settings (a batch's small files commit together in one finish_batch_v2) against the same run with one
 * commit per file (`UPLOAD_BATCH_COMMITS=off`). The export ledger's DynamoDB (dynalite) is reached through a counting
 * proxy, to say what the ledger costs per file: calls and the milliseconds the function waited on them.
 * Targets: ≥ 6 × the files per second of one commit per file (issue 11 keeps it there with the ledger), ≤ 1.2
 * Dropbox calls and ≤ 4 S3 calls per file, ≤ 1 SSM call per TTL, no record in the DLQ for lock contention.
 */

import { generateBytes } from '../../tools/generated-content.ts';
import { forkChild } from '../support/child.ts';
import { type BenchContext, countBy, isUploadRoute, round, type Target } from '../support/context.ts';
import { startCountingProxy } from '../support/counting-proxy.ts';
import { SETTINGS_TTL_SECONDS } from '../support/stack.ts';

/** One run of the scenario. */
export interface SmallRun {
  readonly mode: 'batched' | 'one commit per file';
  readonly files: number;
  readonly seconds: number;
  readonly filesPerSecond: number;
  readonly exported: number;
  readonly deadLettered: number;
  readonly dropboxCallsPerFile: number;
  readonly dropboxUploadCallsPerFile: number;
  readonly dropboxCallsByRoute: Record<string, number>;
  /** Commit calls the emulator refused for write-lock contention (each one a retry). */
  readonly lockContentionRetries: number;
  readonly s3CallsPerFile: number;
  readonly s3CallsByAction: Record<string, number>;
  readonly ssmCalls: number;
  /** SSM calls one cache per process may make in the run: one per TTL begun. */
  readonly ssmCallsAllowed: number;
  readonly batches: number;
  /** Handler invocations and their summed duration (Lambda's billed duration, at the function's memory). */
  readonly invocations: number;
  readonly invokedSeconds: number;
  /** SQS calls per file, by action (the S3 notification's SendMessage included). */
  readonly sqsCallsByAction: Record<string, number>;
  /** Records the function reported as failed (each retried by the queue), by reason. */
  readonly recordFailures: Record<string, number>;
  /** The export ledger's DynamoDB calls per file, by operation, and the milliseconds they took per file. */
  readonly ledger: {
    readonly callsPerFile: number;
    readonly callsByOperation: Record<string, number>;
    readonly msPerFile: number;
    readonly conditionalFailures: number;
  };
}

/** The scenario's result. */
export interface SmallResult {
  readonly batched: SmallRun;
  readonly oneCommitPerFile: SmallRun;
  readonly speedup: number;
  readonly targets: Record<string, Target>;
}

const FILE_BYTES = 64 * 1024;
const POLLERS = 4;
const BATCH_SIZE = 10;

async function putFiles(context: BenchContext, prefix: string, count: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      const body = generateBytes(FILE_BYTES, 1000 + index);
      await context.stack.putObject(`${prefix}file-${String(index).padStart(4, '0')}.bin`, body, FILE_BYTES, {
        'ticket-type': 'service',
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function runOnce(
  context: BenchContext,
  mode: SmallRun['mode'],
  files: number,
  timeoutMs: number,
): Promise<SmallRun> {
  const { stack } = context;
  const slug = mode === 'batched' ? 'batched' : 'single';
  const baseFolder = `/Bench small ${slug}`;
  await stack.setSetting('base-folder', baseFolder);
  const recordFailures: Record<string, number> = {};
  const sqsBeforePut = stack.stack.sqs.calls.length;
  await putFiles(context, `tickets/small-${slug}/`, files);
  const before = await stack.depth();
  if (before.queue !== files)
    throw new Error(`small: expected ${files} queued notifications, found ${before.queue}`);
  stack.dropbox.setFaults({ writeLockContention: true });
  const dynamodb = await startCountingProxy(stack.stack.env.AWS_ENDPOINT_URL_DYNAMODB ?? '');
  const child = forkChild(
    context.bundles.syncChild.file,
    {
      handlerBundle: context.bundles.handler.file,
      mode: 'poll',
      pollers: POLLERS,
      batchSize: BATCH_SIZE,
      queueUrl: stack.stack.outputs.QueueUrl,
      queueArn: stack.stack.outputs.QueueArn,
    },
    stack.functionEnv({
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
      ...(mode === 'batched' ? {} : { UPLOAD_BATCH_COMMITS: 'off' }),
    }),
    (line) => {
      // The function logs each failed record as one JSON line with its reason.
      if (!line.includes('"message":"failed"')) return;
      const reason = /"reason":"([^"]+)"/.exec(line)?.[1] ?? 'unknown';
      recordFailures[reason] = (recordFailures[reason] ?? 0) + 1;
    },
  );
  try {
    await child.receive('ready');
    const dropboxFrom = stack.dropbox.requestLog.length;
    const s3From = stack.stack.s3.calls.length;
    const ssmFrom = stack.stack.ssm.calls.length;
    // The notifications were sent when the files were put: counted from before them.
    const sqsFrom = sqsBeforePut;
    child.send({ type: 'start' });
    await child.receive('started');
    const started = performance.now();
    let depth = await stack.depth();
    while (depth.queue > 0) {
      if (performance.now() - started > timeoutMs)
        throw new Error(`small (${mode}): ${depth.queue} messages left after ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      depth = await stack.depth();
    }
    const seconds = (performance.now() - started) / 1000;
    child.send({ type: 'exit' });
    const peak = await child.receive('peak');
    const dropboxLog = stack.dropbox.requestLog.slice(dropboxFrom);
    const s3Calls = stack.stack.s3.calls.slice(s3From);
    const ssmCalls = stack.stack.ssm.calls
      .slice(ssmFrom)
      .filter((call) => call.action === 'GetParametersByPath');
    const exported = (await stack.dropboxClient.listFolder(baseFolder)).length;
    context.log(`small (${mode}): ${files} files in ${seconds.toFixed(1)} s`);
    return {
      mode,
      files,
      seconds: round(seconds, 2),
      filesPerSecond: round(files / seconds, 1),
      exported,
      deadLettered: depth.dlq - before.dlq,
      dropboxCallsPerFile: round(dropboxLog.length / files, 3),
      dropboxUploadCallsPerFile: round(
        dropboxLog.filter((entry) => isUploadRoute(entry.route)).length / files,
        3,
      ),
      dropboxCallsByRoute: countBy(dropboxLog, (entry) => entry.route),
      lockContentionRetries: dropboxLog.filter((entry) => entry.fault === 'write-lock').length,
      s3CallsPerFile: round(s3Calls.length / files, 3),
      s3CallsByAction: countBy(s3Calls, (call) => call.action),
      ssmCalls: ssmCalls.length,
      ssmCallsAllowed: Math.max(1, Math.ceil(seconds / SETTINGS_TTL_SECONDS)),
      batches: Number(peak.batches ?? 0),
      invocations: Number(peak.invocations ?? 0),
      invokedSeconds: round(Number(peak.invokedMs ?? 0) / 1000, 2),
      // Only the queue's own calls: the bench's depth checks (GetQueueAttributes) are not the function's.
      sqsCallsByAction: countBy(
        stack.stack.sqs.calls.slice(sqsFrom).filter((call) => call.action !== 'GetQueueAttributes'),
        (call) => call.action,
      ),
      recordFailures,
      ledger: {
        callsPerFile: round(dynamodb.calls.length / files, 3),
        callsByOperation: countBy(dynamodb.calls, (call) => call.operation),
        msPerFile: round(dynamodb.calls.reduce((sum, call) => sum + call.ms, 0) / files, 2),
        conditionalFailures: dynamodb.calls.filter((call) => call.status === 400).length,
      },
    };
  } finally {
    await child.exit();
    await dynamodb.close();
    stack.dropbox.setFaults({});
  }
}

/** Runs one commit per file first, then the default (batched) run, on fresh objects each. */
export async function runSmall(context: BenchContext, files: number): Promise<SmallResult> {
  const timeoutMs = 6 * 60_000;
  const oneCommitPerFile = await runOnce(context, 'one commit per file', files, timeoutMs);
  const batched = await runOnce(context, 'batched', files, timeoutMs);
  const speedup = round(batched.filesPerSecond / oneCommitPerFile.filesPerSecond, 2);
  return {
    batched,
    oneCommitPerFile,
    speedup,
    targets: {
      speedup: { target: '>= 6 x one commit per file', measured: speedup, met: speedup >= 6 },
      dropboxCallsPerFile: {
        target: '<= 1.2',
        measured: batched.dropboxCallsPerFile,
        met: batched.dropboxCallsPerFile <= 1.2,
      },
      dropboxUploadCallsPerFile: {
        target: '<= 1.2 (data-transport calls only)',
        measured: batched.dropboxUploadCallsPerFile,
        met: batched.dropboxUploadCallsPerFile <= 1.2,
      },
      s3CallsPerFile: { target: '<= 4', measured: batched.s3CallsPerFile, met: batched.s3CallsPerFile <= 4 },
      ssmCallsPerTtl: {
        target: '<= 1 per TTL',
        measured: batched.ssmCalls,
        met: batched.ssmCalls <= batched.ssmCallsAllowed,
      },
      deadLettered: {
        target: '0 records in the DLQ',
        measured: batched.deadLettered,
        met: batched.deadLettered === 0 && batched.exported === files,
      },
    },
  };
}
