/**
 * `npm start`: runs the whole flow locally (DESIGN.md "Local stack"), uploads the demo set, prints one line for each
 * outcome as it happens (from the function's own log records) and the Dropbox tree at the end, then keeps syncing
 * new uploads until Ctrl-C. `npm start -- --once` exits after the demo: 0 when every expected file arrived with its
 * content hash and every demo file has the receipt of its export state in `<dir>/receipts.jsonl`, else 1, and never
 * with a stack trace: a failure is one `error:` line.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';
import { PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { resolveUserPath } from '../../cli/arguments.ts';
import { acceptsConnections } from '../../cli/deployment.ts';
import {
  createDynamoDbClient,
  createS3Client,
  createSqsClient,
  createSsmClient,
  uploadSendOptions,
} from '../../lib/aws/clients.ts';
import { createDynamoDbLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { countQueued, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { getDropboxClient } from '../../lib/dropbox/client.ts';
import { DropboxContentHasher } from '../../lib/dropbox/content-hash.ts';
import { errorMessage } from '../../lib/errors.ts';
import { ledgerId } from '../../lib/ledger.ts';
import { SERVICE_NAME } from '../../lib/powertools.ts';
import { sleep } from '../../lib/retry.ts';
import { evaluateExport } from '../../lib/rules.ts';
import { parseSettings } from '../../lib/settings.ts';
import type { RecordFailure } from '../../lib/sqs-record.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import type { DeliveredEvent } from '../emulators/events/server.ts';
import { type DemoFile, demoContent, demoFiles } from './demo-files.ts';
import {
  formatBytes,
  formatLogRecord,
  isLogLevelName,
  LOG_LEVEL_NAMES,
  LocalLogger,
  type LogLevelName,
  loggerLevelFor,
  paletteFor,
} from './log-view.ts';
import { describeReceipt, readReceipts, receiptProblems } from './receipts.ts';
import { type LocalStack, startLocalStack } from './stack.ts';

const MIB = 1024 * 1024;
/** The demo's large file by default: above the 16 MiB small-file limit, so it takes an upload session. */
const DEFAULT_LARGE_MIB = 20;
/** The large file of `--large`. */
const LARGE_MIB = 200;
/** The local state's folder: the one the CLI's --local reads (TICKET_DROPBOX_SYNC_LOCAL), else `.local`. */
const DEFAULT_DIR = process.env.TICKET_DROPBOX_SYNC_LOCAL?.trim()
  ? resolveUserPath(process.env.TICKET_DROPBOX_SYNC_LOCAL.trim(), process.env, 'start')
  : '.local';
/** How long Ctrl-C waits for the work in flight before the process exits anyway. */
const STOP_GRACE_MS = 2000;

const USAGE = `Usage: npm start -- [options]

Runs S3 (s3rver), SSM, SQS and Dropbox emulators, the poller and the sync function on this machine,
uploads a demo set of ticket files, prints one line for every outcome and keeps syncing until Ctrl-C.

Options:
  --once                 exit after the demo: 0 when every expected file arrived, 1 otherwise
  --dir DIR              where the local state lives (default: $TICKET_DROPBOX_SYNC_LOCAL, else .local)
  --reset                delete the local state in DIR first (files, settings, Dropbox emulator)
  --large                make the demo's large file ${LARGE_MIB} MiB (default: ${DEFAULT_LARGE_MIB} MiB)
  --large-mib N          make it N MiB
  --log-level LEVEL      the function's other log lines to show: ${LOG_LEVEL_NAMES.join(', ')} (default: warn);
                         outcomes (exported, skipped, failed) always get a line
  --timeout-seconds N    how long --once waits for the demo (default: 600)
  -h, --help             this help

Set DROPBOX_ENDPOINT_URL to use another Dropbox-compatible server, or DROPBOX_REAL=1 with DROPBOX_APP_KEY /
DROPBOX_REFRESH_TOKEN for the real Dropbox.`;

interface StartOptions {
  readonly once: boolean;
  readonly dir: string;
  readonly reset: boolean;
  readonly largeMib: number;
  readonly logLevel: LogLevelName;
  readonly timeoutSeconds: number;
}

class UsageError extends Error {}

function parseCommandLine() {
  return parseArgs({
    strict: true,
    options: {
      once: { type: 'boolean', default: false },
      dir: { type: 'string', default: DEFAULT_DIR },
      reset: { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      'large-mib': { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      'timeout-seconds': { type: 'string', default: '600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function readOptions(): StartOptions | 'help' {
  let values: ReturnType<typeof parseCommandLine>['values'];
  try {
    ({ values } = parseCommandLine());
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  if (values.help) return 'help';
  const logLevel = values['log-level'].trim().toLowerCase();
  if (!isLogLevelName(logLevel)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVEL_NAMES.join(', ')} (got ${JSON.stringify(logLevel)})`,
    );
  }
  const largeMib = Number(values['large-mib'] ?? (values.large ? LARGE_MIB : DEFAULT_LARGE_MIB));
  if (!Number.isInteger(largeMib) || largeMib < 0 || largeMib > 5 * 1024) {
    throw new UsageError('--large-mib must be a whole number of MiB from 0 to 5120');
  }
  const timeoutSeconds = Number(values['timeout-seconds']);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError('--timeout-seconds must be a positive number');
  }
  if (values.dir.trim() === '') throw new UsageError('--dir needs a folder');
  const dir = values.dir === DEFAULT_DIR ? DEFAULT_DIR : resolveUserPath(values.dir, process.env, 'start');
  return { once: values.once, dir, reset: values.reset, largeMib, logLevel, timeoutSeconds };
}

const palette = paletteFor(process.stdout.isTTY === true);
let stack: LocalStack | undefined;
let stopping = false;

/** Stops the stack quietly (its work in flight gets {@link STOP_GRACE_MS}), then exits with `code`. */
async function shutdown(code: number): Promise<never> {
  stopping = true;
  await Promise.race([stack?.close().catch(() => undefined), sleep(STOP_GRACE_MS)]);
  process.exit(code);
}

function fail(error: unknown): void {
  // After Ctrl-C the servers close under the work in flight: its errors are expected and not shown.
  if (stopping) return;
  console.error(`${palette.red}error${palette.reset}: ${errorMessage(error)}`);
  void shutdown(1);
}

process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  console.log(`\nStopping the local stack (Ctrl-C again to quit at once).`);
  void shutdown(0);
});
process.on('SIGTERM', () => void shutdown(0));
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

/** Prints a line, unless the stack is stopping (Ctrl-C): nothing follows "Stopping the local stack". */
function say(line: string): void {
  if (!stopping) console.log(line);
}

/** Whether a stack's endpoints answer: a stack already running in that folder. */
async function isRunning(dir: string): Promise<boolean> {
  const file = join(dir, 'outputs.json');
  if (!existsSync(file)) return false;
  try {
    const outputs = JSON.parse(readFileSync(file, 'utf8')) as { Endpoints?: { sqs?: unknown } };
    const sqs = outputs.Endpoints?.sqs;
    return typeof sqs === 'string' && (await acceptsConnections(sqs));
  } catch (error) {
    if (error instanceof SyntaxError) return false;
    throw error;
  }
}

/** Files only a local stack's folder holds: `--reset` deletes a folder that has one of them, or nothing at all. */
const LOCAL_MARKERS = ['outputs.json', 'ssm.json'];

/** Deletes the local state in `dir`, refusing a folder that does not look like a local stack's. */
function resetLocalState(dir: string): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length > 0 && !LOCAL_MARKERS.some((marker) => entries.includes(marker))) {
    throw new UsageError(
      `--reset deletes only a local stack's folder, and ${dir} holds neither ${LOCAL_MARKERS.join(' nor ')}: delete it yourself`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

/** The CLI's way of naming this stack's folder. */
function cliLocalOption(dir: string): string {
  return resolve(dir) === resolve(DEFAULT_DIR)
    ? '--local'
    : `--local-dir ${relative(process.cwd(), dir) || '.'}`;
}

async function main(options: StartOptions): Promise<number> {
  if (await isRunning(options.dir)) {
    throw new UsageError(
      `a local stack already runs in ${options.dir}: stop it (Ctrl-C) first, or use another --dir`,
    );
  }
  if (options.reset) {
    resetLocalState(options.dir);
    say(`Reset: deleted the local state in ${options.dir}/.`);
  }
  const outcomes = new Map<string, SyncOutcome[]>();
  const failures: RecordFailure[] = [];
  const logger = new LocalLogger(
    (record) => {
      if (stopping) return;
      const line = formatLogRecord(record, options.logLevel, palette);
      if (line !== undefined) say(line);
    },
    {
      serviceName: SERVICE_NAME,
      persistentKeys: { instance: 'default' },
      logLevel: loggerLevelFor(options.logLevel),
    },
  );
  let receiptsThisRun = 0;
  stack = await startLocalStack({
    dir: options.dir,
    dropboxEndpointUrl: process.env.DROPBOX_REAL === '1' ? null : undefined,
    // The demo shows the alias folders; an admin's own value in .local/ssm.json is kept.
    initialSettings: { 'export-to-single-folder': 'no' },
    logger,
    onOutcome: (outcome) => {
      const list = outcomes.get(outcome.key) ?? [];
      list.push(outcome);
      outcomes.set(outcome.key, list);
    },
    onFailure: (failure) => failures.push(failure),
    onError: (error) => {
      if (!stopping) console.error(`${palette.red}poller error${palette.reset}: ${errorMessage(error)}`);
    },
    // Ctrl-C closes the stack under uploads in flight: their notifications fail then, and that is no news.
    onNotifyError: (error, bucket, key) => {
      if (!stopping)
        console.error(
          `${palette.red}local S3${palette.reset}: the notification for s3://${bucket}/${key} failed: ${errorMessage(error)}`,
        );
    },
    onReceipt: (event: DeliveredEvent) => {
      receiptsThisRun += 1;
      say(`${palette.dim}receipt ${palette.reset} ${describeReceipt(event)}`);
    },
  });
  const { outputs } = stack;
  const local = cliLocalOption(options.dir);
  say(`Local stack is up (data in ${options.dir}/; function log lines from level ${options.logLevel}):
  S3      ${outputs.Endpoints.s3}  bucket ${outputs.BucketName}, prefix ${outputs.KeyPrefix}
  SSM     ${outputs.Endpoints.ssm}  settings under ${outputs.SettingsPath}
  SQS     ${outputs.Endpoints.sqs}  queue + DLQ
  Events  ${outputs.Endpoints.events}  receipts on the ${outputs.ReceiptsEventBus} bus, appended to ${options.dir}/receipts.jsonl
  Dropbox ${outputs.Endpoints.dropbox ?? 'the real Dropbox'}${stack.dropbox ? `  (files under ${options.dir}/dropbox/home/)` : ''}
`);

  // The SDK warns on the console when a streamed upload fails; Ctrl-C during the demo's uploads is not a failure.
  const quietWhenStopping = (...args: unknown[]) => {
    if (!stopping) console.warn(...args);
  };
  const s3 = createS3Client({
    env: stack.env,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: quietWhenStopping,
      error: quietWhenStopping,
    },
  });
  const settings = parseSettings(
    await loadRawSettings(createSsmClient({ env: stack.env }), outputs.SettingsPath),
  );
  const files = demoFiles(options.largeMib * MIB);
  const hashes = new Map<string, string>();

  const upload = async (file: DemoFile): Promise<void> => {
    const hasher = new DropboxContentHasher();
    const body = demoContent(file.key, file.size).pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hasher.update(chunk);
          callback(null, chunk);
        },
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: outputs.BucketName,
        Key: file.key,
        Body: body,
        ContentLength: file.size,
        Metadata: { ...file.metadata },
      }),
      uploadSendOptions(file.size),
    );
    hashes.set(file.key, hasher.digest());
  };

  say(`Uploading ${files.length} demo files:`);
  for (const file of files) {
    say(`  ${palette.dim}put${palette.reset} ${file.key} ${palette.dim}(${file.note})${palette.reset}`);
    await upload(file);
  }
  for (const file of files) {
    if (!file.tagLater) continue;
    // Tagged once its upload has its outcome, so that the demo shows both decisions whatever the machine's load.
    const waitUntil = Date.now() + options.timeoutSeconds * 1000;
    while (!stopping && !outcomes.has(file.key) && Date.now() < waitUntil) await sleep(100);
    say(`  ${palette.dim}tag${palette.reset} ${file.key} ${JSON.stringify(file.tagLater)}`);
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: outputs.BucketName,
        Key: file.key,
        Tagging: { TagSet: Object.entries(file.tagLater).map(([Key, Value]) => ({ Key, Value })) },
      }),
    );
  }

  const sqs = createSqsClient({ env: stack.env });
  const expectedEvents = files.length + files.filter((file) => file.tagLater).length;
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const problems: string[] = [];
  while (!stopping) {
    const seen = [...outcomes.values()].reduce((sum, list) => sum + list.length, 0);
    if (seen >= expectedEvents && countQueued(await readQueueDepth(sqs, outputs.QueueUrl)) === 0) break;
    const accountWide = failures.find((failure) => failure.kind === 'account');
    if (accountWide !== undefined && stack.poller?.idle !== false) {
      // Every file would fail the same way, retried minutes apart: waiting would only end at the timeout.
      problems.push(
        `the flow stopped on an account-wide failure (${accountWide.code}: ${accountWide.message}); ` +
          `see \`npm run cli -- ${local} status\`, or start afresh with \`npm start -- --reset\``,
      );
      break;
    }
    if (Date.now() >= deadline) {
      problems.push(`the demo did not finish within ${options.timeoutSeconds} s`);
      break;
    }
    await sleep(500);
  }

  // Verify: every file the rules export is in Dropbox with the content hash of what was uploaded.
  const dropbox = settings.dropbox
    ? getDropboxClient({ credentials: settings.dropbox, endpointUrl: stack.env.DROPBOX_ENDPOINT_URL })
    : undefined;
  for (const file of files) {
    const expected = evaluateExport({ key: file.key, metadata: file.metadata }, settings.rules);
    // On a data folder of an earlier run, the export ledger knows the file: `already-exported` says where it is.
    const exported = (outcomes.get(file.key) ?? []).find(
      (outcome) => outcome.decision === 'exported' || outcome.reason.code === 'already-exported',
    );
    if (!expected.export) {
      if (exported) problems.push(`${file.key} was exported but the rules skip it (${expected.reason.code})`);
      continue;
    }
    if (!exported?.dropboxPath) {
      problems.push(`${file.key} was not exported`);
      continue;
    }
    try {
      const metadata = await dropbox?.getFileMetadata(exported.dropboxPath);
      if (!metadata) problems.push(`${exported.dropboxPath} is missing in Dropbox`);
      else if (metadata.contentHash !== hashes.get(file.key))
        problems.push(`${exported.dropboxPath} has the wrong content hash`);
    } catch (error) {
      problems.push(`could not check ${exported.dropboxPath} in Dropbox: ${errorMessage(error)}`);
    }
  }
  // Receipts: every demo file has the receipt of its current export state (the ledger's) in receipts.jsonl.
  const ledger = createDynamoDbLedger({
    client: createDynamoDbClient({ env: stack.env }),
    tableName: outputs.LedgerTableName,
  });
  const receiptsByKey = readReceipts(outputs.ReceiptsFile);
  for (const file of files) {
    try {
      const record = await ledger.read(ledgerId(outputs.BucketName, file.key));
      problems.push(...receiptProblems(file.key, record, receiptsByKey));
    } catch (error) {
      problems.push(`could not read the ledger record of ${file.key}: ${errorMessage(error)}`);
    }
  }
  const dlqDepth = countQueued(await readQueueDepth(sqs, outputs.DeadLetterQueueUrl));
  if (dlqDepth > 0) problems.push(`${dlqDepth} message(s) in the dead-letter queue`);

  if (dropbox) {
    const base = settings.rules.baseFolder;
    try {
      const tree = await dropbox.listFolder(base, { recursive: true });
      say(`\nDropbox now holds (${base || '/'}):`);
      for (const file of [...tree].sort((a, b) => a.pathLower.localeCompare(b.pathLower))) {
        say(
          `  ${file.pathDisplay}  ${palette.dim}${formatBytes(file.size)}  ${file.contentHash.slice(0, 12)}…${palette.reset}`,
        );
      }
    } catch (error) {
      say(`\nCould not list Dropbox (${base || '/'}): ${errorMessage(error)}`);
    }
  }
  if (problems.length > 0) {
    say(`\n${palette.red}Demo check failed:${palette.reset}\n  ${problems.join('\n  ')}`);
  } else {
    say(
      `\n${palette.green}Demo check passed:${palette.reset} every expected file arrived with its content hash.`,
    );
    say(
      `Receipts: every demo file has the receipt of its export state in ${options.dir}/receipts.jsonl (${receiptsThisRun} sent this run).`,
    );
  }
  if (options.once) return problems.length > 0 ? 1 : 0;

  say(`
Still syncing. From another terminal, upload your own file (metadata as the upload contract says), and mark it
final later (a tag change makes the function evaluate the file again):

  npm run cli -- ${local} upload ./proof.pdf tickets/2001/proof.pdf \\
    --metadata ticket-type=print,publication-alias=DailyNews,issue-alias=2026-12-08
  npm run cli -- ${local} tag tickets/2001/proof.pdf file-status=final

Every outcome gets a line here; \`npm start -- --log-level info\` shows the function's other log lines too.
Press Ctrl-C to stop: the state stays in ${options.dir}/ (\`npm start -- --reset\` starts afresh).`);
  return new Promise<number>(() => undefined);
}

let options: StartOptions | 'help';
try {
  options = readOptions();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`error: ${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  say(USAGE);
  process.exit(0);
}
main(options).then(
  (code) => void shutdown(code),
  (error: unknown) => {
    if (stopping) return;
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      void shutdown(2);
      return;
    }
    fail(error);
  },
);
