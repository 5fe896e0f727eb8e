/**
 * A 1 GiB object through the project's uploader as the sync function drives it: read in
 * byte ranges (as ranged `GetObject` calls pinned to the ETag would serve them) into a concurrent upload session, its
 * pieces hashed and spooled to disk, never held in memory; the content hash verified; the process's peak memory and
 * the calls per GiB bounded. The Dropbox emulator runs in a child process in its hash-only store mode (every byte
 * received, hashed and checked against each call's content_hash; none written), and the expected hash is computed in
 * a worker thread, so the measured process holds only the uploader. No timing is asserted. The full
 * S3 → SQS → function → Dropbox run of a 1 GiB and of a 5 GiB object (S3's single-PUT maximum), with the function's
 * peak RSS, is the bench's (`npm run bench`, BENCHMARKS.md); at 5 GiB this test would take minutes of the suite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UPLOAD_TUNING, DropboxClient } from '../../lib/dropbox/client.ts';
import { EMULATOR_CLIENT_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { generatedContentHashInWorker, generatedRange } from '../../tools/soak/content.ts';
import { type DropboxProcess, startDropboxProcess } from '../../tools/soak/dropbox-process.ts';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const SIZE = GIB;
const SEED = 5;
/**
 * What the uploader may add to the process, whatever the file's size: less than one of its 140 MiB pieces (four are
 * on their way at once), for the streams' buffers, the spool's 1 MiB read buffers, and the source's chunks waiting
 * for the garbage collector. The function's own target is a peak RSS of 200 MiB with Node and the function loaded
 * (about 90 MiB of it); the bench measures that (BENCHMARKS.md).
 */
const GROWTH_BOUND = 128 * MIB;

describe('a 1 GiB object', () => {
  let root: string;
  let emulator: DropboxProcess;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tds-1gib-'));
    emulator = await startDropboxProcess({ root, keepBytes: false });
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('streams into Dropbox in at most 10 calls per GiB, its content hash verified, memory flat', async () => {
    // Prepare: the expected hash first, so that the worker computing it is not measured with the uploader
    const expectedHash = await generatedContentHashInWorker(SIZE, SEED);
    const spoolDir = await mkdtemp(join(tmpdir(), 'tds-1gib-spool-'));
    const client = new DropboxClient({
      credentials: EMULATOR_CLIENT_CREDENTIALS,
      endpointUrl: emulator.url,
      upload: { spoolDir },
    });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);

    // Act
    let file: Awaited<ReturnType<DropboxClient['upload']>>;
    try {
      file = await client.upload({
        path: '/Large/one-gib.bin',
        size: SIZE,
        clientModified: new Date('2026-11-27T10:00:00Z'),
        onConflict: 'rename',
        openRange: async (range) => generatedRange(SIZE, SEED, range?.start ?? 0, range?.end ?? SIZE - 1),
      });
    } finally {
      clearInterval(sampler);
      await rm(spoolDir, { recursive: true, force: true });
    }

    // Assess
    expect(file).toMatchObject({ pathDisplay: '/Large/one-gib.bin', size: SIZE });
    expect(file.contentHash).toBe(expectedHash);
    expect(await client.getFileMetadata('/Large/one-gib.bin')).toMatchObject({
      contentHash: expectedHash,
    });
    const stats = await emulator.stats();
    const sessionCalls = Object.entries(stats.requestsByRoute)
      .filter(([route]) => route.startsWith('files/upload_session'))
      .reduce((sum, [, count]) => sum + count, 0);
    // start, one append per piece of 140 MiB (the closing piece the rest), finish.
    expect(sessionCalls).toBe(2 + Math.ceil(SIZE / DEFAULT_UPLOAD_TUNING.chunkBytes));
    expect(sessionCalls / (SIZE / GIB)).toBeLessThanOrEqual(10);
    // Memory does not grow with the piece size (140 MiB) nor with the file: pieces wait on disk, not in the heap.
    expect(peak - baseline).toBeLessThan(GROWTH_BOUND);
  }, 600_000);
});
