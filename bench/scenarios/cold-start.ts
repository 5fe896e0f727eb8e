/**
 * Scenario **cold start**: the function's bundle (esbuild with infra's options) and the time a fresh Node process
 * takes to import it, against a handler that imports only `@aws-sdk/client-s3`, bundled the same way. Imports
 * alternate between the two, each in a new process; the ratio is of the medians. Target: ≤ 1.5 × the S3-only
 * handler's import time. To show what the difference is made of, it also times the S3-only handler plus each of
 * the function's other dependencies, one at a time (their cost on top of S3's; shared code counts once).
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { type Bundle, bundleEntry } from '../support/bundle.ts';
import { type BenchContext, median, round, type Target } from '../support/context.ts';

/** One bundle's figures. */
export interface BundleFigures {
  readonly bytes: number;
  /** About what the deployment zip weighs. */
  readonly deflatedBytes: number;
  readonly importMs: readonly number[];
  readonly medianImportMs: number;
}

/** The scenario's result. */
export interface ColdStartResult {
  readonly function: BundleFigures;
  readonly s3Only: BundleFigures;
  readonly ratio: number;
  /** Median import time of the S3-only handler plus one more dependency, minus the S3-only handler's. */
  readonly addedMsByDependency: Record<string, { readonly bytes: number; readonly addedMs: number }>;
  readonly targets: Record<string, Target>;
}

const IMPORT_SCRIPT = [
  "import { pathToFileURL } from 'node:url';",
  'const started = performance.now();',
  'await import(pathToFileURL(process.argv[1]).href);',
  'process.stdout.write(JSON.stringify({ ms: performance.now() - started }));',
].join('\n');

/** A Lambda-like environment without endpoints: the module's top level runs as it would at an init. */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  INSTANCE_NAME: 'default',
  SETTINGS_PATH: '/ticket-dropbox-sync/default/',
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/ticket-dropbox-sync-default',
  POWERTOOLS_LOG_LEVEL: 'WARN',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/** The function's dependencies besides the S3 client, each imported (and used) on top of the S3-only handler. */
const DEPENDENCIES: Record<string, string> = {
  'zod/mini': "import * as z from 'zod/mini'; export const schema = z.object({ name: z.string() });",
  'client-dynamodb + lib-dynamodb':
    "import { DynamoDBClient } from '@aws-sdk/client-dynamodb'; import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'; export const ledger = DynamoDBDocumentClient.from(new DynamoDBClient({}));",
  dropbox: "import { Dropbox } from 'dropbox'; export const sdk = Dropbox;",
  'client-ssm + client-sqs':
    "import { SSMClient } from '@aws-sdk/client-ssm'; import { SQSClient } from '@aws-sdk/client-sqs'; export const clients = [new SSMClient({}), new SQSClient({})];",
  'powertools + middy': [
    "import { BatchProcessor } from '@aws-lambda-powertools/batch';",
    "import { Logger } from '@aws-lambda-powertools/logger';",
    "import { Metrics } from '@aws-lambda-powertools/metrics';",
    "import middy from '@middy/core';",
    'export const parts = [new Logger(), new Metrics(), BatchProcessor, middy];',
  ].join('\n'),
};

function importOnce(bundle: Bundle): number {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', IMPORT_SCRIPT, bundle.file], {
    env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`importing ${bundle.file} failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { ms: number }).ms;
}

async function figures(bundle: Bundle, importMs: readonly number[]): Promise<BundleFigures> {
  return {
    bytes: bundle.bytes,
    deflatedBytes: deflateRawSync(await readFile(bundle.file)).byteLength,
    importMs: importMs.map((ms) => round(ms, 1)),
    medianImportMs: round(median(importMs), 1),
  };
}

/** Bundles the S3-only handler and times `rounds` imports of each bundle, in turn. */
export async function runColdStart(context: BenchContext, rounds: number): Promise<ColdStartResult> {
  const s3OnlySource = "export { handler } from './bench/support/s3-only-handler.ts';";
  const s3Only = await bundleEntry({ source: s3OnlySource }, join(context.scratch, 's3-only', 'index.mjs'));
  const extras = await Promise.all(
    Object.entries(DEPENDENCIES).map(async ([name, source], index) => ({
      name,
      bundle: await bundleEntry(
        { source: `${s3OnlySource}\n${source}` },
        join(context.scratch, `s3-plus-${index}`, 'index.mjs'),
      ),
    })),
  );
  const candidates = [context.bundles.handler, s3Only, ...extras.map((extra) => extra.bundle)];
  const times = candidates.map((): number[] => []);
  // One import of each first, unmeasured: the file system cache is then warm for all alike.
  for (const bundle of candidates) importOnce(bundle);
  for (let round = 0; round < rounds; round += 1) {
    candidates.forEach((bundle, index) => {
      times[index]?.push(importOnce(bundle));
    });
  }
  const [functionMs = [], s3OnlyMs = []] = times;
  const result = {
    function: await figures(context.bundles.handler, functionMs),
    s3Only: await figures(s3Only, s3OnlyMs),
  };
  const addedMsByDependency: ColdStartResult['addedMsByDependency'] = {};
  extras.forEach((extra, index) => {
    addedMsByDependency[extra.name] = {
      bytes: extra.bundle.bytes - s3Only.bytes,
      addedMs: round(median(times[index + 2] ?? []) - result.s3Only.medianImportMs, 1),
    };
  });
  const ratio = round(result.function.medianImportMs / result.s3Only.medianImportMs, 2);
  context.log(
    `cold start: ${result.function.medianImportMs} ms against ${result.s3Only.medianImportMs} ms (S3 only)`,
  );
  return {
    ...result,
    ratio,
    addedMsByDependency,
    targets: {
      importRatio: {
        target: '<= 1.5 x the S3-only handler',
        measured: ratio,
        met: ratio <= 1.5,
        reason: `on top of the S3-only handler, ${Object.entries(addedMsByDependency)
          .sort((a, b) => b[1].addedMs - a[1].addedMs)
          .map(([name, { addedMs }]) => `${name} +${addedMs} ms`)
          .join(', ')}; the rest is the project's own modules and the clients made at init`,
      },
    },
  };
}
