/**
 * `npm run soak`: the fault-injection soak (issues 8, 11 and 12). Uploads a seeded population of ticket files to the
 * local stack (s3rver behind the notifying proxy, the SQS and SSM emulators, dynalite holding the export ledger, the
 * background pollers running the function's own handler) in the default settings (one folder, `{fileName}`,
 * `rename`), where a third of the files share their name with another ticket's file, while the Dropbox emulator
 * injects faults and the queue redelivers and reorders; changes objects during the run (new versions, late final
 * tags, unrelated tags, deletes); puts in poison and malformed messages; then verifies S3, Dropbox, the ledger and
 * the DLQ (tools/soak/verify.ts) and prints the result. Exits 1 when anything is lost, duplicated or owned by
 * another object, or any other check fails. Bounded: a fixed population, at most 3 GiB (plus the 5 GiB object), and a
 * deadline after which it verifies whatever state it reached.
 *
 *   npm run soak -- [--objects 500] [--seed 20261127] [--pollers 2] [--minutes 20] [--outage-seconds 180]
 *                   [--skip-5gib] [--skip-large] [--keep] [--help]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimited } from '../../cli/for-each-limited.ts';
import {
  createDynamoDbClient,
  createS3Client,
  createSqsClient,
  uploadSendOptions,
} from '../../lib/aws/clients.ts';
import { FLOW_CONTROL_ID } from '../../lib/aws/dynamodb-flow-control.ts';
import { countQueued, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import { errorMessage } from '../../lib/errors.ts';
import { sleep } from '../../lib/retry.ts';
import { type RecordFailure, TRANSIENT_BACKOFF } from '../../lib/sqs-record.ts';
import type { FaultOptions } from '../emulators/dropbox/server.ts';
import { EMULATOR_CLIENT_CREDENTIALS } from '../emulators/dropbox/server.ts';
import { startLocalStack } from '../local/stack.ts';
import { readScriptOptions } from '../script-options.ts';
import { createRandom } from '../seeded-random.ts';
import { generatedBody, generatedBytes, generatedContentHashInWorker } from './content.ts';
import { type DropboxStats, startDropboxProcess } from './dropbox-process.ts';
import {
  describeHungCall,
  describeOutage,
  type HungCall,
  hangOneS3Call,
  type OutageRecord,
  pickHangTarget,
  runOutage,
} from './incidents.ts';
import {
  BASE_FOLDER,
  buildPopulation,
  encodeMetadata,
  expectationOf,
  lateFinalTags,
  nextVersion,
  PATH_CLASH,
  POISON_MARKER,
  pathClashObject,
  SOAK_EFFECTIVE_SETTINGS,
  SOAK_SETTINGS,
  type SoakObject,
  unrelatedTags,
} from './population.ts';
import { type RecordedOutcome, type Verdict, verifySoak } from './verify.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** The population's byte budget (issue 8: at most 3 GiB in all). */
const MAX_POPULATION_BYTES = 3 * GIB;
/** S3's single-PUT maximum: the soak's last object. */
const FIVE_GIB = 5 * GIB;
/** The soak process (function, pollers, SQS/SSM emulators, S3 proxy) must stay under this, 5 GiB object included. */
const MAX_RSS_BYTES = 1.5 * GIB;
/** Uploads to S3 at once. */
const PUT_CONCURRENCY = 4;

/** Dropbox faults: 20 % of requests (429 with and without Retry-After, 500/503, resets mid-body), plus latency and
 * namespace lock contention on every commit. */
const DROPBOX_FAULTS: FaultOptions = {
  rate429: 0.05,
  rate429WithoutRetryAfter: 0.03,
  rate5xx: 0.06,
  rateReset: 0.06,
  latencyMs: 15,
  writeLockContention: true,
  retryAfterSeconds: 1,
};

/**
 * The outage in the middle of the run: Dropbox full for 3 minutes by default. Longer than five receive cycles: a
 * record failing on every receive reaches the DLQ after five receives, with the queue's transient backoff between
 * them (10 s doubling, jitter), within 10 + 20 + 40 + 80 s = 2m30s at most; and longer than five of the account-wide
 * requeue delays below. No record may reach the DLQ because of it.
 */
const DEFAULT_OUTAGE_SECONDS = 180;
/** The longest span of five receives of a record failing every time: the four transient backoffs between them. */
const FIVE_RECEIVES_MS = [0, 1, 2, 3].reduce(
  (sum, attempt) => sum + Math.min(TRANSIENT_BACKOFF.capMs, TRANSIENT_BACKOFF.baseMs * 2 ** attempt),
  0,
);

/** The outage's length in receive cycles, for the report. */
function describeCycles(outageSeconds: number): string {
  const times = (outageSeconds * 1000) / FIVE_RECEIVES_MS;
  const span = formatDuration(FIVE_RECEIVES_MS);
  return times > 1
    ? `${times.toFixed(1)} times the longest five receive cycles: five receives with the transient backoff between them take at most ${span}`
    : `NOT longer than five receive cycles (at most ${span}): choose --outage-seconds above ${FIVE_RECEIVES_MS / 1000}`;
}
/**
 * The breaker's probe runs every 15 s (every 5 minutes as deployed) and a record that failed account-wide is requeued
 * with a 10 s delay (minutes as deployed), through the local stack's `breakerProbeSeconds` and the function's own
 * `ACCOUNT_RETRY_DELAY_SECONDS`: the soak's minutes could not hold the deployed ones.
 */
const PROBE_SECONDS = 15;
const ACCOUNT_RETRY_DELAY_SECONDS = '10';

/** Bodies that are not S3 notifications: skipped with a reason, never poison. */
const MALFORMED_BODIES = [
  'not json at all',
  '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}',
  JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'ticket-files' }),
];

interface Options {
  readonly objects: number;
  readonly seed: number;
  readonly pollers: number;
  readonly minutes: number;
  readonly skip5Gib: boolean;
  /** No 100–300 MiB objects and fewer medium ones (a quicker run while developing; implies --skip-5gib). */
  readonly skipLarge: boolean;
  readonly keep: boolean;
  /** How long Dropbox is full in the middle of the run (0: no outage). */
  readonly outageSeconds: number;
}

function readOptions(): Options | 'help' {
  const { values } = parseArgs({
    options: {
      objects: { type: 'string', default: '500' },
      seed: { type: 'string', default: '20261127' },
      pollers: { type: 'string', default: '2' },
      minutes: { type: 'string', default: '20' },
      'skip-5gib': { type: 'boolean', default: false },
      'skip-large': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'outage-seconds': { type: 'string', default: String(DEFAULT_OUTAGE_SECONDS) },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const integer = (name: string, value: string, min: number, max: number): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new RangeError(`--${name} must be an integer in [${min}, ${max}], got ${value}`);
    }
    return parsed;
  };
  return {
    objects: integer('objects', values.objects, 10, 2000),
    seed: integer('seed', values.seed, 0, 2 ** 31),
    pollers: integer('pollers', values.pollers, 1, 16),
    minutes: integer('minutes', values.minutes, 1, 30),
    skip5Gib: values['skip-5gib'] || values['skip-large'],
    skipLarge: values['skip-large'],
    keep: values.keep,
    outageSeconds: integer('outage-seconds', values['outage-seconds'], 0, 600),
  };
}

function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(2)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${bytes} B`;
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([name, count]) => `${name} ${count}`).join(', ');
}

function tagging(tags: Readonly<Record<string, string>>): string | undefined {
  const entries = Object.entries(tags);
  return entries.length === 0
    ? undefined
    : entries.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
}

const USAGE = `Usage: npm run soak -- [options]

Uploads a seeded population of ticket files to the local stack while the Dropbox emulator injects faults and the
queue redelivers and reorders; puts in a Dropbox outage, one hung S3 call and a path clash; then verifies S3, Dropbox,
the export ledger and the DLQ (docs/reliability.md). Exits 1 when anything is lost, duplicated or owned by another
object, or any other check fails. About 15 minutes with the defaults on 2 cores.

Options:
  --objects N          objects in the population, 10 to 2000 (default 500)
  --seed N             the population's and the faults' seed (default 20261127)
  --pollers N          background pollers running the function, 1 to 16 (default 2)
  --minutes N          deadline of the run, after which it verifies what it reached, 1 to 30 (default 20)
  --outage-seconds N   how long Dropbox is full in the middle of the run, 0 to 600, 0 for none (default ${DEFAULT_OUTAGE_SECONDS})
  --skip-5gib          leave out the 5 GiB object
  --skip-large         leave out the 100-300 MiB objects, fewer 2-40 MiB ones (implies --skip-5gib)
  --keep               keep the run's data folder
  -h, --help           show this help
`;

async function main(): Promise<number> {
  const read = readScriptOptions('soak', USAGE, readOptions);
  if ('exitCode' in read) return read.exitCode;
  const { options } = read;
  const started = Date.now();
  const deadline = started + options.minutes * 60_000;
  // The function's JSON log lines would bury the report; every outcome reaches the soak through onOutcome, which the
  // function calls right after logging it with the same reason.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const random = createRandom(options.seed + 1);
  const objects = [
    ...buildPopulation({
      count: options.objects,
      seed: options.seed,
      ...(options.skipLarge ? { largeMiB: [], medium: 3 } : {}),
    }),
    pathClashObject(options.seed),
  ];
  const populationBytes = objects.reduce((sum, object) => sum + (object.versions[0]?.size ?? 0), 0);
  if (populationBytes > MAX_POPULATION_BYTES)
    throw new RangeError(`population of ${formatBytes(populationBytes)}`);

  const dir = mkdtempSync(join(tmpdir(), 'tds-soak-'));
  const outcomes: RecordedOutcome[] = [];
  const failures: RecordFailure[] = [];
  const pollerErrors: string[] = [];
  const mutationErrors: string[] = [];
  const exportedKeys = new Set<string>();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);
  sampler.unref();
  const discard = (): void => {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };

  const dropbox = await startDropboxProcess({
    root: join(dir, 'dropbox'),
    poisonMarker: POISON_MARKER,
  }).catch((error: unknown) => {
    discard();
    throw error;
  });
  // Before the run and its faults: what an earlier deployment left in Dropbox (the path clash's alias folder).
  const foreignFiles = await seedEarlierExports(dropbox.url).catch(async (error: unknown) => {
    await dropbox.close();
    discard();
    throw error;
  });
  await dropbox.setFaults(DROPBOX_FAULTS);
  process.env.ACCOUNT_RETRY_DELAY_SECONDS ??= ACCOUNT_RETRY_DELAY_SECONDS;
  const stack = await startLocalStack({
    dir,
    pollers: options.pollers,
    breakerProbeSeconds: PROBE_SECONDS,
    dropboxEndpointUrl: dropbox.url,
    sqsFaults: { redeliverRate: 0.05, reorder: true, seed: options.seed },
    initialSettings: SOAK_SETTINGS,
    onOutcome: (outcome, messageId) => {
      outcomes.push({ at: Date.now(), messageId, outcome });
      if (outcome.decision === 'exported') exportedKeys.add(outcome.key);
    },
    onFailure: (failure) => failures.push(failure),
    onError: (error) => pollerErrors.push(errorMessage(error)),
  }).catch(async (error: unknown) => {
    await dropbox.close();
    discard();
    throw error;
  });
  const s3 = createS3Client({ env: stack.env });
  const sqs = createSqsClient({ env: stack.env });
  const ledgerClient = createDynamoDbClient({ env: stack.env });
  const byKey = new Map(objects.map((object) => [object.key, object]));
  /** Which of `keys` wrote the Dropbox file they share (its ledger item does not say `adopted`); the first if none. */
  const writerOf = async (keys: readonly string[]): Promise<string> => {
    for (const key of keys) {
      const { Item } = await ledgerClient.send(
        new GetCommand({
          TableName: stack.outputs.LedgerTableName,
          Key: { id: `s3://${stack.outputs.BucketName}/${key}` },
          ConsistentRead: true,
        }),
      );
      if (Item?.state === 'exported' && Item.adopted !== true) return key;
    }
    return keys[0] ?? '';
  };
  const bucket = stack.outputs.BucketName;
  let verdict: Verdict | undefined;
  let fiveGib: string | undefined;
  let hung: HungCall | undefined;
  let hungCall = 'none';
  let outage: Promise<OutageRecord | undefined> | undefined;
  /** Set once the run is over (or failed): an outage not started by then never starts. */
  let ended = false;
  let outageLine = 'none (--outage-seconds 0)';
  try {
    process.stdout.write(
      `soak: ${objects.length} objects (${formatBytes(populationBytes)}), seed ${options.seed}, data in ${dir}\n`,
    );

    const put = async (object: SoakObject): Promise<void> => {
      const version = object.versions.at(-1);
      if (version === undefined) return;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: object.key,
          Body:
            version.size <= MIB
              ? generatedBytes(version.size, version.seed)
              : generatedBody(version.size, version.seed),
          ContentLength: version.size,
          Metadata: encodeMetadata(object.metadata),
          Tagging: tagging(object.tags),
        }),
        // The request timeout runs until S3's answer: the body's time is added (a 300 MiB or 5 GiB PUT).
        uploadSendOptions(version.size, stack.env),
      );
    };
    const putTags = async (object: SoakObject, tags: Record<string, string>): Promise<void> => {
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: bucket,
          Key: object.key,
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
      object.tags = tags;
    };

    /** What happens to an object after its upload, during the run. */
    /** Waits (bounded) until every one of `keys` has an export outcome; false when the wait ran out. */
    const awaitExports = async (keys: readonly string[]): Promise<boolean> => {
      // Exports stall while the outage lasts: the wait allows for it.
      const until = Math.min(deadline - 4 * 60_000, Date.now() + 180_000 + options.outageSeconds * 1000);
      const done = (): boolean => keys.every((key) => exportedKeys.has(key));
      while (!done() && Date.now() < until) await sleep(250);
      return done();
    };
    const mutate = async (object: SoakObject): Promise<void> => {
      // A third of the new versions follow their upload at once: the same second, often the same size.
      const immediate = object.mutation === 'new-version' && random() < 1 / 3;
      await sleep(immediate ? 0 : Math.floor(random() * 8000));
      switch (object.mutation) {
        case 'new-version': {
          // Identical bytes: once every member shares the file, the member that wrote it gets the new version.
          let target = object;
          if (object.newVersionAfter !== undefined) {
            const members = [object.key, ...object.newVersionAfter];
            await awaitExports(members);
            target = byKey.get(await writerOf(members)) ?? object;
          }
          const rounds = random() < 0.3 ? 2 : 1;
          for (let round = 0; round < rounds; round += 1) {
            target.versions.push(nextVersion(target, random));
            await put(target);
            await sleep(Math.floor(random() * 3000));
          }
          break;
        }
        case 'late-final':
          await putTags(object, lateFinalTags(object));
          break;
        case 'unrelated-tag': {
          // Only once the object is exported: the tag must then upload nothing.
          if (!(await awaitExports([object.key]))) return;
          object.unrelatedTagAt = Date.now();
          await putTags(object, unrelatedTags(object));
          break;
        }
        case 'delete':
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.key }));
          object.deleted = true;
          break;
        case 'none':
          break;
      }
    };

    // One S3 call hangs: the first HeadObject of one object.
    const hangTarget = pickHangTarget(objects);
    hung = hangTarget === undefined ? undefined : hangOneS3Call(stack.s3, hangTarget.key);

    // The 5 GiB object goes in beside the population, its content hash computed in a worker meanwhile.
    const bigObject = options.skip5Gib ? undefined : fiveGibObject(options.seed);
    const knownHashes = new Map<string, string>();
    const bigRun = bigObject === undefined ? Promise.resolve() : putBig(bigObject, put, knownHashes);
    // Awaited after the population's uploads; a failure meanwhile must not end the process unhandled.
    bigRun.catch(() => undefined);

    // Upload everything (in a seeded order), each object's mutation starting after its own upload.
    const order = [...objects];
    for (let index = order.length - 1; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      [order[index], order[other]] = [order[other] as SoakObject, order[index] as SoakObject];
    }
    // Poison first: their five receives, with the queue's backoff between them, take the longest.
    order.sort((a, b) => Number(b.kind === 'poison') - Number(a.kind === 'poison'));
    const mutations: Promise<void>[] = [];
    const units = uploadUnits(order);
    const startOutage = (): Promise<OutageRecord> =>
      runOutage({
        setInsufficientSpace: (on) => dropbox.setInsufficientSpace(on),
        pauseFile: stack.outputs.PauseFile,
        durationMs: options.outageSeconds * 1000,
        readControl: async () =>
          (
            await ledgerClient.send(
              new GetCommand({
                TableName: stack.outputs.LedgerTableName,
                Key: { id: FLOW_CONTROL_ID },
                ConsistentRead: true,
              }),
            )
          ).Item,
      });
    // The outage begins in the middle of the run: once half the objects that qualify at upload are exported (the flow
    // seen running first), or once the uploads and changes are done if that comes first; the rest goes on meanwhile.
    const halfExported = objects.filter((object) => expectationOf(object).export).length / 2;
    let changesDone = false;
    if (options.outageSeconds > 0) {
      outage = (async () => {
        while (exportedKeys.size < halfExported && !changesDone && !ended) await sleep(250);
        if (ended) return undefined;
        process.stdout.write(
          `soak: ${exportedKeys.size} objects exported; Dropbox full for ${formatDuration(options.outageSeconds * 1000)} (the outage)\n`,
        );
        return startOutage();
      })();
    }
    await forEachLimited(units, PUT_CONCURRENCY, async (unit) => {
      // A unit of one name group: same size in the same second (all at once), or identical bytes (in turn).
      if (unit[0]?.nameGroup?.style === 'identical-bytes') for (const object of unit) await put(object);
      else await Promise.all(unit.map((object) => put(object)));
      for (const object of unit) {
        if (object.mutation === 'none') continue;
        mutations.push(
          mutate(object).catch((error: unknown) => {
            mutationErrors.push(`${object.key}: ${object.mutation} failed: ${errorMessage(error)}`);
          }),
        );
      }
    });
    for (const body of MALFORMED_BODIES) {
      await sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.QueueUrl, MessageBody: body }));
    }
    await Promise.all(mutations);
    await bigRun;
    changesDone = true;
    const uploadedAt = Date.now();
    process.stdout.write(
      `soak: uploads and changes done in ${formatDuration(uploadedAt - started)}; draining\n`,
    );

    // Wait until nothing is left in the queue: every message deleted, or moved to the DLQ.
    const depth = async (url: string): Promise<number> => countQueued(await readQueueDepth(sqs, url));
    const drainUntil = deadline - 60_000;
    let lastReport = Date.now();
    let outageOver = outage === undefined;
    void outage?.finally(() => {
      outageOver = true;
    });
    for (;;) {
      const left = await depth(stack.outputs.QueueUrl);
      if (left === 0 && outageOver) break;
      if (Date.now() > drainUntil) {
        process.stdout.write(`soak: deadline reached with ${left} messages still in the queue\n`);
        break;
      }
      if (Date.now() - lastReport > 30_000) {
        const dead = await depth(stack.outputs.DeadLetterQueueUrl);
        process.stdout.write(`soak: ${left} messages in the queue, ${dead} in the DLQ\n`);
        lastReport = Date.now();
      }
      await sleep(1000);
    }
    const drainedAt = Date.now();
    const outageRecord = await outage;
    if (options.outageSeconds > 0) {
      outageLine = describeOutage(outageRecord, started, failures, describeCycles(options.outageSeconds));
    }

    // Verify with faults off: the verifier's own listing is not under test.
    await dropbox.setFaults({});
    stack.sqs.setFaults({});
    const faultStats: DropboxStats = await dropbox.stats();
    const verifier = soakDropboxClient(dropbox.url);
    const verified = await verifySoak({
      objects: bigObject === undefined ? objects : [...objects, bigObject],
      knownHashes,
      foreignFiles,
      outcomes,
      s3,
      bucket,
      dropbox: verifier,
      sqs,
      deadLetterQueueUrl: stack.outputs.DeadLetterQueueUrl,
      ledger: { client: ledgerClient, tableName: stack.outputs.LedgerTableName },
    });
    verdict = { ...verified, problems: [...mutationErrors, ...verified.problems] };

    fiveGib = describeBig(bigObject, verified, outcomes, peakRss);
    hungCall =
      hung === undefined
        ? 'FAILED: no object to hang a call of'
        : describeHungCall(hung, outcomes, failures, verified.exportedPaths.get(hung.key));

    printReport({
      options,
      objects,
      populationBytes,
      verdict,
      outcomes,
      failures,
      faultStats,
      pollerErrors,
      durations: {
        uploads: uploadedAt - started,
        drain: drainedAt - uploadedAt,
        total: Date.now() - started,
      },
      fiveGib,
      hungCall,
      outage: outageLine,
      peakRss,
    });
  } finally {
    ended = true;
    clearInterval(sampler);
    hung?.stop();
    await stack.close();
    await dropbox.close();
    discard();
  }
  const failed =
    verdict === undefined ||
    verdict.lost > 0 ||
    verdict.duplicates > 0 ||
    verdict.ownedByAnother > 0 ||
    verdict.unexpected > 0 ||
    verdict.problems.length > 0 ||
    fiveGib?.startsWith('FAILED') === true ||
    hungCall.startsWith('FAILED') ||
    outageLine.startsWith('FAILED');
  return failed ? 1 : 0;
}

/**
 * The upload units, in `order`: a name group whose members must meet in Dropbox at once (the same size in the same
 * second, or identical bytes) is one unit, placed where its first member is; every other object is a unit alone.
 */
function uploadUnits(order: readonly SoakObject[]): SoakObject[][] {
  const units: SoakObject[][] = [];
  const byGroup = new Map<number, SoakObject[]>();
  for (const object of order) {
    const group = object.nameGroup;
    if (
      group === undefined ||
      (group.style !== 'same-size-same-second' && group.style !== 'identical-bytes')
    ) {
      units.push([object]);
      continue;
    }
    const unit = byGroup.get(group.id);
    if (unit === undefined) {
      const created = [object];
      byGroup.set(group.id, created);
      units.push(created);
    } else {
      unit.push(object);
    }
  }
  // Identical bytes go in the group's own order: its first member writes the file the others then share.
  for (const unit of byGroup.values()) {
    const keys = unit[0]?.nameGroup?.keys ?? [];
    unit.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
  }
  return units;
}

/** A Dropbox client of the emulator's test account, for the soak's own reads and writes (not under test). */
function soakDropboxClient(url: string): DropboxClient {
  return new DropboxClient({
    credentials: EMULATOR_CLIENT_CREDENTIALS,
    endpointUrl: url,
  });
}

/** Writes the files an earlier deployment left (the path clash's alias folder); returns them with their hashes. */
async function seedEarlierExports(url: string): Promise<{ path: string; contentHash: string }[]> {
  const content = Buffer.from(PATH_CLASH.folderFileContent);
  const file = await soakDropboxClient(url).upload({
    path: PATH_CLASH.folderFile,
    size: content.byteLength,
    clientModified: new Date('2026-11-01T09:00:00Z'),
    onConflict: 'rename',
    body: Readable.from([content]),
  });
  return [{ path: file.pathDisplay, contentHash: file.contentHash }];
}

/** The 5 GiB object: a service ticket file, so it exports under any setting. */
function fiveGibObject(seed: number): SoakObject {
  return {
    index: 999_999,
    key: 'tickets/T999999/five-gib.bin',
    kind: 'ticket',
    ticketType: 'service',
    ticketId: 'T999999',
    metadata: { 'ticket-type': 'service', 'ticket-id': 'T999999' },
    uploadTags: {},
    mutation: 'none',
    versions: [{ size: FIVE_GIB, seed: seed + 5 }],
    tags: {},
    deleted: false,
    unrelatedTagAt: undefined,
  };
}

/** Puts the 5 GiB object (streamed from its generator) while a worker computes its content hash. */
async function putBig(
  object: SoakObject,
  put: (object: SoakObject) => Promise<void>,
  knownHashes: Map<string, string>,
): Promise<void> {
  const version = object.versions[0];
  if (version === undefined) return;
  const hash = generatedContentHashInWorker(version.size, version.seed);
  await put(object);
  knownHashes.set(`${version.size}:${version.seed}`, await hash);
}

/** The 5 GiB object's line of the report: exported with its hash verified (by the verifier), and memory bounded. */
function describeBig(
  object: SoakObject | undefined,
  verdict: Verdict,
  outcomes: readonly RecordedOutcome[],
  peakRss: number,
): string {
  if (object === undefined) return 'skipped (--skip-5gib)';
  const problem = verdict.problems.find((line) => line.includes(object.key));
  if (problem !== undefined) return `FAILED: ${problem}`;
  if (peakRss > MAX_RSS_BYTES) return `FAILED: the soak process peaked at ${formatBytes(peakRss)} of RSS`;
  const exported = outcomes.find(
    ({ outcome }) => outcome.key === object.key && outcome.decision === 'exported',
  );
  return `exported at ${exported?.outcome.dropboxPath ?? '?'} with its content hash verified, streamed from a generator (never allocated)`;
}

/** `167 objects in 74 groups (same-size-same-second 73, …)`. */
function describeNameGroups(objects: readonly SoakObject[]): string {
  const grouped = objects.filter((object) => object.nameGroup !== undefined);
  const groups = new Set(grouped.map((object) => object.nameGroup?.id));
  const byStyle: Record<string, number> = {};
  for (const object of grouped) {
    const style = object.nameGroup?.style ?? '';
    byStyle[style] = (byStyle[style] ?? 0) + 1;
  }
  return `${grouped.length} of ${objects.length} objects share their file name with another ticket's file, in ${groups.size} groups (objects by kind: ${formatCounts(byStyle)})`;
}

function printReport(report: {
  readonly options: Options;
  readonly objects: readonly SoakObject[];
  readonly populationBytes: number;
  readonly verdict: Verdict;
  readonly outcomes: readonly RecordedOutcome[];
  readonly failures: readonly RecordFailure[];
  readonly faultStats: DropboxStats;
  readonly pollerErrors: readonly string[];
  readonly durations: { readonly uploads: number; readonly drain: number; readonly total: number };
  readonly fiveGib: string;
  readonly hungCall: string;
  readonly outage: string;
  readonly peakRss: number;
}): void {
  const { verdict, objects } = report;
  const count = (predicate: (object: SoakObject) => boolean): number => objects.filter(predicate).length;
  const byReason: Record<string, number> = {};
  const byDecision: Record<string, number> = {};
  const deliveries = new Map<string, number>();
  for (const { messageId, outcome } of report.outcomes) {
    byDecision[outcome.decision] = (byDecision[outcome.decision] ?? 0) + 1;
    if (outcome.decision === 'skipped')
      byReason[outcome.reason.code] = (byReason[outcome.reason.code] ?? 0) + 1;
    const id = `${messageId} ${outcome.key} ${outcome.eventName}`;
    deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
  }
  const redelivered = [...deliveries.values()].filter((times) => times > 1).length;
  const failuresByCode: Record<string, number> = {};
  for (const failure of report.failures) {
    const name = `${failure.kind}/${failure.code}`;
    failuresByCode[name] = (failuresByCode[name] ?? 0) + 1;
  }
  const faults = report.faultStats.faultsByKind;
  const injected = Object.values(faults).reduce((sum, value) => sum + value, 0);
  const lines = [
    '',
    '== ticket-dropbox-sync soak ==',
    `settings: ${Object.entries(SOAK_EFFECTIVE_SETTINGS)
      .map(([name, value]) => `${name}=${value}`)
      .join(', ')}`,
    `shared names: ${describeNameGroups(objects)}`,
    `objects: ${objects.length} (${formatBytes(report.populationBytes)} at upload; print ${count((o) => o.ticketType === 'print')}, digital-ad ${count((o) => o.ticketType === 'digital-ad')}, digital-media ${count((o) => o.ticketType === 'digital-media')}, service ${count((o) => o.ticketType === 'service' && o.kind === 'ticket')}, not a ticket ${count((o) => o.kind === 'not-a-ticket')}, unknown type ${count((o) => o.kind === 'unknown-type')}, poison ${count((o) => o.kind === 'poison')})`,
    `changes during the run: new versions on ${count((o) => o.versions.length > 1)} objects (${objects.reduce((sum, o) => sum + o.versions.length - 1, 0)} versions), late final tags ${count((o) => o.mutation === 'late-final')}, unrelated tags ${verdict.unrelatedTags.applied}, deletes ${verdict.deleted.total}, malformed/test messages ${MALFORMED_BODIES.length}`,
    `exported: ${verdict.exported} objects with their newest version's content hash at the path their ledger item names${verdict.objects > objects.length ? ' (the 5 GiB object included)' : ''}: ${verdict.renamed} under a renamed name (another ticket's file held it), ${verdict.sharedIdentical} sharing one file with identical bytes`,
    `dropbox: ${verdict.dropboxFiles} files under the base folder; ledger: ${verdict.ledgerItems} items read`,
    `path clash: ${PATH_CLASH.folderFile.slice(0, PATH_CLASH.folderFile.indexOf('/', BASE_FOLDER.length + 1))} is an earlier deployment's alias folder (left as it is); the file named ${PATH_CLASH.key.slice(PATH_CLASH.key.lastIndexOf('/') + 1)} went to ${verdict.exportedPaths.get(PATH_CLASH.key) ?? 'nowhere'}`,
    `skipped by reason (objects): ${formatCounts(verdict.skippedByReason)}`,
    `deleted: ${verdict.deleted.total} (${verdict.deleted.exportedBeforeDelete} exported before their delete and kept: deletes are not propagated)`,
    `outcomes (events, redeliveries included): ${formatCounts(byDecision)}; skipped by reason: ${formatCounts(byReason)}`,
    `unrelated tags: ${verdict.unrelatedTags.applied} applied after export, ${verdict.unrelatedTags.uploadsCaused} uploads caused`,
    `poison: ${verdict.poison.expected} put in, ${verdict.poison.inDeadLetterQueue} distinct messages in the DLQ`,
    `retries: ${report.failures.length} queue-level (records failed and received again: ${formatCounts(failuresByCode)}); ${injected + report.faultStats.poisonRefusals} Dropbox calls answered with a fault and retried in the call or failing their record`,
    `faults injected: Dropbox ${injected} of ${report.faultStats.requests} requests (${formatCounts(faults)}; ${report.faultStats.poisonRefusals} poison refusals; latency ${DROPBOX_FAULTS.latencyMs} ms each; lock contention on); SQS redeliveries 5 % and reordering (${redelivered} messages processed more than once)`,
    `dropbox traffic: ${report.faultStats.requests} requests, ${formatBytes(report.faultStats.bytesIn)} received`,
    `poller errors: ${report.pollerErrors.length}`,
    `time: uploads ${formatDuration(report.durations.uploads)}, drain ${formatDuration(report.durations.drain)}, total ${formatDuration(report.durations.total)}; peak RSS of the soak process ${formatBytes(report.peakRss)}`,
    `5 GiB object (S3 -> SQS -> function -> Dropbox): ${report.fiveGib}`,
    `hung S3 call: ${report.hungCall}`,
    `outage: ${report.outage}`,
    `lost: ${verdict.lost}`,
    `duplicates: ${verdict.duplicates}`,
    `files at a path whose ledger item names another object: ${verdict.ownedByAnother}`,
    `files holding no object's bytes: ${verdict.unexpected}`,
    ...(verdict.problems.length === 0
      ? ['checks: all passed']
      : ['problems:', ...verdict.problems.map((p) => `  ${p}`)]),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  for (const object of objects) {
    // Kept for the reader of a failed run: what each lost object was expected to be.
    if (verdict.problems.some((problem) => problem.includes(object.key))) {
      process.stdout.write(
        `  ${object.key}: ${JSON.stringify({ expectation: expectationOf(object), mutation: object.mutation, versions: object.versions.length })}\n`,
      );
    }
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
