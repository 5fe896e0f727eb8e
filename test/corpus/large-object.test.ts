/**
 * The 5 GiB object (S3's single-PUT maximum), streamed from a generator into the Dropbox emulator over HTTP by the
 * project's uploader, its content hash verified, with this process's peak memory bounded. The emulator runs in a
 * child process and the expected hash is computed in a worker thread, so the measured process holds only the
 * uploader. The full S3 → SQS → function → Dropbox run of the same object takes minutes here and lives in the soak
 * (`npm run soak`; docs/reliability.md).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UPLOAD_TUNING, DropboxClient } from '../../lib/dropbox/client.ts';
import { EMULATOR_CREDENTIALS } from '../../tools/emulators/dropbox/server.ts';
import { generatedBody, generatedContentHashInWorker } from '../../tools/soak/content.ts';
import { type DropboxProcess, startDropboxProcess } from '../../tools/soak/dropbox-process.ts';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
/** S3's maximum size of one PutObject. */
const S3_SINGLE_PUT_MAX = 5 * GIB;
const SEED = 5;

describe('a 5 GiB object', () => {
  let root: string;
  let emulator: DropboxProcess;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tds-5gib-'));
    emulator = await startDropboxProcess({ root });
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('streams into Dropbox through an upload session with its content hash verified and memory bounded', async () => {
    // Prepare
    const expectedHash = generatedContentHashInWorker(S3_SINGLE_PUT_MAX, SEED);
    const client = new DropboxClient({
      credentials: {
        appKey: EMULATOR_CREDENTIALS.appKey,
        refreshToken: EMULATOR_CREDENTIALS.refreshToken,
        pathRoot: 'auto',
      },
      endpointUrl: emulator.url,
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
        path: '/Large/five-gib.bin',
        size: S3_SINGLE_PUT_MAX,
        clientModified: new Date('2026-11-27T10:00:00Z'),
        onConflict: 'rename',
        body: generatedBody(S3_SINGLE_PUT_MAX, SEED),
      });
    } finally {
      clearInterval(sampler);
    }

    // Assess
    expect(file).toMatchObject({ pathDisplay: '/Large/five-gib.bin', size: S3_SINGLE_PUT_MAX });
    expect(file.contentHash).toBe(await expectedHash);
    expect(await client.getFileMetadata('/Large/five-gib.bin')).toMatchObject({
      contentHash: await expectedHash,
    });
    const stats = await emulator.stats();
    const sessionCalls = Object.entries(stats.requestsByRoute)
      .filter(([route]) => route.startsWith('files/upload_session'))
      .reduce((sum, [, count]) => sum + count, 0);
    expect(sessionCalls).toBe(S3_SINGLE_PUT_MAX / DEFAULT_UPLOAD_TUNING.chunkBytes);
    // Memory is chunk size × chunks in flight (the uploader's pooled buffers) plus the HTTP layer's slack: the process
    // grows by that bound whatever the file's size, never towards 5 GiB.
    const { chunkBytes, chunksInFlight } = DEFAULT_UPLOAD_TUNING;
    expect(peak - baseline).toBeLessThan(chunkBytes * (chunksInFlight + 1) + 64 * MIB);
  }, 300_000);
});
