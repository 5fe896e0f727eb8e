/**
 * `backfill [--prefix P] [--since DATE] [--dry-run] [--verify]`: exports files that were in the bucket before the
 * flow existed (or while it was broken). Lists the prefix page by page, reads each object's record in the export
 * ledger, applies the function's rules to the others, and sends the qualifying ones to the queue as S3-shaped
 * `ObjectCreated:Put` notifications, so the function does the export exactly as for a live upload.
 *
 * An object the ledger shows exported at its current version (the listed ETag is the exported one) is skipped with
 * one `GetItem` and no other call: no HeadObject, no tags, no Dropbox. `--verify` also checks each of those in
 * Dropbox by the ledger's file id (`files/get_metadata`), and sends the ones Dropbox no longer holds as recorded, so
 * the function records what it finds. The summary reports the calls made per object.
 */
import { type _Object, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3ObjectStore, stripETag } from '../../lib/aws/s3-object-store.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import { createHttpTransport } from '../../lib/dropbox/http-transport.ts';
import { errorMessage } from '../../lib/errors.ts';
import { isSameContent, type LedgerRecord, ledgerId } from '../../lib/ledger.ts';
import type { DropboxTarget, ExportLedger, ObjectStore } from '../../lib/ports.ts';
import { evaluateExport } from '../../lib/rules.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import {
  InvalidSettingsError,
  parseRuleSettings,
  parseSettings,
  type RuleSettings,
} from '../../lib/settings.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_KEY_PREFIX } from '../defaults.ts';
import type { Deployment } from '../deployment.ts';
import { CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { forEachLimited } from '../for-each-limited.ts';
import { type CliIo, printJson, printLines } from '../io.ts';
import { openLedger, readLedgerRecord } from '../ledger.ts';
import { createProgressBar } from '../progress.ts';

/** Options of `backfill`. */
export interface BackfillOptions {
  readonly prefix?: string;
  readonly since?: Date;
  readonly dryRun?: boolean;
  /** Check each object the ledger shows exported in Dropbox, by the ledger's file id. */
  readonly verify?: boolean;
  readonly json?: boolean;
  readonly concurrency: number;
}

/** One object that qualifies. */
interface Qualifying {
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
  readonly versionId?: string | undefined;
  readonly lastModified: Date;
}

/** What a backfill did. */
export interface BackfillSummary {
  readonly bucket: string;
  readonly prefix: string;
  readonly since: string | null;
  readonly dryRun: boolean;
  /** Objects listed under the prefix. */
  readonly listed: number;
  /** Listed objects older than `--since`, not evaluated. */
  readonly olderThanSince: number;
  /** Objects that qualify (sent to the queue, or that would be with `--dry-run`). */
  readonly wouldExport: number;
  /** Notifications the queue accepted (0 with `--dry-run`). */
  readonly enqueued: number;
  /** Skipped objects by reason code. */
  readonly skipped: Readonly<Record<string, number>>;
  readonly failed: number;
  /** The first failures, for the operator to look at. */
  readonly failures: readonly { readonly key: string; readonly message: string }[];
  /** The export ledger's part: `null` when the deployment names no ledger table. */
  readonly ledger: {
    readonly table: string;
    /** Objects the ledger shows exported at their current version (skipped as `already-exported`). */
    readonly alreadyExported: number;
    /** With `--verify`: what Dropbox holds for each of those (and for the ones sent again). */
    readonly verify: VerifySummary | null;
  } | null;
  /** Calls made, by service and operation, and per listed object. */
  readonly calls: CallSummary;
}

/** What `--verify` found in Dropbox for the objects the ledger shows exported at their current version. */
export interface VerifySummary {
  /** Looked up by the ledger's file id. */
  readonly checked: number;
  /** In Dropbox as the ledger recorded them (same rev or content hash). */
  readonly asRecorded: number;
  /** Of those, found at another path than the ledger's (a person moved them). */
  readonly moved: number;
  /** No longer in Dropbox: sent, so the function records it (it does not put a person's deletion back). */
  readonly missing: number;
  /** Changed in Dropbox since (another rev and content): sent, so the function records it (it leaves the file). */
  readonly changed: number;
  /** The first objects found missing or changed. */
  readonly notAsRecorded: readonly { readonly key: string; readonly finding: 'missing' | 'changed' }[];
}

/** Calls of one service. */
export interface ServiceCalls {
  readonly total: number;
  /** `total` divided by the objects listed. */
  readonly perObject: number;
  readonly byOperation: Readonly<Record<string, number>>;
}

/** The calls a backfill made (each SDK call once, its retries not counted; Dropbox: every HTTP request). */
export interface CallSummary {
  readonly s3: ServiceCalls;
  readonly dynamodb: ServiceCalls;
  readonly dropbox: ServiceCalls;
  readonly sqs: ServiceCalls;
}

/** Counts calls by service and operation. */
class CallCounter {
  readonly #counts = new Map<string, Map<string, number>>();

  add(service: keyof CallSummary, operation: string, count = 1): void {
    const operations = this.#counts.get(service) ?? new Map<string, number>();
    operations.set(operation, (operations.get(operation) ?? 0) + count);
    this.#counts.set(service, operations);
  }

  summary(objects: number): CallSummary {
    const of = (service: keyof CallSummary): ServiceCalls => {
      const operations = this.#counts.get(service) ?? new Map<string, number>();
      const total = [...operations.values()].reduce((sum, count) => sum + count, 0);
      return {
        total,
        perObject: objects === 0 ? 0 : Math.round((total / objects) * 1000) / 1000,
        byOperation: Object.fromEntries([...operations.entries()].sort(([a], [b]) => a.localeCompare(b))),
      };
    };
    return { s3: of('s3'), dynamodb: of('dynamodb'), dropbox: of('dropbox'), sqs: of('sqs') };
  }
}

/** The object store, each call counted. */
function countedObjectStore(objects: ObjectStore, calls: CallCounter): ObjectStore {
  return {
    headObject(bucket, key, signal) {
      calls.add('s3', 'HeadObject');
      return objects.headObject(bucket, key, signal);
    },
    getObjectTags(bucket, key, signal) {
      calls.add('s3', 'GetObjectTagging');
      return objects.getObjectTags(bucket, key, signal);
    },
    openObject(bucket, key, options) {
      calls.add('s3', 'GetObject');
      return objects.openObject(bucket, key, options);
    },
  };
}

/**
 * A Dropbox client of its own for `--verify`, every HTTP request it sends counted by route (the token refresh and
 * the path root's account read included, once per run).
 */
function openCountedDropbox(
  raw: Readonly<Record<string, string | undefined>>,
  deployment: Deployment,
  calls: CallCounter,
  io: CliIo,
): DropboxTarget {
  let credentials: ReturnType<typeof parseSettings>['dropbox'];
  try {
    credentials = parseSettings(raw).dropbox;
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      throw new CommandFailedError('--verify needs valid Dropbox settings: run `config validate`', {
        cause: error,
      });
    }
    throw error;
  }
  if (credentials === undefined) {
    throw new CommandFailedError('--verify looks in Dropbox, which is not connected: run `connect`');
  }
  for (const secret of [credentials.refreshToken, credentials.appSecret]) {
    if (secret !== undefined) io.addSecret(secret);
  }
  const transport = createHttpTransport();
  const counting: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    calls.add('dropbox', new URL(url).pathname.replace(/^\/(2\/)?/, ''));
    return transport(input, init);
  };
  return new DropboxClient({ credentials, endpointUrl: deployment.dropboxEndpointUrl, fetch: counting });
}

/** The most failures listed in the summary; the count covers them all. */
const MAX_LISTED_FAILURES = 20;
/** SQS's batch limit. */
const SEND_BATCH_SIZE = 10;

/** What a backfill run works with. */
interface BackfillDeps {
  readonly objects: ObjectStore;
  /** The export ledger (its calls counted by the run); `undefined` for a deployment without one. */
  readonly ledger: ExportLedger | undefined;
  readonly ledgerTable: string | undefined;
  /** Dropbox, with `--verify`. */
  readonly dropbox: DropboxTarget | undefined;
  readonly calls: CallCounter;
  readonly sqs: SQSClient;
  readonly bucket: string;
  readonly queueUrl: string;
  readonly rules: RuleSettings;
  readonly options: BackfillOptions;
  /** The region the notifications name (`awsRegion`). */
  readonly region: string | undefined;
}

class BackfillRun {
  listed = 0;
  olderThanSince = 0;
  wouldExport = 0;
  enqueued = 0;
  failed = 0;
  alreadyExported = 0;
  readonly verified = { checked: 0, asRecorded: 0, moved: 0, missing: 0, changed: 0 };
  readonly notAsRecorded: { key: string; finding: 'missing' | 'changed' }[] = [];
  readonly skipped = new Map<string, number>();
  readonly failures: { key: string; message: string }[] = [];
  private pending: Qualifying[] = [];
  private readonly deps: BackfillDeps;

  constructor(deps: BackfillDeps) {
    this.deps = deps;
  }

  skip(code: string): void {
    this.skipped.set(code, (this.skipped.get(code) ?? 0) + 1);
  }

  fail(key: string, message: string): void {
    this.failed += 1;
    if (this.failures.length < MAX_LISTED_FAILURES) this.failures.push({ key, message });
  }

  /**
   * What the ledger settles without S3: `already-exported` for the version it shows exported (checked in Dropbox
   * with `--verify`), `deleted-in-dropbox` for the version whose export a person deleted. `undefined`: evaluate.
   */
  async settledByLedger(key: string, listedETag: string): Promise<string | undefined> {
    const { ledger } = this.deps;
    if (ledger === undefined || listedETag === '') return undefined;
    this.deps.calls.add('dynamodb', 'GetItem');
    const record = await readLedgerRecord(ledger, ledgerId(this.deps.bucket, key));
    if (record === null) return undefined;
    const listed = { eTag: listedETag };
    if (record.state === 'skipped' && record.reason?.code === 'deleted-in-dropbox') {
      return isSameContent(record.object, listed) ? 'deleted-in-dropbox' : undefined;
    }
    if (record.state !== 'exported' || !isSameContent(record.export, listed)) return undefined;
    if (this.deps.dropbox === undefined) {
      this.alreadyExported += 1;
      return 'already-exported';
    }
    return (await this.verify(key, record)) ? 'already-exported' : undefined;
  }

  /** `--verify`: whether Dropbox still holds the ledger's file as recorded (the sync's own test: rev or hash). */
  async verify(key: string, record: LedgerRecord): Promise<boolean> {
    const exported = record.export;
    if (exported === undefined || this.deps.dropbox === undefined) return false;
    this.verified.checked += 1;
    const current = await this.deps.dropbox.getFileMetadata(exported.file.id);
    const asRecorded =
      current !== null &&
      (current.rev === exported.file.rev || current.contentHash === exported.file.contentHash);
    if (asRecorded) {
      this.verified.asRecorded += 1;
      if (current.pathLower !== exported.file.pathDisplay.toLowerCase()) this.verified.moved += 1;
      this.alreadyExported += 1;
      return true;
    }
    const finding = current === null ? 'missing' : 'changed';
    this.verified[finding] += 1;
    if (this.notAsRecorded.length < MAX_LISTED_FAILURES) this.notAsRecorded.push({ key, finding });
    return false;
  }

  async evaluate(listedObject: _Object): Promise<void> {
    const key = listedObject.Key;
    if (key === undefined) return;
    if (key.endsWith('/')) {
      this.skip('folder-marker');
      return;
    }
    try {
      const settled = await this.settledByLedger(key, stripETag(listedObject.ETag));
      if (settled !== undefined) {
        this.skip(settled);
        return;
      }
      const [head, tags] = await Promise.all([
        this.deps.objects.headObject(this.deps.bucket, key),
        this.deps.objects.getObjectTags(this.deps.bucket, key),
      ]);
      if (head === null) {
        this.skip('object-missing');
        return;
      }
      const decision = evaluateExport({ key, metadata: head.metadata, tags: tags ?? {} }, this.deps.rules);
      if (!decision.export || decision.dropboxPath === null) {
        this.skip(decision.reason.code);
        return;
      }
      this.wouldExport += 1;
      this.pending.push({
        key,
        size: head.size,
        eTag: head.eTag || stripETag(listedObject.ETag),
        versionId: head.versionId,
        lastModified: head.lastModified,
      });
    } catch (error) {
      if (error instanceof Error) {
        this.fail(key, errorMessage(error));
        return;
      }
      throw error;
    }
  }

  /** Sends what qualified so far, in batches of ten; a rejected entry counts as failed. */
  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (this.deps.options.dryRun === true) return;
    for (let start = 0; start < batch.length; start += SEND_BATCH_SIZE) {
      const slice = batch.slice(start, start + SEND_BATCH_SIZE);
      const entries = slice.map((item, index) => ({
        Id: String(index),
        MessageBody: buildS3Notification([
          {
            eventName: 'ObjectCreated:Put',
            bucket: this.deps.bucket,
            key: item.key,
            size: item.size,
            eTag: item.eTag,
            versionId: item.versionId,
            eventTime: item.lastModified,
            region: this.deps.region,
          },
        ]),
      }));
      try {
        this.deps.calls.add('sqs', 'SendMessageBatch');
        const result = await this.deps.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.deps.queueUrl, Entries: entries }),
        );
        this.enqueued += result.Successful?.length ?? 0;
        for (const failure of result.Failed ?? []) {
          const item = slice[Number(failure.Id)];
          this.fail(
            item?.key ?? '?',
            `the queue refused the message: ${failure.Code ?? ''} ${failure.Message ?? ''}`.trim(),
          );
        }
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        for (const item of slice) this.fail(item.key, `sending to the queue failed: ${errorMessage(error)}`);
      }
    }
  }

  summary(prefix: string): BackfillSummary {
    return {
      bucket: this.deps.bucket,
      prefix,
      since: this.deps.options.since?.toISOString() ?? null,
      dryRun: this.deps.options.dryRun === true,
      listed: this.listed,
      olderThanSince: this.olderThanSince,
      wouldExport: this.wouldExport,
      enqueued: this.enqueued,
      skipped: Object.fromEntries([...this.skipped.entries()].sort(([a], [b]) => a.localeCompare(b))),
      failed: this.failed,
      failures: this.failures,
      ledger:
        this.deps.ledgerTable === undefined
          ? null
          : {
              table: this.deps.ledgerTable,
              alreadyExported: this.alreadyExported,
              verify:
                this.deps.dropbox === undefined
                  ? null
                  : { ...this.verified, notAsRecorded: this.notAsRecorded },
            },
      calls: this.deps.calls.summary(this.listed),
    };
  }
}

/** Runs a backfill. */
export async function runBackfill(
  context: CommandContext,
  options: BackfillOptions,
): Promise<BackfillSummary> {
  const deployment = await context.deployment();
  const clients = await context.clients();
  const raw = await loadRawSettings(clients.ssm, deployment.outputs.settingsPath);
  let rules: RuleSettings;
  try {
    rules = parseRuleSettings(raw);
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      const problems = error.problems.map((problem) => `  ${problem.parameter}: ${problem.message}`);
      throw new CommandFailedError(`The rule settings are invalid; fix them first:\n${problems.join('\n')}`, {
        cause: error,
      });
    }
    throw error;
  }
  const bucket = deployment.outputs.bucketName;
  const watched = deployment.outputs.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const prefix = options.prefix ?? watched;
  if (!prefix.startsWith(watched) && !watched.startsWith(prefix)) {
    context.io.stderr.write(
      `warning: ${prefix} is outside the prefix the deployment watches (${watched}): on AWS the function may read ` +
        'only keys under it, so those files fail instead of exporting.\n',
    );
  }
  const calls = new CallCounter();
  const ledger = await openLedger(context);
  if (ledger === undefined) {
    if (options.verify === true) {
      throw new CommandFailedError(
        `--verify checks what the export ledger records, and ${deployment.label} names none (no LedgerTableName output)`,
      );
    }
    context.io.stderr.write(
      `warning: ${deployment.label} names no export ledger (no LedgerTableName output): every qualifying object ` +
        'is sent, and the function decides by what Dropbox holds.\n',
    );
  }
  const run = new BackfillRun({
    objects: countedObjectStore(createS3ObjectStore(clients.s3), calls),
    ledger,
    ledgerTable: deployment.outputs.ledgerTableName,
    dropbox: options.verify === true ? openCountedDropbox(raw, deployment, calls, context.io) : undefined,
    calls,
    sqs: clients.sqs,
    bucket,
    queueUrl: deployment.outputs.queueUrl,
    rules,
    options,
    region: deployment.region ?? (await clients.sqs.config.region()),
  });
  const progress = options.json === true ? undefined : createProgressBar(context.io, 'Backfill');
  let evaluated = 0;
  const pages = paginateListObjectsV2({ client: clients.s3 }, { Bucket: bucket, Prefix: prefix });
  for await (const page of pages) {
    calls.add('s3', 'ListObjectsV2');
    const contents = page.Contents ?? [];
    run.listed += contents.length;
    const recent = contents.filter((item) => {
      const old =
        options.since !== undefined && item.LastModified !== undefined && item.LastModified < options.since;
      if (old) run.olderThanSince += 1;
      return !old;
    });
    await forEachLimited(recent, options.concurrency, async (item) => {
      await run.evaluate(item);
      evaluated += 1;
      progress?.update(evaluated + run.olderThanSince, run.listed);
    });
    await run.flush();
  }
  progress?.done();
  return run.summary(prefix);
}

const SERVICE_NAMES: Record<keyof CallSummary, string> = {
  s3: 'S3',
  dynamodb: 'DynamoDB',
  dropbox: 'Dropbox',
  sqs: 'SQS',
};

/** `calls per object: S3 0.5, DynamoDB 1, Dropbox 0, SQS 0.1`, then each service's calls by operation. */
function describeCalls(calls: CallSummary): string[] {
  const services = Object.keys(SERVICE_NAMES) as (keyof CallSummary)[];
  const lines = [
    `  calls per object: ${services.map((service) => `${SERVICE_NAMES[service]} ${calls[service].perObject}`).join(', ')}`,
  ];
  for (const service of services) {
    const operations = Object.entries(calls[service].byOperation);
    if (operations.length === 0) continue;
    lines.push(
      `    ${SERVICE_NAMES[service]}: ${operations.map(([name, count]) => `${name} ${count}`).join(', ')}`,
    );
  }
  return lines;
}

function printSummary(io: CliIo, summary: BackfillSummary): void {
  const since = summary.since === null ? '' : ` modified since ${summary.since}`;
  const lines = [
    `Backfill of s3://${summary.bucket}/${summary.prefix}${since}${summary.dryRun ? ' (dry run: nothing sent)' : ''}`,
    `  listed:        ${summary.listed}`,
  ];
  if (summary.since !== null) lines.push(`  older, left:   ${summary.olderThanSince}`);
  lines.push(`  would export:  ${summary.wouldExport}`);
  if (!summary.dryRun) lines.push(`  sent to queue: ${summary.enqueued}`);
  const skippedTotal = Object.values(summary.skipped).reduce((sum, count) => sum + count, 0);
  lines.push(`  skipped:       ${skippedTotal}`);
  for (const [code, count] of Object.entries(summary.skipped)) lines.push(`    ${code}: ${count}`);
  lines.push(`  failed:        ${summary.failed}`);
  for (const failure of summary.failures) lines.push(`    ${failure.key}: ${failure.message}`);
  if (summary.failed > summary.failures.length) {
    lines.push(`    … and ${summary.failed - summary.failures.length} more`);
  }
  if (summary.ledger === null) {
    lines.push('  ledger:        none (the deployment names no ledger table)');
  } else {
    lines.push(
      `  ledger:        ${summary.ledger.alreadyExported} already exported at their current version, not sent`,
    );
    const verify = summary.ledger.verify;
    if (verify !== null) {
      lines.push(
        `  verified:      ${verify.checked} checked in Dropbox by file id: ${verify.asRecorded} as recorded` +
          ` (${verify.moved} moved), ${verify.missing} missing, ${verify.changed} changed`,
      );
      for (const item of verify.notAsRecorded) lines.push(`    ${item.key}: ${item.finding} in Dropbox`);
    }
  }
  lines.push(...describeCalls(summary.calls));
  if (summary.listed === 0) {
    lines.push(
      '',
      `Nothing is stored under s3://${summary.bucket}/${summary.prefix}: check the prefix (keys are case-sensitive).`,
    );
  }
  if (!summary.dryRun && summary.enqueued > 0) {
    lines.push(
      '',
      'The function exports them as it works through the queue; a version its ledger shows in Dropbox is not ' +
        'written again. Follow with `status`.',
    );
  }
  printLines(io, ...lines);
}

/** `backfill`: runs it and prints the summary. */
export async function backfill(context: CommandContext, options: BackfillOptions): Promise<number> {
  const summary = await runBackfill(context, options);
  if (options.json === true) printJson(context.io, summary);
  else printSummary(context.io, summary);
  return summary.failed > 0 ? EXIT_FAILED : EXIT_OK;
}
