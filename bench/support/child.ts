/**
 * The measured processes of the benchmarks run as child processes (so that a peak RSS is theirs alone): the parent
 * forks them with an IPC channel, sends them commands and waits for their answers.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { basename } from 'node:path';

/** A message between the bench and a child: a `type` and whatever else it carries. */
export type ChildMessage = { readonly type: string } & Readonly<Record<string, unknown>>;

/** A forked child with an IPC channel. */
export interface Child {
  send(message: ChildMessage): void;
  /** The next message of `type` (messages of other types are kept for later). */
  receive(type: string, timeoutMs?: number): Promise<ChildMessage>;
  /** Waits for the child to exit (killing it after `graceMs`). */
  exit(graceMs?: number): Promise<number | null>;
}

function isMessage(value: unknown): value is ChildMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}

/**
 * Forks the script at `path` (a bundle) with `config` as its one argument and `env` as its environment;
 * `onErrorLine` sees each line the child writes to stderr (the function's warnings and errors).
 */
export function forkChild(
  path: string,
  config: unknown,
  env: Readonly<Record<string, string>>,
  onErrorLine?: (line: string) => void,
): Child {
  const script = basename(path);
  const child: ChildProcess = fork(path, [JSON.stringify(config)], {
    env: { ...env },
    // The child's own output (the function's JSON log lines) is not the bench's: only its last words are kept.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onErrorLine?.(line);
  });
  const inbox: ChildMessage[] = [];
  const waiters: Array<{ type: string; resolve: (message: ChildMessage) => void }> = [];
  const state: { exited?: { readonly code: number | null } } = {};
  const exitCode = (): number | null | undefined => state.exited?.code;
  const exitWaiters: Array<() => void> = [];
  child.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    const waiter = waiters.findIndex((candidate) => candidate.type === message.type);
    if (waiter >= 0) waiters.splice(waiter, 1)[0]?.resolve(message);
    else inbox.push(message);
  });
  child.once('exit', (code) => {
    state.exited = { code };
    for (const notify of exitWaiters.splice(0)) notify();
  });
  return {
    send(message) {
      child.send(message);
    },
    receive(type, timeoutMs = 30 * 60_000) {
      const kept = inbox.findIndex((message) => message.type === type);
      if (kept >= 0) return Promise.resolve(inbox.splice(kept, 1)[0] as ChildMessage);
      return new Promise<ChildMessage>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${script}: no '${type}' after ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onExit = (): void => {
          clearTimeout(timer);
          reject(new Error(`${script} exited (${exitCode()}) before sending '${type}': ${stderr.trim()}`));
        };
        if (state.exited !== undefined) {
          onExit();
          return;
        }
        exitWaiters.push(onExit);
        waiters.push({
          type,
          resolve: (message) => {
            clearTimeout(timer);
            exitWaiters.splice(exitWaiters.indexOf(onExit), 1);
            resolve(message);
          },
        });
      });
    },
    async exit(graceMs = 10_000) {
      if (state.exited !== undefined) return state.exited.code;
      const done = new Promise<void>((resolve) => exitWaiters.push(resolve));
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
      return exitCode() ?? null;
    },
  };
}

/** This process's peak resident set (`VmHWM` of /proc/self/status), in bytes; the kernel's figure where it has one. */
export async function readPeakRss(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
    if (match?.[1] !== undefined) return Number(match[1]) * 1024;
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
  }
  return process.resourceUsage().maxRSS * 1024;
}
