/**
 * `backfill [--prefix P] [--since DATE] [--dry-run]`: exports files that were in the bucket before the flow
 * existed (or while it was broken). Lists the prefix page by page, applies the function's rules to each object,
 * and sends the qualifying ones to the queue as S3-shaped `ObjectCreated:Put` notifications, so the function
 * does the export exactly as for a live upload. Running it twice is harmless: the function skips an object that its
 * export ledger shows exported at its current version (wherever the file landed), and uploads nothing for it.
 */
import { type _Object, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3ObjectStore, stripETag } from '../../lib/aws/s3-object-store.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { ObjectStore } from '../../lib/ports.ts';
import { evaluateExport } from '../../lib/rules.ts';
import { buildS3Notification } from '../../lib/s3-notification.ts';
import { InvalidSettingsError, parseRuleSettings, type RuleSettings } from '../../lib/settings.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_KEY_PREFIX } from '../defaults.ts';
import { CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { forEachLimited } from '../for-each-limited.ts';
import { type CliIo, printJson, printLines } from '../io.ts';
import { createProgressBar } from '../progress.ts';

/** Options of `backfill`. */
export interface BackfillOptions {
  readonly prefix?: string;
  readonly since?: Date;
  readonly dryRun?: boolean;
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
}

/** The most failures listed in the summary; the count covers them all. */
const MAX_LISTED_FAILURES = 20;
/** SQS's batch limit. */
const SEND_BATCH_SIZE = 10;

/** What a backfill run works with. */
interface BackfillDeps {
  readonly objects: ObjectStore;
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

  async evaluate(listedObject: _Object): Promise<void> {
    const key = listedObject.Key;
    if (key === undefined) return;
    if (key.endsWith('/')) {
      this.skip('folder-marker');
      return;
    }
    try {
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
  const run = new BackfillRun({
    objects: createS3ObjectStore(clients.s3),
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
  if (summary.listed === 0) {
    lines.push(
      '',
      `Nothing is stored under s3://${summary.bucket}/${summary.prefix}: check the prefix (keys are case-sensitive).`,
    );
  }
  if (!summary.dryRun && summary.enqueued > 0) {
    lines.push(
      '',
      'The function exports them as it works through the queue; files Dropbox already holds are skipped. ' +
        'Follow with `status`.',
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
