/**
 * Test helpers for lib/dropbox and the Dropbox API emulator: an emulator in a temporary folder, clients pointed at
 * it, byte sources, and a reference content hash written straight from Dropbox's documented algorithm.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Dropbox, DropboxAuth } from 'dropbox';
import { DropboxClient, type DropboxClientOptions } from '../../lib/dropbox/client.ts';
import { createHttpTransport } from '../../lib/dropbox/http-transport.ts';
import {
  type DropboxEmulator,
  type DropboxEmulatorOptions,
  EMULATOR_CREDENTIALS,
  type RequestLogEntry,
  startDropboxEmulator,
} from '../../tools/emulators/dropbox/server.ts';

export const MIB = 1024 * 1024;

/**
 * Dropbox's content hash as https://www.dropbox.com/developers/reference/content-hash states it: split into
 * 4,194,304-byte blocks (the last may be shorter), SHA-256 each, concatenate the binary digests, SHA-256 that, hex.
 */
export function referenceContentHash(data: Uint8Array): string {
  const digests: Buffer[] = [];
  for (let start = 0; start < data.byteLength; start += 4_194_304) {
    digests.push(
      createHash('sha256')
        .update(data.subarray(start, start + 4_194_304))
        .digest(),
    );
  }
  return createHash('sha256').update(Buffer.concat(digests)).digest('hex');
}

/** A running emulator in its own temporary folder. */
export interface EmulatorFixture {
  readonly emulator: DropboxEmulator;
  readonly root: string;
  /** Stops the emulator and removes its folder. */
  dispose(): Promise<void>;
}

/** Starts an emulator on an ephemeral port in a fresh temporary folder. */
export async function startEmulator(options: Partial<DropboxEmulatorOptions> = {}): Promise<EmulatorFixture> {
  const root = await mkdtemp(join(tmpdir(), 'dropbox-emulator-'));
  const emulator = await startDropboxEmulator({ ...options, root });
  return {
    emulator,
    root,
    async dispose() {
      await emulator.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Fast test tuning: short backoffs, enough tries for heavy fault rates. */
export const FAST_RETRIES = { maxAttempts: 8, backoffBaseMs: 2, backoffCapMs: 20 } as const;

/**
 * The client's own transport, for tests that wrap it (a lost answer, a count of calls): streamed pieces are bodies
 * only it sends, Node's fetch does not.
 */
export const transport: typeof fetch = createHttpTransport();

/** A lib/dropbox client for the emulator's test app. */
export function clientFor(
  emulator: DropboxEmulator,
  overrides: Partial<Omit<DropboxClientOptions, 'credentials'>> & {
    pathRoot?: 'auto' | 'home';
    refreshToken?: string;
  } = {},
): DropboxClient {
  const { pathRoot, refreshToken, upload, ...rest } = overrides;
  return new DropboxClient({
    credentials: {
      appKey: EMULATOR_CREDENTIALS.appKey,
      refreshToken: refreshToken ?? EMULATOR_CREDENTIALS.refreshToken,
      pathRoot: pathRoot ?? 'auto',
    },
    endpointUrl: emulator.url,
    upload: { ...FAST_RETRIES, ...upload },
    ...rest,
  });
}

/** The real `dropbox` SDK (and its auth object), refreshing with the emulator's test app, routed to the emulator. */
export function sdkPair(
  emulator: DropboxEmulator,
  options: { pathRoot?: string } = {},
): { readonly sdk: Dropbox; readonly auth: DropboxAuth } {
  const routed = (url: string, init?: RequestInit): Promise<Response> => {
    const original = new URL(url);
    return fetch(`${emulator.url}${original.pathname}${original.search}`, init);
  };
  const auth = new DropboxAuth({
    clientId: EMULATOR_CREDENTIALS.appKey,
    refreshToken: EMULATOR_CREDENTIALS.refreshToken,
    fetch: routed,
  });
  const sdk = new Dropbox({
    auth,
    ...(options.pathRoot === undefined ? {} : { pathRoot: options.pathRoot }),
  });
  return { sdk, auth };
}

/** The real `dropbox` SDK routed to the emulator (see {@link sdkPair}). */
export function sdkFor(emulator: DropboxEmulator, options: { pathRoot?: string } = {}): Dropbox {
  return sdkPair(emulator, options).sdk;
}

/** `size` random bytes. */
export function bytes(size: number): Buffer {
  return randomBytes(size);
}

/** A Readable that yields `data` in pieces of `pieceBytes` (as an S3 body would). */
export function bodyOf(data: Uint8Array, pieceBytes = 64 * 1024): Readable {
  function* pieces(): Generator<Uint8Array> {
    for (let start = 0; start < data.byteLength; start += pieceBytes) {
      yield data.subarray(start, Math.min(data.byteLength, start + pieceBytes));
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}

/** The bytes of an exported file as it sits on disk under the emulator's root. */
export function readExported(root: string, namespace: 'home' | 'team', pathDisplay: string): Promise<Buffer> {
  return readFile(join(root, namespace, ...pathDisplay.split('/').filter((part) => part !== '')));
}

/** Request log entries of one route. */
export function callsTo(log: readonly RequestLogEntry[], route: string): RequestLogEntry[] {
  return log.filter((entry) => entry.route === route);
}
