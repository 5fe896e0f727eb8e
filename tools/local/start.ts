/**
 * `npm start`: runs the whole flow locally (DESIGN.md "Local stack"), uploads the demo set, prints each decision as
 * it happens and the Dropbox tree at the end, then keeps syncing new uploads until Ctrl-C.
 * `npm start -- --once` exits after the demo: 0 when every expected file arrived with its content hash, else 1.
 */
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';
import { PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { createS3Client, createSqsClient, createSsmClient } from '../../lib/aws/clients.ts';
import { countQueued, readQueueDepth } from '../../lib/aws/queue-depth.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { getDropboxClient } from '../../lib/dropbox/client.ts';
import { DropboxContentHasher } from '../../lib/dropbox/content-hash.ts';
import { errorMessage } from '../../lib/errors.ts';
import { sleep } from '../../lib/retry.ts';
import { evaluateExport } from '../../lib/rules.ts';
import { parseSettings } from '../../lib/settings.ts';
import type { SyncOutcome } from '../../lib/sync.ts';
import type { DeliveredEvent } from '../emulators/events/server.ts';
import { type DemoFile, demoContent, demoFiles } from './demo-files.ts';
import { describeReceipt } from './receipt-line.ts';
import { startLocalStack } from './stack.ts';

const { values: args } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    dir: { type: 'string', default: '.local' },
    'large-mib': { type: 'string', default: '200' },
    'timeout-seconds': { type: 'string', default: '600' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(`Usage: npm start -- [--once] [--dir .local] [--large-mib 200] [--timeout-seconds 600]

Runs S3 (s3rver), SSM, SQS and Dropbox emulators, the poller and the sync function on this machine,
uploads a demo set of ticket files and prints what happens. Set DROPBOX_ENDPOINT_URL to use another
Dropbox-compatible server, or DROPBOX_REAL=1 with DROPBOX_APP_KEY / DROPBOX_REFRESH_TOKEN for the real Dropbox.`);
  process.exit(0);
}

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
const MIB = 1024 * 1024;
const color = process.stdout.isTTY
  ? { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', dim: '\x1b[2m', reset: '\x1b[0m' }
  : { green: '', yellow: '', red: '', dim: '', reset: '' };

function formatBytes(bytes: number): string {
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

const outcomes = new Map<string, SyncOutcome[]>();
function printOutcome(outcome: SyncOutcome): void {
  const list = outcomes.get(outcome.key) ?? [];
  list.push(outcome);
  outcomes.set(outcome.key, list);
  const warnings = outcome.warnings.length
    ? ` ${color.yellow}[${outcome.warnings.map((w) => w.code).join(', ')}]${color.reset}`
    : '';
  if (outcome.decision === 'exported') {
    console.log(
      `${color.green}exported${color.reset} ${outcome.key} → ${outcome.dropboxPath} (${formatBytes(outcome.bytes)})${warnings}`,
    );
  } else {
    console.log(
      `${color.dim}skipped ${color.reset} ${outcome.key} ${color.dim}(${outcome.reason.code}: ${outcome.reason.message})${color.reset}${warnings}`,
    );
  }
}

const receipts: DeliveredEvent[] = [];
function printReceipt(event: DeliveredEvent): void {
  receipts.push(event);
  const line = describeReceipt(event);
  console.log(`${color.dim}receipt ${color.reset} ${line}`);
}

const stack = await startLocalStack({
  dir: args.dir,
  dropboxEndpointUrl: process.env.DROPBOX_REAL === '1' ? null : undefined,
  // The demo shows the alias folders; an admin's own value in .local/ssm.json is kept.
  initialSettings: { 'export-to-single-folder': 'no' },
  onOutcome: (outcome) => printOutcome(outcome),
  onFailure: (failure) =>
    console.log(
      `${color.red}failed  ${color.reset} ${failure.key} (${failure.kind} ${failure.code}: ${failure.message}; retry in ${failure.retryInSeconds} s)`,
    ),
  onError: (error) => console.error(`${color.red}poller error${color.reset}: ${errorMessage(error)}`),
  onReceipt: (event) => printReceipt(event),
});
let stopping = false;
const stop = async (code: number): Promise<never> => {
  stopping = true;
  await stack.close();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const { outputs } = stack;
console.log(`Local stack is up (data in ${args.dir}/):
  S3      ${outputs.Endpoints.s3}  bucket ${outputs.BucketName}, prefix ${outputs.KeyPrefix}
  SSM     ${outputs.Endpoints.ssm}  settings under ${outputs.SettingsPath}
  SQS     ${outputs.Endpoints.sqs}  queue + DLQ
  Events  ${outputs.Endpoints.events}  receipts on the ${outputs.ReceiptsEventBus} bus, appended to ${args.dir}/receipts.jsonl
  Dropbox ${outputs.Endpoints.dropbox ?? 'the real Dropbox'}${stack.dropbox ? `  (files under ${args.dir}/dropbox/)` : ''}
`);

const s3 = createS3Client({ env: stack.env });
const settings = parseSettings(
  await loadRawSettings(createSsmClient({ env: stack.env }), outputs.SettingsPath),
);
const files = demoFiles(Number(args['large-mib']) * MIB);
const hashes = new Map<string, string>();

async function upload(file: DemoFile): Promise<void> {
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
  );
  hashes.set(file.key, hasher.digest());
}

console.log(`Uploading ${files.length} demo files:`);
for (const file of files) {
  console.log(`  ${color.dim}put${color.reset} ${file.key} ${color.dim}(${file.note})${color.reset}`);
  await upload(file);
}
for (const file of files) {
  if (!file.tagLater) continue;
  await sleep(1500);
  console.log(`  ${color.dim}tag${color.reset} ${file.key} ${JSON.stringify(file.tagLater)}`);
  await s3.send(
    new PutObjectTaggingCommand({
      Bucket: outputs.BucketName,
      Key: file.key,
      Tagging: { TagSet: Object.entries(file.tagLater).map(([Key, Value]) => ({ Key, Value })) },
    }),
  );
}

const sqs = createSqsClient({ env: stack.env });
const queueDepth = async (url: string): Promise<number> => countQueued(await readQueueDepth(sqs, url));

const expectedEvents = files.length + files.filter((file) => file.tagLater).length;
const deadline = Date.now() + Number(args['timeout-seconds']) * 1000;
while (Date.now() < deadline && !stopping) {
  const seen = [...outcomes.values()].reduce((sum, list) => sum + list.length, 0);
  if (seen >= expectedEvents && (await queueDepth(outputs.QueueUrl)) === 0) break;
  await sleep(500);
}

// Verify: every file the rules export is in Dropbox with the content hash of what was uploaded.
const dropbox = settings.dropbox
  ? getDropboxClient({ credentials: settings.dropbox, endpointUrl: stack.env.DROPBOX_ENDPOINT_URL })
  : undefined;
const problems: string[] = [];
for (const file of files) {
  const expected = evaluateExport({ key: file.key, metadata: file.metadata }, settings.rules);
  const exported = (outcomes.get(file.key) ?? []).find((outcome) => outcome.decision === 'exported');
  if (!expected.export) {
    if (exported) problems.push(`${file.key} was exported but the rules skip it (${expected.reason.code})`);
    continue;
  }
  if (!exported?.dropboxPath) {
    problems.push(`${file.key} was not exported`);
    continue;
  }
  const metadata = await dropbox?.getFileMetadata(exported.dropboxPath);
  if (!metadata) problems.push(`${exported.dropboxPath} is missing in Dropbox`);
  else if (metadata.contentHash !== hashes.get(file.key))
    problems.push(`${exported.dropboxPath} has the wrong content hash`);
}
const dlqDepth = await queueDepth(outputs.DeadLetterQueueUrl);
if (dlqDepth > 0) problems.push(`${dlqDepth} message(s) in the dead-letter queue`);

if (dropbox) {
  const base = settings.rules.baseFolder;
  const tree = await dropbox.listFolder(base, { recursive: true });
  console.log(`\nDropbox now holds (${base || '/'}):`);
  for (const file of [...tree].sort((a, b) => a.pathLower.localeCompare(b.pathLower))) {
    console.log(
      `  ${file.pathDisplay}  ${color.dim}${formatBytes(file.size)}  ${file.contentHash.slice(0, 12)}…${color.reset}`,
    );
  }
}
if (problems.length > 0) {
  console.log(`\n${color.red}Demo check failed:${color.reset}\n  ${problems.join('\n  ')}`);
} else {
  console.log(
    `\n${color.green}Demo check passed:${color.reset} every expected file arrived with its content hash.`,
  );
}

if (args.once) await stop(problems.length > 0 ? 1 : 0);

console.log(`
Still syncing: upload your own file (any S3 client works; these are the local stack's dummy credentials):

  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \\
    aws --endpoint-url ${outputs.Endpoints.s3} s3 cp ./proof.pdf "s3://${outputs.BucketName}/tickets/2001/proof.pdf" \\
    --metadata ticket-type=print,publication-alias=DailyNews,issue-alias=2026-12-08

  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \\
    aws --endpoint-url ${outputs.Endpoints.s3} s3api put-object-tagging --bucket ${outputs.BucketName} \\
    --key tickets/2001/proof.pdf --tagging 'TagSet=[{Key=file-status,Value=final}]'

Press Ctrl-C to stop.`);
