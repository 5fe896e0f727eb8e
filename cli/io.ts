/**
 * Where a command writes and reads. `main.ts` passes the process streams; the output of data commands goes
 * to stdout (a table, or JSON with `--json`), progress and prompts to stderr, so stdout stays pipeable.
 * Every write passes a redactor that masks the secret values the CLI has handled so far (refresh token, app
 * secret, authorization code), whatever message they might reach.
 */
import type { Readable, Writable } from 'node:stream';
import { CliUsageError } from './errors.ts';

/** A text output. */
export interface TextSink {
  write(text: string): void;
}

/** The streams and environment a command runs with. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly stdin: Readable;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  readonly stderrIsTty: boolean;
  /** True when stdin is a terminal: prompts are shown only then. */
  readonly stdinIsTty: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Masks `value` in everything written from now on. */
  addSecret(value: string): void;
}

/** What a secret is replaced with in output. */
export const REDACTED = '****';

/** Secrets shorter than this are not redacted: masking every "a" would garble the output and protect nothing. */
const MIN_SECRET_LENGTH = 6;

/** Builds a {@link CliIo} on the given streams. */
export function createIo(streams: {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly stderrIsTty: boolean;
  readonly stdinIsTty: boolean;
  readonly env: NodeJS.ProcessEnv;
}): CliIo {
  const secrets = new Set<string>();
  const redact = (text: string): string => {
    let result = text;
    for (const secret of secrets) result = result.replaceAll(secret, REDACTED);
    return result;
  };
  return {
    stdout: { write: (text) => void streams.stdout.write(redact(text)) },
    stderr: { write: (text) => void streams.stderr.write(redact(text)) },
    stdin: streams.stdin,
    stderrIsTty: streams.stderrIsTty,
    stdinIsTty: streams.stdinIsTty,
    env: streams.env,
    addSecret(value) {
      if (value.length >= MIN_SECRET_LENGTH) secrets.add(value);
    },
  };
}

/** Builds the {@link CliIo} of the running process. */
export function createProcessIo(): CliIo {
  return createIo({
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    stderrIsTty: process.stderr.isTTY === true,
    stdinIsTty: process.stdin.isTTY === true,
    env: process.env,
  });
}

/** Writes lines to stdout. */
export function printLines(io: CliIo, ...lines: readonly string[]): void {
  io.stdout.write(lines.map((line) => `${line}\n`).join(''));
}

/** Writes a value to stdout as indented JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reads one line from stdin: the text before the first newline, trimmed, or everything when the stream ends
 * without one. What follows the newline stays for the next read (a secret and then a code may arrive in one chunk).
 * Resolves `null` when stdin ends empty.
 */
export async function readLine(io: CliIo): Promise<string | null> {
  const stdin = io.stdin;
  if (stdin.readableEnded) return null;
  stdin.setEncoding('utf8');
  let buffered = '';
  return new Promise<string | null>((resolve, reject) => {
    const finish = (value: string | null): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      resolve(value);
    };
    const onData = (chunk: string): void => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      const rest = buffered.slice(newline + 1);
      finish(buffered.slice(0, newline).trim());
      if (rest !== '') stdin.unshift(rest);
    };
    const onEnd = (): void => {
      const rest = buffered.trim();
      finish(rest === '' ? null : rest);
    };
    const onError = (error: Error): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      reject(error);
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

/**
 * Reads a secret given as `-` on the command line (`config set NAME -`, `connect --app-secret -`) from stdin's next
 * line, so that it never lands in the shell's history or in `ps`; a prompt on stderr when stdin is a terminal.
 */
export async function readSecretLine(io: CliIo, name: string): Promise<string> {
  if (io.stdinIsTty) io.stderr.write(`Value of ${name} (input is read from stdin): `);
  const value = await readLine(io);
  if (value === null || value === '') throw new CliUsageError(`no value for ${name} on stdin`);
  return value;
}
