/**
 * `status`: the queue and DLQ depth, the age of the oldest message, whether the flow runs, a settings summary,
 * and whether the Dropbox credentials exist and work. `status --key KEY`: one object's export status, read from the
 * export ledger.
 */

import { type QueueDepth, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import { loadRawSettings, normaliseSettingsPath } from '../../lib/aws/settings-store.ts';
import { describeProbe } from '../../lib/breaker.ts';
import { describeExportState, type ExportStatus } from '../../lib/export-status.ts';
import { ledgerId } from '../../lib/ledger.ts';
import {
  InvalidSettingsError,
  parseSettings,
  type RuleSettings,
  type SettingProblem,
} from '../../lib/settings.ts';
import type { ObjectKey } from '../arguments.ts';
import { readOldestMessageAge } from '../cloudwatch.ts';
import type { CommandContext } from '../context.ts';
import type { Deployment } from '../deployment.ts';
import { checkDropboxAccount, openDropbox } from '../dropbox.ts';
import { EXIT_OK } from '../errors.ts';
import { describeExportStatus } from '../export-status-lines.ts';
import { type FlowStatus, readFlowState } from '../flow.ts';
import { formatDuration } from '../format.ts';
import { printJson, printLines } from '../io.ts';
import { readLedgerRecord, requireLedger } from '../ledger.ts';

/** A queue's line of the status. */
export interface QueueStatus extends QueueDepth {
  /** CloudWatch's `ApproximateAgeOfOldestMessage`, in seconds; `null` when unknown (no data, local stack). */
  readonly oldestMessageAgeSeconds: number | null;
}

/** The Dropbox connection's line of the status. */
export interface DropboxStatus {
  /** `dropbox/app-key` and `dropbox/refresh-token` are both stored. */
  readonly credentialsSet: boolean;
  /** `users/get_current_account` answered; `null` when not tried. */
  readonly works: boolean | null;
  readonly account?: { readonly displayName: string; readonly email: string } | undefined;
  readonly teamRootUsed?: boolean | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
}

/** Everything `status` reports. */
export interface StatusReport {
  readonly deployment: { readonly kind: 'aws' | 'local'; readonly label: string };
  readonly flow: FlowStatus;
  readonly queue: QueueStatus;
  readonly deadLetterQueue: QueueStatus;
  readonly settings: {
    readonly path: string;
    readonly valid: boolean;
    readonly problems: readonly SettingProblem[];
    readonly rules: RuleSettings | null;
  };
  readonly dropbox: DropboxStatus;
}

async function readQueueStatus(
  context: CommandContext,
  deployment: Deployment,
  queueUrl: string,
): Promise<QueueStatus> {
  const clients = await context.clients();
  const [depth, age] = await Promise.all([
    readQueueDepth(clients.sqs, queueUrl),
    deployment.kind === 'aws' ? readOldestMessageAge(clients.sqs, queueUrl) : Promise.resolve(null),
  ]);
  return { ...depth, oldestMessageAgeSeconds: age };
}

async function readDropboxStatus(
  deployment: Deployment,
  settings: ReturnType<typeof parseSettings> | undefined,
  rawHasCredentials: boolean,
): Promise<DropboxStatus> {
  const credentials = settings?.dropbox;
  if (credentials === undefined) return { credentialsSet: rawHasCredentials, works: null };
  const check = await checkDropboxAccount(openDropbox(credentials, deployment), credentials);
  if (!check.ok)
    return { credentialsSet: true, works: false, error: { code: check.code, message: check.message } };
  return {
    credentialsSet: true,
    works: true,
    account: { displayName: check.account.displayName, email: check.account.email },
    teamRootUsed: check.teamRootUsed,
  };
}

/** Gathers the status of a deployment. */
export async function readStatus(context: CommandContext): Promise<StatusReport> {
  const deployment = await context.deployment();
  const clients = await context.clients();
  const settingsPath = normaliseSettingsPath(deployment.outputs.settingsPath);
  const [flow, queue, deadLetterQueue, raw] = await Promise.all([
    readFlowState(deployment, clients).catch((error: unknown): FlowStatus => {
      // The rest of the status is still worth printing when the mapping cannot be read (no permission, no id).
      if (error instanceof Error) return { state: 'unknown', detail: error.message, summary: 'unknown' };
      throw error;
    }),
    readQueueStatus(context, deployment, deployment.outputs.queueUrl),
    readQueueStatus(context, deployment, deployment.outputs.deadLetterQueueUrl),
    loadRawSettings(clients.ssm, settingsPath),
  ]);
  let settings: ReturnType<typeof parseSettings> | undefined;
  let problems: readonly SettingProblem[] = [];
  try {
    settings = parseSettings(raw);
  } catch (error) {
    if (!(error instanceof InvalidSettingsError)) throw error;
    problems = error.problems;
  }
  const rawHasCredentials =
    raw['dropbox/app-key'] !== undefined && raw['dropbox/refresh-token'] !== undefined;
  const dropbox = await readDropboxStatus(deployment, settings, rawHasCredentials);
  return {
    deployment: { kind: deployment.kind, label: deployment.label },
    flow,
    queue,
    deadLetterQueue,
    settings: { path: settingsPath, valid: settings !== undefined, problems, rules: settings?.rules ?? null },
    dropbox,
  };
}

function describeQueue(name: string, queue: QueueStatus): string {
  const age =
    queue.oldestMessageAgeSeconds === null ? 'unknown' : formatDuration(queue.oldestMessageAgeSeconds);
  return (
    `${name}${queue.visible} waiting, ${queue.inFlight} in flight, ${queue.delayed} delayed; ` +
    `oldest message: ${age}`
  );
}

function describeDropbox(dropbox: DropboxStatus): string {
  if (!dropbox.credentialsSet) return 'not connected (run `connect`)';
  if (dropbox.works === null) return 'credentials stored, not checked (the settings are invalid)';
  if (!dropbox.works)
    return `credentials do not work: ${dropbox.error?.message ?? 'unknown error'} (run \`connect\`)`;
  const root = dropbox.teamRootUsed === true ? 'team space root' : 'home folder';
  return `connected as ${dropbox.account?.displayName ?? '?'} <${dropbox.account?.email ?? '?'}>, writing to the ${root}`;
}

function describeRules(rules: RuleSettings): string {
  return [
    `export-by-status ${rules.exportByStatus}`,
    `single folder ${rules.exportToSingleFolder ? 'yes' : 'no'}`,
    `base folder ${JSON.stringify(rules.baseFolder === '' ? '/' : rules.baseFolder)}`,
    `file names ${JSON.stringify(rules.fileNameTemplate)}`,
    `on conflict ${rules.onConflict}`,
  ].join(', ');
}

/** `status`: prints the report. */
export async function status(context: CommandContext, options: { readonly json?: boolean }): Promise<number> {
  const report = await readStatus(context);
  if (options.json === true) {
    printJson(context.io, report);
    return EXIT_OK;
  }
  const lines = [
    `Deployment:   ${report.deployment.label}`,
    `Flow:         ${report.flow.summary} (${report.flow.detail})`,
    describeQueue('Queue:        ', report.queue),
    describeQueue('Dead letters: ', report.deadLetterQueue),
    `Settings:     ${report.settings.path}: ${
      report.settings.rules === null
        ? `${report.settings.problems.length} problem(s), run \`config validate\``
        : describeRules(report.settings.rules)
    }`,
    `Dropbox:      ${describeDropbox(report.dropbox)}`,
  ];
  const probe = report.flow.lastProbe;
  if (report.flow.holder === 'breaker' && probe !== undefined) {
    lines.splice(2, 0, `Probe:        last look ${probe.at}: ${describeProbe(probe)}`);
  }
  if (report.deadLetterQueue.visible + report.deadLetterQueue.inFlight > 0) {
    lines.push('', 'Messages are in the dead-letter queue: fix the cause, then run `redrive`.');
  }
  printLines(context.io, ...lines);
  return EXIT_OK;
}

/** What `status --key` reports: the object's export status from the ledger. */
export interface ObjectStatusReport {
  readonly deployment: { readonly kind: 'aws' | 'local'; readonly label: string };
  readonly object: { readonly bucket: string; readonly key: string };
  readonly status: ExportStatus;
}

/** Reads one object's export status from the ledger (one `GetItem`; no S3 or Dropbox call). */
export async function readObjectStatus(
  context: CommandContext,
  target: ObjectKey,
): Promise<ObjectStatusReport> {
  const deployment = await context.deployment();
  const bucket = target.bucket ?? deployment.outputs.bucketName;
  const ledger = await requireLedger(context);
  const id = ledgerId(bucket, target.key);
  const record = await readLedgerRecord(ledger, id);
  return {
    deployment: { kind: deployment.kind, label: deployment.label },
    object: { bucket, key: target.key },
    status: describeExportState(record, id),
  };
}

/** `status --key KEY`: prints where the object went, or why it did not. */
export async function objectStatus(
  context: CommandContext,
  target: ObjectKey,
  options: { readonly json?: boolean },
): Promise<number> {
  const report = await readObjectStatus(context, target);
  if (options.json === true) {
    printJson(context.io, report);
    return EXIT_OK;
  }
  printLines(
    context.io,
    `Object:    s3://${report.object.bucket}/${report.object.key}`,
    ...describeExportStatus(report.status),
  );
  return EXIT_OK;
}
