/**
 * Runs s3rver in a child Node process started with `--openssl-legacy-provider` (see `s3rver-child.ts` for why),
 * listening on 127.0.0.1 with an ephemeral port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A running s3rver. */
export interface S3rverProcess {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  stop(): Promise<void>;
}

/** s3rver did not come up. */
export class S3rverStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3rverStartError';
  }
}

const CHILD = fileURLToPath(new URL('./s3rver-child.ts', import.meta.url));

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts s3rver over `directory` with `buckets` created. */
export async function startS3rverProcess(options: {
  readonly directory: string;
  readonly buckets: readonly string[];
}): Promise<S3rverProcess> {
  mkdirSync(options.directory, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '--no-warnings',
      CHILD,
      JSON.stringify({ directory: options.directory, buckets: options.buckets }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });

  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const onExit = (code: number | null): void => {
      reject(new S3rverStartError(`s3rver exited (code ${code}) before listening: ${stderr.trim()}`));
    };
    child.once('exit', onExit);
    child.once('error', (error) =>
      reject(new S3rverStartError('s3rver could not be started', { cause: error })),
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      stdout += text;
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line === undefined) return;
      child.off('exit', onExit);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        reject(new S3rverStartError(`s3rver reported an unreadable address: ${line}`, { cause: error }));
      }
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const exited = waitForExit(child);
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
