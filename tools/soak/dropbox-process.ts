/**
 * Starts the Dropbox API emulator in a child process (tools/soak/dropbox-child.ts) and drives it over IPC. The soak
 * and the 5 GiB corpus test use it so that the emulator's hashing and disk writes run on another core than the code
 * under test, whose memory is then measured alone.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FaultOptions, RequestLogEntry } from '../emulators/dropbox/server.ts';

/** Options of {@link startDropboxProcess}. */
export interface ChildOptions {
  /** Where the emulator keeps its files. */
  readonly root: string;
  /** The account has a team space root. @default false */
  readonly team?: boolean;
  readonly faults?: FaultOptions;
  /**
   * Every call naming a path that contains this text is answered `503` by a proxy in front of the emulator, forever:
   * a record for such a path fails transiently on every receive (the soak's poison messages).
   */
  readonly poisonMarker?: string;
  /** Keep the bytes of uploaded files (`false`: the emulator's hash-only store, for throughput). @default true */
  readonly keepBytes?: boolean;
}

/** What the emulator served so far. */
export interface DropboxStats {
  readonly requests: number;
  /** Injected faults by kind: `rate-limit`, `server-error`, `reset`, `write-lock`. */
  readonly faultsByKind: Readonly<Record<string, number>>;
  readonly requestsByRoute: Readonly<Record<string, number>>;
  /** Request body bytes received. */
  readonly bytesIn: number;
  /** Calls the poison proxy refused. */
  readonly poisonRefusals: number;
}

/** Messages to the child. */
export type ToChild =
  | { readonly type: 'set-faults'; readonly id: number; readonly faults: FaultOptions }
  | { readonly type: 'set-insufficient-space'; readonly id: number; readonly on: boolean }
  | { readonly type: 'stats'; readonly id: number }
  | { readonly type: 'log'; readonly id: number; readonly from: number }
  | { readonly type: 'close'; readonly id: number };

/** Messages from the child. */
export type FromChild =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'stats'; readonly id: number; readonly stats: DropboxStats }
  | { readonly type: 'log'; readonly id: number; readonly entries: readonly RequestLogEntry[] };

/** A running emulator process. */
export interface DropboxProcess {
  /** The value for `DROPBOX_ENDPOINT_URL` (the poison proxy when there is one). */
  readonly url: string;
  /** The child's process id. */
  readonly pid: number | undefined;
  setFaults(faults: FaultOptions): Promise<void>;
  /** Dropbox is full (every write fails with `insufficient_space`) while on: the soak's account-wide outage. */
  setInsufficientSpace(on: boolean): Promise<void>;
  stats(): Promise<DropboxStats>;
  /** The emulator's request log from entry `from` on (0: all of it). */
  requestLog(from?: number): Promise<readonly RequestLogEntry[]>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./dropbox-child.ts', import.meta.url));

/** Forks the emulator and resolves once it listens. */
export async function startDropboxProcess(options: ChildOptions): Promise<DropboxProcess> {
  const child: ChildProcess = fork(CHILD, [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (message: FromChild) => void>();
  let nextId = 1;
  let exited = false;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the Dropbox emulator process exited with code ${code}`)));
    child.on('message', (message: FromChild) => {
      if (message.type === 'ready') resolve(message.url);
      else pending.get(message.id)?.(message);
    });
  });
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  child.once('exit', () => {
    exited = true;
  });
  const ask = (message: ToChild): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      if (exited || !child.connected) {
        reject(new Error('the Dropbox emulator process is gone'));
        return;
      }
      pending.set(message.id, (answer) => {
        pending.delete(message.id);
        resolve(answer);
      });
      child.send(message);
    });
  return {
    url,
    pid: child.pid,
    async setFaults(faults) {
      await ask({ type: 'set-faults', id: nextId++, faults });
    },
    async setInsufficientSpace(on) {
      await ask({ type: 'set-insufficient-space', id: nextId++, on });
    },
    async stats() {
      const answer = await ask({ type: 'stats', id: nextId++ });
      if (answer.type !== 'stats') throw new Error('the Dropbox emulator process answered without stats');
      return answer.stats;
    },
    async requestLog(from = 0) {
      const answer = await ask({ type: 'log', id: nextId++, from });
      if (answer.type !== 'log') throw new Error('the Dropbox emulator process answered without its log');
      return answer.entries;
    },
    async close() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await ask({ type: 'close', id: nextId++ });
      await gone;
    },
  };
}
