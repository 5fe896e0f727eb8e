/**
 * The Dropbox the bench's function talks to, and how the bench reads what it saw: the stack's embedded emulator (its
 * real store, in the bench's process), or an emulator in a process of its own in its hash-only store mode, which
 * receives, hashes and checks every byte but writes none (tools/emulators/dropbox, `keepBytes: false`), for the
 * throughput and wan scenarios: there the receiving end then costs what a sink that hashes costs, on a core of its
 * own, and does not share an event loop with the S3 proxy the function reads from.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import {
  EMULATOR_CLIENT_CREDENTIALS,
  type FaultOptions,
  type RequestLogEntry,
} from '../../tools/emulators/dropbox/server.ts';
import { startDropboxProcess } from '../../tools/soak/dropbox-process.ts';
import type { BenchStack } from './stack.ts';

/** A Dropbox emulator as the bench uses it. */
export interface BenchDropbox {
  /** `DROPBOX_ENDPOINT_URL` for the function. */
  readonly url: string;
  /** Its process, when it has one of its own (for its CPU time). */
  readonly pid: string | undefined;
  /** Its request log from entry `from` on. */
  requestLog(from?: number): Promise<readonly RequestLogEntry[]>;
  /** A client of the emulator's test app, for checking what was exported. */
  readonly client: DropboxClient;
  /** Frees an exported file's disk space (the next run writes its own). */
  removeExported(path: string): Promise<void>;
  close(): Promise<void>;
}

/** The stack's embedded emulator (its real store). */
export function embeddedDropbox(stack: BenchStack): BenchDropbox {
  return {
    url: stack.dropbox.url,
    pid: undefined,
    requestLog: async (from = 0) => stack.dropbox.requestLog.slice(from),
    client: stack.dropboxClient,
    removeExported: (path) =>
      rm(join(stack.dir, 'dropbox', 'home', ...path.split('/').filter((part) => part !== '')), {
        force: true,
      }),
    close: async () => undefined,
  };
}

/**
 * An emulator in a child process, in its hash-only store mode (no bytes kept), under `parent`; `faults` (the wan
 * scenario's latency and bandwidth cap) from its start.
 */
export async function startHashOnlyDropbox(parent: string, faults?: FaultOptions): Promise<BenchDropbox> {
  const root = await mkdtemp(join(parent, 'dropbox-hash-only-'));
  const emulator = await startDropboxProcess({
    root,
    keepBytes: false,
    ...(faults === undefined ? {} : { faults }),
  });
  const client = new DropboxClient({
    credentials: EMULATOR_CLIENT_CREDENTIALS,
    endpointUrl: emulator.url,
  });
  return {
    url: emulator.url,
    pid: emulator.pid === undefined ? undefined : String(emulator.pid),
    requestLog: (from) => emulator.requestLog(from),
    client,
    removeExported: async () => undefined,
    async close() {
      await emulator.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
