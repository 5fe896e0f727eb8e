/**
 * Runs `node cli/main.ts …` as a real process. Asynchronous on purpose: the local stack serves the CLI from this
 * same process, so a synchronous spawn would block the emulators it talks to.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI's entry point. */
export const CLI_MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

/** How a CLI run ended. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCliProcess}. */
export interface RunCliOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. @default '' */
  readonly input?: string;
}

/** A started CLI process whose streams the test drives. */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves once stdout matches `pattern`, with the match. */
  waitForStdout(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves when the process ends. */
  done(): Promise<CliRun>;
}

/** Where and how a process runs. */
export interface ProcessOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string | undefined;
}

/** Starts the CLI; the test writes to its stdin and reads its output as it comes. */
export function startCliProcess(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  return startProcess(process.execPath, [CLI_MAIN, ...args], { env });
}

/** Starts any command (`npm start`, a shell line); the test writes to its stdin and reads its output as it comes. */
export function startProcess(command: string, args: readonly string[], options: ProcessOptions): CliProcess {
  const child = spawn(command, [...args], {
    env: options.env,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(stdout);
      if (match !== null) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const ended = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    waitForStdout(pattern) {
      const match = pattern.exec(stdout);
      if (match !== null) return Promise.resolve(match);
      return new Promise<RegExpExecArray>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        ended.then(
          () => reject(new Error(`the CLI ended before printing ${pattern}:\n${stdout}\n${stderr}`)),
          reject,
        );
      });
    },
    done: () => ended,
  };
}

/** Runs the CLI to its end with `input` on stdin. */
export function runCliProcess(args: readonly string[], options: RunCliOptions): Promise<CliRun> {
  return runProcess(process.execPath, [CLI_MAIN, ...args], options);
}

/** Runs any command to its end with `input` on stdin. */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: ProcessOptions & { readonly input?: string | undefined },
): Promise<CliRun> {
  const started = startProcess(command, args, options);
  started.child.stdin.end(options.input ?? '');
  return started.done();
}
