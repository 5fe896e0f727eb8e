/**
 * Memory check of the streaming uploader, as the sync function drives it: a generated object read in byte ranges
 * (what ranged `GetObject` calls serve) into a concurrent upload session of the Dropbox API emulator, which runs in a
 * child process in its hash-only store mode, so that neither its memory nor its disk writes are counted. Prints this
 * process's peak RSS and the calls per GiB; fails (exit 1) when the peak passes the bound (200 MiB, the function's
 * target) or the hash does not match.
 *
 *   npm run mem:dropbox -- [--size-mib 1024] [--chunk-mib 140] [--store spool|reread]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_UPLOAD_TUNING, DropboxClient } from '../lib/dropbox/client.ts';
import { generatedContentHash, generatedRange } from './soak/content.ts';
import { startDropboxProcess } from './soak/dropbox-process.ts';

const MIB = 1024 * 1024;
const BOUND_BYTES = 200 * MIB;
// The emulator's test app (tools/emulators/dropbox/auth.ts); not imported, to keep the emulator out of this process.
const TEST_APP = { appKey: 'emulator-app-key', refreshToken: 'emulator-refresh-token' };

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string' },
      'chunk-mib': { type: 'string' },
      store: { type: 'string' },
    },
    strict: true,
  });
  const size = Number(values['size-mib'] ?? 1024) * MIB;
  const chunkBytes =
    values['chunk-mib'] === undefined ? DEFAULT_UPLOAD_TUNING.chunkBytes : Number(values['chunk-mib']) * MIB;
  const store = values.store ?? DEFAULT_UPLOAD_TUNING.pieceStore;
  if (
    !Number.isSafeInteger(size) ||
    size <= 0 ||
    !Number.isSafeInteger(chunkBytes) ||
    chunkBytes <= 0 ||
    (store !== 'spool' && store !== 'reread')
  ) {
    process.stderr.write(
      'usage: node tools/dropbox-memory.ts [--size-mib N] [--chunk-mib N] [--store spool|reread]\n',
    );
    return 2;
  }
  const root = await mkdtemp(join(tmpdir(), 'dropbox-memory-'));
  const emulator = await startDropboxProcess({ root, keepBytes: false });
  try {
    const client = new DropboxClient({
      credentials: { ...TEST_APP, pathRoot: 'auto' },
      endpointUrl: emulator.url,
      upload: { chunkBytes, pieceStore: store, spoolDir: join(root, 'spool') },
    });
    const baselineBytes = process.memoryUsage().rss;
    const started = Date.now();
    const file = await client.upload({
      path: '/Memory check/object.bin',
      size,
      clientModified: new Date(),
      onConflict: 'overwrite',
      openRange: async (range) => generatedRange(size, 20261127, range?.start ?? 0, range?.end ?? size - 1),
    });
    const seconds = (Date.now() - started) / 1000;
    // maxRSS is the kernel's high-water mark for this process, in KiB.
    const peakBytes = process.resourceUsage().maxRSS * 1024;
    const calls = (await emulator.requestLog()).filter((entry) =>
      entry.route.startsWith('files/upload'),
    ).length;
    const intact = file.size === size && file.contentHash === generatedContentHash(size, 20261127);
    const within = peakBytes <= BOUND_BYTES;
    const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
    process.stdout.write(
      [
        `uploaded ${mib(size)} in pieces of ${mib(chunkBytes)} (${store}) in ${seconds.toFixed(1)} s (${mib(size / seconds)}/s)`,
        `content hash ${intact ? 'verified' : 'MISMATCH'}: ${file.contentHash}`,
        `upload calls ${calls} (${(calls / (size / 1024 / MIB)).toFixed(1)} per GiB)`,
        `RSS before the upload ${mib(baselineBytes)}`,
        `peak RSS ${mib(peakBytes)}; bound ${mib(BOUND_BYTES)}: ${within ? 'OK' : 'EXCEEDED'}`,
      ]
        .map((line) => `${line}\n`)
        .join(''),
    );
    return intact && within ? 0 : 1;
  } finally {
    await emulator.close();
    await rm(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
