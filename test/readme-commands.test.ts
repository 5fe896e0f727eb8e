/**
 * Every command line of the README's quick start, local stack and CLI sections (and the CLI lines of "Deploy to AWS"),
 * extracted from README.md itself and run exactly as written, in a shell, against a local stack that the README's own
 * `npm start` runs: each one's exit code and one line of its output are checked. A README line that this test does
 * not know, or a line it knows that the README lost, fails it: the README and the CLI cannot drift apart.
 *
 * The environment stands in for a second terminal in a clone: `TICKET_DROPBOX_SYNC_LOCAL` names the local stack's
 * folder (so `npm start`, `--local` and the bare `ticket-dropbox-sync` all use a temporary one), `ticket-dropbox-sync`
 * is the package's bin (`node cli/main.ts`), and the commands run in a scratch folder inside the clone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CREDENTIALS } from '../tools/emulators/dropbox/server.ts';
import { runProcess } from './cli/run-cli.ts';

const root = new URL('..', import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------------------------
// The README's command lines

/** A command line of the README, with the output its console example shows (if any). */
interface ReadmeCommand {
  readonly section: string;
  readonly line: string;
  readonly shownOutput: readonly string[];
}

/** The sections whose every command line runs; in "Deploy to AWS", only the CLI's lines. */
const SECTIONS = ['Quick start', 'The local stack (`npm start`)', 'The CLI: `ticket-dropbox-sync`'] as const;
const DEPLOY_SECTION = 'Deploy to AWS';

/** An inline code span that is a command line: a command word (after `NAME=value` assignments) and an argument. */
const INLINE_COMMAND = /^(?:[A-Z][A-Z0-9_]*=\S*\s+)*(?:npm|npx|node|ticket-dropbox-sync)\s+\S/;
/** A span that describes a syntax rather than a line to type: `<command>`, `[--prefix P]`, `…`, `s3://BUCKET/KEY`. */
const PLACEHOLDER = /[<>[\]…]|\b[A-Z][A-Z0-9]{2,}\b(?!=)/;

function sectionsOf(readme: string): Map<string, string> {
  const sections = new Map<string, string>();
  const parts = readme.split(/^## /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return sections;
}

/** The command lines of one section: shell blocks line by line, console blocks' `$` lines, inline command spans. */
function commandsOf(section: string, text: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const prose: string[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const fence = /^\s*```(\w*)/.exec(lines[index] ?? '');
    if (fence === null) {
      prose.push(lines[index] ?? '');
      continue;
    }
    // A block inside a list item is indented as the item is: that indentation is not part of its lines.
    const indent = (lines[index] ?? '').length - (lines[index] ?? '').trimStart().length;
    const block: string[] = [];
    for (index += 1; index < lines.length && !/^\s*```/.test(lines[index] ?? ''); index += 1) {
      const text = lines[index] ?? '';
      block.push(text.slice(Math.min(indent, text.length - text.trimStart().length)));
    }
    if (fence[1] === 'sh') {
      const joined = block.join('\n').replaceAll('\\\n', ' ');
      for (const raw of joined.split('\n')) {
        const line = raw
          .replace(/\s{2,}#.*$/, '')
          .replace(/\s+/g, ' ')
          .trim();
        if (line !== '' && !line.startsWith('#')) commands.push({ section, line, shownOutput: [] });
      }
    } else if (fence[1] === 'console') {
      for (const [position, raw] of block.entries()) {
        if (!raw.startsWith('$ ')) continue;
        const shownOutput: string[] = [];
        for (const next of block.slice(position + 1)) {
          if (next.startsWith('$ ')) break;
          shownOutput.push(next);
        }
        commands.push({ section, line: raw.slice(2).trim(), shownOutput });
      }
    }
  }
  for (const match of prose.join('\n').matchAll(/`([^`]+)`/g)) {
    const span = (match[1] ?? '').replace(/\s+/g, ' ').trim();
    if (INLINE_COMMAND.test(span) && !PLACEHOLDER.test(span.replace(/^(?:[A-Z][A-Z0-9_]*=\S*\s+)+/, ''))) {
      commands.push({ section, line: span, shownOutput: [] });
    }
  }
  return commands;
}

/** Every command line the test covers, once each, in the README's order. */
function readmeCommands(): ReadmeCommand[] {
  const sections = sectionsOf(readFileSync(join(root, 'README.md'), 'utf8'));
  const found: ReadmeCommand[] = [];
  for (const name of SECTIONS) {
    const text = sections.get(name);
    if (text === undefined) throw new Error(`The README lost its section "${name}"`);
    found.push(...commandsOf(name, text));
  }
  const deploy = sections.get(DEPLOY_SECTION);
  if (deploy === undefined) throw new Error(`The README lost its section "${DEPLOY_SECTION}"`);
  found.push(
    ...commandsOf(DEPLOY_SECTION, deploy).filter((command) =>
      command.line.startsWith('ticket-dropbox-sync '),
    ),
  );
  const unique = new Map<string, ReadmeCommand>();
  for (const command of found) {
    const known = unique.get(command.line);
    if (known === undefined || (known.shownOutput.length === 0 && command.shownOutput.length > 0)) {
      unique.set(command.line, command);
    }
  }
  return [...unique.values()];
}

// ---------------------------------------------------------------------------------------------------------------
// The shell, the local stack and the checks

/** How one command ended. */
interface Run {
  readonly code: number | null;
  /** The signal that ended it, if one did. */
  readonly signal?: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

let work: string;
let state: string;
let env: NodeJS.ProcessEnv;

/** A command run in the background (the local stack), its output kept as it comes. */
interface Background {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Ctrl-C, as a terminal sends it: SIGINT to the whole process group. */
  interrupt(): Promise<Run>;
}

function shell(line: string, input?: string): Promise<Run> {
  return runProcess('bash', ['-c', line], { cwd: work, env, input });
}

/** Runs an interactive `connect`: opens the URL it prints (the emulator approves at once) and types the code. */
async function connectInteractively(line: string): Promise<Run> {
  const child = spawn('bash', ['-c', line], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let typed = false;
  const ended = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const url = /http:\/\/\S+\/oauth2\/authorize\?\S+/.exec(stdout)?.[0];
    if (url === undefined || typed) return;
    typed = true;
    void fetch(url)
      .then((response) => response.text())
      .then((code) => child.stdin.end(`${code.trim()}\n`));
  });
  return ended;
}

const runningStacks: Background[] = [];

function background(line: string): Background {
  const child = spawn('bash', ['-c', line], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  const ended = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const started: Background = {
    child,
    output: () => stdout,
    async waitFor(pattern, timeoutMs = 300_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(stdout);
        if (match !== null) return match[0];
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`${line} did not print ${pattern}:\n${stdout}\n${stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async interrupt() {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
      const run = await ended;
      runningStacks.splice(runningStacks.indexOf(started), 1);
      return run;
    },
  };
  runningStacks.push(started);
  return started;
}

/** The endpoints the running local stack wrote. */
function outputs(): { Endpoints: { s3: string; ssm: string }; SettingsPath: string; BucketName: string } {
  return JSON.parse(readFileSync(join(state, 'outputs.json'), 'utf8'));
}

/** The local stack's dummy credentials (the emulators check no signature). */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** What the ticket system would have stored already (the README's examples start from such objects). */
async function putObject(
  key: string,
  body: string | Buffer,
  metadata: Record<string, string>,
): Promise<void> {
  const s3 = new S3Client({
    endpoint: outputs().Endpoints.s3,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  await s3.send(
    new PutObjectCommand({ Bucket: outputs().BucketName, Key: key, Body: body, Metadata: metadata }),
  );
  s3.destroy();
}

/** An admin's bad value, written past the CLI's checks (for the README's `config validate` example). */
async function putRawSetting(name: string, value: string): Promise<void> {
  const ssm = new SSMClient({
    endpoint: outputs().Endpoints.ssm,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  await ssm.send(
    new PutParameterCommand({
      Name: `${outputs().SettingsPath}${name}`,
      Value: value,
      Type: 'String',
      Overwrite: true,
    }),
  );
  ssm.destroy();
}

/** A stack trace in an output: what no command may end with. */
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?\n/;

// ---------------------------------------------------------------------------------------------------------------
// What each line does here

/** How a README command line runs here. */
type Plan =
  | { readonly notRun: string }
  | {
      /** The line run instead, when part of it exists only on AWS or at Dropbox (said in `substituted`). */
      readonly run?: string;
      readonly substituted?: string;
      readonly exitCode: number;
      /** A line of its output (and of the README's shown output, when it shows one). */
      readonly line: RegExp;
      readonly before?: () => Promise<void>;
      readonly after?: (run: Run) => Promise<void>;
      readonly interactive?: boolean;
      /** A local stack run in the background until `stop`; `line` is awaited in its output. */
      readonly background?: boolean;
    };

let stack: Background | undefined;

/** Waits for a line of the running stack (the "first terminal" the README describes). */
async function stackPrints(pattern: RegExp): Promise<void> {
  if (stack === undefined) throw new Error('no local stack is running');
  await stack.waitFor(pattern);
}

/** Ctrl-C on the running stack: it stops quietly and exits 0. */
async function interruptStack(): Promise<void> {
  if (stack === undefined) throw new Error('no local stack is running');
  const run = await stack.interrupt();
  stack = undefined;
  // The stack exits 0; npm, interrupted too, ends as any interrupted command does (SIGINT, or 130), printing nothing.
  expect(run.code === 0 || run.code === 130 || run.signal === 'SIGINT', `${run.code} ${run.signal}`).toBe(
    true,
  );
  expect(run.stderr).not.toContain('npm error');
  expect(run.stdout).toContain('Stopping the local stack');
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(STACK_TRACE);
  expect(run.stderr).not.toMatch(/ECONNRESET|socket hang up/);
}

const APP_KEY_SUBSTITUTED = `the Dropbox app key abcdefghijklmno exists only at Dropbox: the emulator's ${EMULATOR_CREDENTIALS.appKey}`;
const INSTANCE_SUBSTITUTED =
  '--instance prod names a CloudFormation stack on AWS: --local, the same command on the local stack';

/** Every README command line, in the order it runs. */
const PLANS = new Map<string, Plan>([
  // Quick start
  [
    'npm ci',
    { notRun: 'it would reinstall the node_modules this test runs from; .ci/run runs it from a clean clone' },
  ],
  ['npm test', { notRun: 'this test is part of it' }],
  [
    'npm start -- --once',
    { exitCode: 0, line: /^Demo check passed: every expected file arrived with its content hash\.$/m },
  ],
  ['npm start -- --help', { exitCode: 0, line: /^Usage: npm start -- \[options\]$/m }],
  ['npm start', { background: true, exitCode: 0, line: /^Still syncing\./m }],
  [
    "printf 'my proof' > proof.pdf",
    {
      exitCode: 0,
      line: /^$/,
      after: async () => expect(statSync(join(work, 'proof.pdf')).size).toBe(8),
    },
  ],
  [
    'npm run cli -- --local upload ./proof.pdf tickets/2001/proof.pdf --metadata ticket-type=print,publication-alias=DailyNews,issue-alias=2026-12-08',
    {
      exitCode: 0,
      line: /^Uploaded proof\.pdf \(8 B\) to s3:\/\/ticket-files\/tickets\/2001\/proof\.pdf \(ETag [0-9a-f]+\)\.$/m,
      // The README: "The first terminal shows `exported tickets/2001/proof.pdf → /Ticket Files/DailyNews/2026-12-08/proof.pdf (8 B)`".
      after: () =>
        stackPrints(
          /^exported tickets\/2001\/proof\.pdf → \/Ticket Files\/DailyNews\/2026-12-08\/proof\.pdf \(8 B\)$/m,
        ),
    },
  ],
  [
    'npm run cli -- --local tag tickets/2001/proof.pdf file-status=final',
    {
      exitCode: 0,
      line: /^Tagged s3:\/\/ticket-files\/tickets\/2001\/proof\.pdf: file-status="final" \(the object's whole tag set\)\.$/m,
      after: () => stackPrints(/^skipped {2}tickets\/2001\/proof\.pdf \(final-excluded: /m),
    },
  ],
  [
    'npm run cli -- --local explain s3://ticket-files/tickets/2001/proof.pdf',
    { exitCode: 0, line: /^Decision: +SKIP \(final-excluded\)$/m },
  ],
  // The local stack
  [
    'npm run cli -- --local config set export-by-status all',
    { exitCode: 0, line: /^Set export-by-status = "all" under \/ticket-dropbox-sync\/default\/\.$/m },
  ],
  [
    'DROPBOX_ENDPOINT_URL=http://host:port npm start',
    {
      notRun:
        'host:port stands for another Dropbox-compatible server; the emulator is what npm start runs here',
    },
  ],
  // The CLI (the environment selects the local stack, as TICKET_DROPBOX_SYNC_LOCAL does for an operator)
  [
    'ticket-dropbox-sync connect --app-key abcdefghijklmno',
    {
      run: `ticket-dropbox-sync connect --app-key ${EMULATOR_CREDENTIALS.appKey}`,
      substituted: APP_KEY_SUBSTITUTED,
      interactive: true,
      exitCode: 0,
      line: /^Files go to the home folder \(dropbox\/path-root auto\)\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync disconnect',
    {
      exitCode: 0,
      line: /^Revoked the Dropbox token; removed dropbox\/refresh-token under \/ticket-dropbox-sync\/default\/\.$/m,
    },
  ],
  ['ticket-dropbox-sync config show', { exitCode: 0, line: /^base-folder +"\/Ticket Files" \(default\)$/m }],
  [
    'ticket-dropbox-sync config validate',
    {
      before: () => putRawSetting('export-by-status', 'finals'),
      exitCode: 1,
      line: /^ {2}export-by-status: export-by-status must be one of non-final, final, all \(got "finals"\)\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync config set export-by-status final',
    { exitCode: 0, line: /^Set export-by-status = "final" under \/ticket-dropbox-sync\/default\/\.$/m },
  ],
  [
    'ticket-dropbox-sync explain s3://ticket-files/tickets/1234/Proof.pdf',
    {
      before: () =>
        putObject('tickets/1234/Proof.pdf', Buffer.alloc(27_000, 7), {
          'ticket-type': 'print',
          'ticket-id': '1234',
          'file-status': 'final',
        }),
      exitCode: 0,
      line: /^Decision: +EXPORT \(final-file\)$/m,
    },
  ],
  [
    'ticket-dropbox-sync upload ./proof.pdf tickets/2001/proof.pdf --metadata ticket-type=print,ticket-id=2001',
    {
      exitCode: 0,
      line: /^Uploaded proof\.pdf \(8 B\) to s3:\/\/ticket-files\/tickets\/2001\/proof\.pdf \(ETag [0-9a-f]+\)\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync tag tickets/2001/proof.pdf file-status=final',
    {
      exitCode: 0,
      line: /^The tag change is an ObjectTagging:Put event: the function evaluates the file again\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync backfill --since 2026-01-01 --dry-run',
    {
      exitCode: 0,
      line: /^Backfill of s3:\/\/ticket-files\/tickets\/ modified since 2026-01-01T00:00:00\.000Z \(dry run: nothing sent\)$/m,
    },
  ],
  [
    'ticket-dropbox-sync pause',
    {
      exitCode: 0,
      line: /^New uploads wait in the queue \(kept for its retention period\) until `resume`\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync resume',
    { exitCode: 0, line: /^Messages waiting in the queue are processed again\.$/m },
  ],
  [
    'ticket-dropbox-sync redrive',
    { exitCode: 0, line: /^Moved \d+ message\(s\) from the dead-letter queue back to the queue \(/m },
  ],
  [
    'ticket-dropbox-sync status',
    { exitCode: 0, line: /^Dead letters: +\d+ waiting, \d+ in flight, \d+ delayed; oldest message: \S+$/m },
  ],
  [
    'ticket-dropbox-sync status --key tickets/1234/Proof.pdf',
    {
      // The file explain looked at (above) waits for `connect` (disconnected above): its state is whatever the
      // ledger holds by now; test/cli/ledger.test.ts checks the exported, renamed and skipped forms.
      exitCode: 0,
      line: /^Object: +s3:\/\/ticket-files\/tickets\/1234\/Proof\.pdf\nState: +\S/m,
    },
  ],
  // Deploy to AWS: the CLI's lines, on the local stack
  [
    'ticket-dropbox-sync connect --instance prod --app-key abcdefghijklmno',
    {
      run: `ticket-dropbox-sync connect --local --app-key ${EMULATOR_CREDENTIALS.appKey}`,
      substituted: `${INSTANCE_SUBSTITUTED}; ${APP_KEY_SUBSTITUTED}`,
      interactive: true,
      exitCode: 0,
      line: /^Connected the Dropbox account .+ <.+@.+>\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync config set export-by-status final --instance prod',
    {
      run: 'ticket-dropbox-sync config set export-by-status final --local',
      substituted: INSTANCE_SUBSTITUTED,
      exitCode: 0,
      line: /^Set export-by-status = "final" under \/ticket-dropbox-sync\/default\/\.$/m,
    },
  ],
  [
    'ticket-dropbox-sync config show --instance prod',
    {
      run: 'ticket-dropbox-sync config show --local',
      substituted: INSTANCE_SUBSTITUTED,
      exitCode: 0,
      line: /^export-by-status +"final"$/m,
    },
  ],
  [
    'ticket-dropbox-sync explain "s3://$BUCKET/tickets/T-1/f.pdf" --instance prod',
    {
      run: 'BUCKET=ticket-files; ticket-dropbox-sync explain "s3://$BUCKET/tickets/T-1/f.pdf" --local',
      substituted: `${INSTANCE_SUBSTITUTED}; BUCKET, which the README reads from the stack's outputs, is the local bucket, and the README's \`aws s3 cp\` is a PutObject with the same metadata`,
      before: () => putObject('tickets/T-1/f.pdf', 'f', { 'ticket-type': 'print', 'file-status': 'final' }),
      exitCode: 0,
      line: /^Path: +\/Ticket Files\/f\.pdf$/m,
    },
  ],
  [
    'ticket-dropbox-sync status --instance prod',
    {
      run: 'ticket-dropbox-sync status --local',
      substituted: INSTANCE_SUBSTITUTED,
      exitCode: 0,
      line: /^Dropbox: +connected as .+, writing to the home folder$/m,
    },
  ],
  [
    'ticket-dropbox-sync redrive --instance prod',
    {
      run: 'ticket-dropbox-sync redrive --local',
      substituted: INSTANCE_SUBSTITUTED,
      exitCode: 0,
      line: /^Moved \d+ message\(s\) from the dead-letter queue back to the queue \(/m,
    },
  ],
  // A restart after connect: the next run exports with the token connect stored; then a reset.
  [
    'npm start -- --log-level info',
    {
      before: interruptStack,
      background: true,
      exitCode: 0,
      // export-by-status is final now (above): the demo's final print file exports.
      line: /^exported tickets\/1001\/Final Art\.pdf → /m,
    },
  ],
  [
    'npm start -- --reset',
    {
      before: interruptStack,
      background: true,
      exitCode: 0,
      line: /^Demo check passed: every expected file arrived with its content hash\.$/m,
      after: async () => {
        expect(stack?.output()).toMatch(/^Reset: deleted the local state in /m);
        await interruptStack();
      },
    },
  ],
]);

// ---------------------------------------------------------------------------------------------------------------

beforeAll(() => {
  // A folder inside the clone (npm finds the package from there), and the local stack's state in a temporary one.
  work = join(root, '.readme-test');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  state = mkdtempSync(join(tmpdir(), 'tds-readme-state-'));
  const home = mkdtempSync(join(tmpdir(), 'tds-readme-home-'));
  const bin = mkdtempSync(join(tmpdir(), 'tds-readme-bin-'));
  const cli = join(bin, 'ticket-dropbox-sync');
  writeFileSync(cli, `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'cli', 'main.ts')}" "$@"\n`);
  chmodSync(cli, 0o755);
  const {
    INIT_CWD: _initCwd,
    npm_lifecycle_event: _event,
    npm_package_name: _name,
    TICKET_DROPBOX_SYNC_LOCAL: _local,
    ...inherited
  } = process.env;
  env = {
    ...inherited,
    PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: home,
    XDG_STATE_HOME: join(home, 'state'),
    TICKET_DROPBOX_SYNC_LOCAL: state,
  };
});

afterAll(async () => {
  for (const running of [...runningStacks]) await running.interrupt();
  rmSync(work, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

describe('the README', () => {
  const commands = readmeCommands();

  it('shows only command lines this test runs or says why it cannot, and lost none of them', () => {
    // Act
    const unknown = commands.map((command) => command.line).filter((line) => !PLANS.has(line));
    const lost = [...PLANS.keys()].filter((line) => !commands.some((command) => command.line === line));

    // Assess
    expect(unknown).toEqual([]);
    expect(lost).toEqual([]);
  });

  const byLine = new Map(commands.map((command) => [command.line, command]));
  for (const [line, plan] of PLANS) {
    if ('notRun' in plan) continue;
    it(`runs \`${line}\`${plan.substituted === undefined ? ' as written' : ` (${plan.substituted})`}`, async () => {
      // Prepare
      await plan.before?.();
      const command = plan.run ?? line;

      // Act
      let run: Run;
      if (plan.background === true) {
        stack = background(command);
        await stack.waitFor(plan.line);
        run = { code: 0, stdout: stack.output(), stderr: '' };
      } else {
        run = plan.interactive === true ? await connectInteractively(command) : await shell(command);
      }
      await plan.after?.(run);

      // Assess
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(plan.exitCode);
      expect(run.stdout).toMatch(plan.line);
      expect(`${run.stdout}\n${run.stderr}`).not.toMatch(STACK_TRACE);
      const shown = byLine.get(line)?.shownOutput ?? [];
      if (shown.length > 0) expect(shown.join('\n')).toMatch(plan.line);
    });
  }
});
