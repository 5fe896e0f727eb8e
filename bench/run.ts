/**
 * `npm run bench`: the performance scenarios of issue 7 on the local stack, each against a baseline measured in the
 * same run, with their targets. Prints a summary and writes every figure as JSON under bench/results/ (the last run
 * also as `latest.json`). BENCHMARKS.md explains the last run.
 *
 *   npm run bench                                   # large, wan, small, cold-start
 *   npm run bench -- --only large,cold-start --repeat 1 --size-mib 256 --small-files 200
 *
 * The syncing side always runs as a child process from the function's esbuild bundle, so that its peak RSS is its
 * own and its code is what Lambda runs. A benchmark checks figures against targets; no test asserts a timing.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SQSRecord } from 'aws-lambda';
import { DropboxContentHasher } from '../lib/dropbox/content-hash.ts';
import { parseS3Message } from '../lib/s3-event.ts';
import { generateStream } from '../tools/generated-content.ts';
import { readScriptOptions } from '../tools/script-options.ts';
import { type ColdStartResult, runColdStart } from './scenarios/cold-start.ts';
import { type LargeObject, type LargeResult, runLarge } from './scenarios/large.ts';
import { runSmall, type SmallResult } from './scenarios/small.ts';
import { runWan, type WanResult } from './scenarios/wan.ts';
import { bundleEntry } from './support/bundle.ts';
import { type BenchContext, GIB, MIB, round, type Target } from './support/context.ts';
import { lambdaCost, PRICED_DEFAULTS, PRICES, requestCosts, usd } from './support/cost.ts';
import { startBenchStack } from './support/stack.ts';

const SCENARIOS = ['large', 'wan', 'small', 'cold-start'] as const;
type Scenario = (typeof SCENARIOS)[number];

function log(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      repeat: { type: 'string' },
      'size-mib': { type: 'string' },
      'small-files': { type: 'string' },
      'cold-rounds': { type: 'string' },
      'five-gib': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help' as const;
  const only = (values.only ?? SCENARIOS.join(',')).split(',').map((name) => name.trim());
  const unknown = only.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}: use ${SCENARIOS.join(', ')}`);
  const count = (value: string | undefined, fallback: number): number => {
    const parsed = Number(value ?? fallback);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`not a positive whole number: ${value}`);
    return parsed;
  };
  return {
    scenarios: new Set(only as Scenario[]),
    repeat: count(values.repeat, 3),
    sizeBytes: count(values['size-mib'], 1024) * MIB,
    smallFiles: count(values['small-files'], 1000),
    coldRounds: count(values['cold-rounds'], 9),
    fiveGiB: (values['five-gib'] ?? 'yes') !== 'no',
  };
}

/** Puts a generated object (hashed on the way) and returns it with its notification. */
async function putGeneratedObject(
  context: BenchContext,
  key: string,
  size: number,
  seed: number,
  warmUp: SQSRecord,
): Promise<LargeObject> {
  const hasher = new DropboxContentHasher();
  log(`putting the ${size / MIB} MiB object ${key} into the local S3`);
  await context.stack.putObject(
    key,
    generateStream(size, seed, (piece) => hasher.update(piece)),
    size,
    { 'ticket-type': 'service' },
  );
  const [record] = await context.stack.takeRecords(1);
  if (record === undefined || !recordNames(record, key)) throw new Error(`no notification for ${key}`);
  return {
    key,
    fileName: key.slice(key.lastIndexOf('/') + 1),
    size,
    contentHash: hasher.digest(),
    record,
    warmUp,
  };
}

function recordNames(record: SQSRecord, key: string): boolean {
  const parsed = parseS3Message(record.messageId, record.body);
  return parsed.kind === 'records' && parsed.records[0]?.key === key;
}

/** Puts the small warm-up object and returns its notification. */
async function prepareWarmUp(context: BenchContext): Promise<SQSRecord> {
  await context.stack.putObject('tickets/bench/warm-up.bin', generateStream(1024, 1), 1024, {
    'ticket-type': 'service',
  });
  const [record] = await context.stack.takeRecords(1);
  if (record === undefined || !recordNames(record, 'tickets/bench/warm-up.bin'))
    throw new Error('no notification for the warm-up object');
  return record;
}

interface Results {
  large?: LargeResult;
  wan?: WanResult;
  small?: SmallResult;
  coldStart?: ColdStartResult;
}

/** The figures of each scenario, one line per comparison. */
function describe(results: Results): string[] {
  const lines: string[] = [];
  const { large, wan, small, coldStart } = results;
  if (large !== undefined) {
    const gets = Math.max(...large.sync.map((run) => run.s3CallsByAction.GetObject ?? 0));
    const { cpuSecondsPerGiB: cpu, stores } = large;
    lines.push(
      `large (${large.sizeMiB} MiB, ${large.sync.length} runs each, medians; Dropbox emulator in its own process, hash-only store): raw baseline ${large.rawMedianMiBps} MiB/s, sync ${large.syncMedianMiBps} MiB/s = ${large.throughputRatio} x`,
      `  CPU seconds per GiB of the measured process: raw ${cpu.raw}, sync ${cpu.sync} = ${cpu.ratio} x`,
      `  peak RSS ${large.peakRssMiB} MiB (${large.sync[0]?.loadedRssMiB} MiB with the function loaded); Dropbox calls per GiB ${large.dropboxCallsPerGiB} (upload calls ${large.dropboxUploadCallsPerGiB}); GetObject calls ${gets}; data calls without content_hash ${large.dataCallsWithoutContentHash}`,
      `  pieces ${stores.default} (default) against ${stores.other}: ${large.syncMedianMiBps} / ${large.otherStoreMedianMiBps} MiB/s (${large.throughputRatio} / ${large.otherStoreThroughputRatio} x), CPU ${cpu.sync} / ${cpu.otherStore} s per GiB, peak RSS ${large.peakRssMiB} / ${large.otherStorePeakRssMiB} MiB`,
    );
    if (large.fiveGiB !== undefined) {
      lines.push(
        `  5 GiB: ${large.fiveGiB.mibPerSecond} MiB/s, peak RSS ${large.fiveGiB.peakRssMiB} MiB, ${large.fiveGiB.dropboxCalls} Dropbox calls`,
      );
    }
  }
  if (wan !== undefined) {
    lines.push(
      `wan (+${wan.conditions.latencyMs} ms a request, ${wan.conditions.bandwidthBytesPerSec / MIB} MiB/s a connection): one sequential session ${wan.sequential.mibPerSecond} MiB/s (${wan.sequential.dropboxUploadCalls} upload calls), sync ${wan.concurrent.mibPerSecond} MiB/s (${wan.concurrent.dropboxUploadCalls}) = ${wan.speedup} x`,
    );
  }
  if (small !== undefined) {
    const { batched, oneCommitPerFile: single } = small;
    lines.push(
      `small (${batched.files} x 64 KiB, 4 pollers, batches of 10, write-lock contention): one commit per file ${single.filesPerSecond} files/s, batched ${batched.filesPerSecond} files/s = ${small.speedup} x`,
      `  per file, batched: ${batched.dropboxCallsPerFile} Dropbox calls (${batched.dropboxUploadCallsPerFile} upload calls), ${batched.s3CallsPerFile} S3 calls; one commit per file: ${single.dropboxCallsPerFile} (${single.dropboxUploadCallsPerFile}), ${single.s3CallsPerFile}`,
      `  lock-contention retries: batched ${batched.lockContentionRetries}, one commit per file ${single.lockContentionRetries}; SSM calls ${batched.ssmCalls} (allowed ${batched.ssmCallsAllowed}); DLQ ${batched.deadLettered} / ${single.deadLettered}; records retried: ${JSON.stringify(batched.recordFailures)} / ${JSON.stringify(single.recordFailures)}`,
      `  the export ledger per file, batched: ${batched.ledger.callsPerFile} DynamoDB calls ${JSON.stringify(batched.ledger.callsByOperation)}, ${batched.ledger.msPerFile} ms waited; one commit per file: ${single.ledger.callsPerFile}, ${single.ledger.msPerFile} ms`,
    );
  }
  if (coldStart !== undefined) {
    const added = Object.entries(coldStart.addedMsByDependency)
      .map(([name, { addedMs }]) => `${name} +${addedMs} ms`)
      .join(', ');
    lines.push(
      `cold start: bundle ${Math.round(coldStart.function.bytes / 1024)} KiB (${Math.round(coldStart.function.deflatedBytes / 1024)} KiB deflated) imports in ${coldStart.function.medianImportMs} ms; S3-only ${Math.round(coldStart.s3Only.bytes / 1024)} KiB in ${coldStart.s3Only.medianImportMs} ms = ${coldStart.ratio} x`,
      `  on top of the S3-only handler: ${added}`,
    );
  }
  return lines;
}

/** What the measured work costs at the stack's defaults and the published prices (bench/support/cost.ts). */
function estimateCost(results: Results) {
  const { large, small } = results;
  const perGiB =
    large === undefined
      ? undefined
      : (() => {
          const seconds = 1024 / large.syncMedianMiBps;
          const lambda = lambdaCost(seconds, 1);
          return { seconds: round(seconds, 1), ...lambda, usd: usd(lambda.usd) };
        })();
  const perThousand = (run: SmallResult['batched']) => {
    const scale = 1000 / run.files;
    const scaled = (counts: Readonly<Record<string, number>>) =>
      Object.fromEntries(Object.entries(counts).map(([action, count]) => [action, count * scale]));
    const lambda = lambdaCost(run.invokedSeconds * scale, Math.round(run.invocations * scale));
    const requests = requestCosts(
      scaled(run.s3CallsByAction),
      scaled(run.sqsCallsByAction),
      scaled(run.ledger.callsByOperation),
    );
    return {
      gbSeconds: lambda.gbSeconds,
      invocations: lambda.invocations,
      usd: {
        lambda: usd(lambda.usd),
        s3: usd(requests.s3),
        sqs: usd(requests.sqs),
        dynamodb: usd(requests.dynamodb),
        total: usd(lambda.usd + requests.s3 + requests.sqs + requests.dynamodb),
      },
    };
  };
  return {
    prices: PRICES,
    defaults: PRICED_DEFAULTS,
    perGiB,
    perThousandSmallFiles:
      small === undefined
        ? undefined
        : { batched: perThousand(small.batched), oneCommitPerFile: perThousand(small.oneCommitPerFile) },
  };
}

function describeCost(cost: ReturnType<typeof estimateCost>): string[] {
  const lines = [
    `cost at the stack's defaults (${cost.defaults.memoryMiB} MB, ${cost.defaults.ephemeralStorageMiB} MiB of /tmp, arm64, US East prices):`,
  ];
  if (cost.perGiB !== undefined) {
    lines.push(
      `  per GiB exported: ${cost.perGiB.gbSeconds} GB-s (${cost.perGiB.seconds} s of handler time here) = $${cost.perGiB.usd}`,
    );
  }
  const small = cost.perThousandSmallFiles;
  if (small !== undefined) {
    for (const [label, figures] of [
      ['batched', small.batched],
      ['one commit per file', small.oneCommitPerFile],
    ] as const) {
      lines.push(
        `  per 1,000 small files, ${label}: ${figures.gbSeconds} GB-s in ${figures.invocations} invocations; Lambda $${figures.usd.lambda}, S3 $${figures.usd.s3}, SQS $${figures.usd.sqs}, DynamoDB $${figures.usd.dynamodb}; total $${figures.usd.total}`,
      );
    }
  }
  return lines;
}

function printTargets(name: string, targets: Record<string, Target>): void {
  for (const [figure, { target, measured, met, reason }] of Object.entries(targets)) {
    const why = met || reason === undefined ? '' : `: ${reason}`;
    process.stdout.write(
      `  ${met ? 'met   ' : 'MISSED'} ${name}.${figure}: ${measured} (target ${target})${why}\n`,
    );
  }
}

const USAGE = `Usage: npm run bench -- [options]

Runs the performance scenarios on the local stack, each against a baseline measured in the same run, and prints
every figure with its target (JSON in bench/results/). About 8 minutes with the defaults on 2 cores.

Options:
  --only LIST          scenarios to run, comma-separated: ${SCENARIOS.join(', ')} (default: all)
  --repeat N           runs of the large-file scenario (default 3)
  --size-mib N         size of the large object in MiB (default 1024)
  --small-files N      files in the small-file scenario (default 1000)
  --cold-rounds N      cold starts measured (default 9)
  --five-gib yes|no    also stream a 5 GiB object for its peak RSS (default yes)
  -h, --help           show this help
`;

async function main(): Promise<number> {
  const read = readScriptOptions('bench', USAGE, parseOptions);
  if ('exitCode' in read) return read.exitCode;
  const { options } = read;
  const started = Date.now();
  const machine = {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / MIB),
    node: process.version,
    kernel: release(),
    loadAverageAtStart: loadavg().map((value) => round(value, 2)),
  };
  log(`machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryMiB} MiB, Node ${machine.node}`);
  const scratch = await mkdtemp(join(tmpdir(), 'tds-bench-build-'));
  log('bundling the function and the bench processes with esbuild (infra options)');
  const bundles = {
    handler: await bundleEntry('functions/sync-to-dropbox/handler.ts', join(scratch, 'handler', 'index.mjs')),
    syncChild: await bundleEntry('bench/sync-child.ts', join(scratch, 'sync-child', 'index.mjs')),
    rawChild: await bundleEntry('bench/raw-child.ts', join(scratch, 'raw-child', 'index.mjs')),
  };
  const stack = await startBenchStack();
  const context: BenchContext = { stack, bundles, scratch, log };
  const results: Results = {};
  const targets: Record<string, Record<string, Target>> = {};
  try {
    if (options.scenarios.has('large') || options.scenarios.has('wan')) {
      const warmUp = await prepareWarmUp(context);
      const object = await putGeneratedObject(
        context,
        'tickets/bench/large.bin',
        options.sizeBytes,
        2,
        warmUp,
      );
      if (options.scenarios.has('large')) {
        const large = await runLarge(context, object, {
          repeat: options.repeat,
          fiveGiB: options.fiveGiB
            ? () => putGeneratedObject(context, 'tickets/bench/five-gib.bin', 5 * GIB, 5, warmUp)
            : undefined,
        });
        results.large = large;
        targets.large = large.targets;
      }
      if (options.scenarios.has('wan')) {
        const wan = await runWan(context, object);
        results.wan = wan;
        targets.wan = wan.targets;
      }
    }
    if (options.scenarios.has('small')) {
      const small = await runSmall(context, options.smallFiles);
      results.small = small;
      targets.small = small.targets;
    }
    if (options.scenarios.has('cold-start')) {
      const cold = await runColdStart(context, options.coldRounds);
      results.coldStart = cold;
      targets.coldStart = cold.targets;
    }
  } finally {
    await stack.close();
    await rm(scratch, { recursive: true, force: true });
  }
  const cost = estimateCost(results);
  const report = {
    startedAt: new Date(started).toISOString(),
    durationSeconds: round((Date.now() - started) / 1000, 1),
    machine: { ...machine, loadAverageAtEnd: loadavg().map((value) => round(value, 2)) },
    options: { ...options, scenarios: [...options.scenarios] },
    results,
    cost,
  };
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(resultsDir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(resultsDir, `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(join(resultsDir, 'latest.json'), text);
  process.stdout.write(`\nResults (${report.durationSeconds} s; JSON in ${file}):\n`);
  for (const line of [...describe(results), ...describeCost(cost)]) process.stdout.write(`${line}\n`);
  process.stdout.write('Targets:\n');
  for (const [name, scenarioTargets] of Object.entries(targets)) printTargets(name, scenarioTargets);
  return 0;
}

process.exitCode = await main();
