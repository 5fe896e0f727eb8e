/**
 * Small files of one invocation committed together: each record's data goes into a closed upload session of its
 * own, and the commit group sends one `finish_batch_v2` for all of them (against the Dropbox API emulator over
 * HTTP); per-entry failures go to their own record, refused entries are sent again, lost answers are recovered.
 */
import type { files } from 'dropbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitGroup } from '../../lib/commit-group.ts';
import { type BatchEntryResult, FinishBatchCommitter } from '../../lib/dropbox/batch-commit.ts';
import type { DropboxClient } from '../../lib/dropbox/client.ts';
import { classifyEntryFailure } from '../../lib/dropbox/errors.ts';
import type { DropboxFile, UploadRequest } from '../../lib/ports.ts';
import {
  bodyOf,
  bytes,
  callsTo,
  clientFor,
  type EmulatorFixture,
  readExported,
  referenceContentHash,
  startEmulator,
  transport,
} from './helpers.ts';

let fixture: EmulatorFixture;

beforeEach(async () => {
  fixture = await startEmulator();
});

afterEach(async () => {
  await fixture.dispose();
});

interface Upload {
  readonly path: string;
  readonly data: Buffer;
  readonly extra?: Partial<UploadRequest>;
}

/**
 * Uploads each file as one record of a batch would: all at once, each as a member of one commit group, leaving
 * the group when its upload is done (as lib/sqs-record.ts does).
 */
function uploadAsBatch(
  client: DropboxClient,
  uploads: readonly Upload[],
): Promise<PromiseSettledResult<DropboxFile>[]> {
  const group = new CommitGroup(uploads.map((_upload, index) => `record-${index}`));
  return Promise.allSettled(
    uploads.map(async ({ path, data, extra }, index) => {
      const member = group.member(`record-${index}`);
      try {
        return await client.upload({
          path,
          size: data.byteLength,
          clientModified: new Date('2026-02-03T04:05:06Z'),
          onConflict: 'rename',
          body: bodyOf(data),
          batch: member,
          ...extra,
        });
      } finally {
        member.leave();
      }
    }),
  );
}

function committedFile(result: PromiseSettledResult<DropboxFile> | undefined): DropboxFile {
  if (result?.status !== 'fulfilled')
    throw new Error(`expected a committed file, got ${String(result?.status)}`);
  return result.value;
}

describe('DropboxClient.upload in a commit group', () => {
  it('commits the small files of a group in one finish_batch_v2, in the records’ order', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const uploads = [
      { path: '/Batch/Proof.pdf', data: bytes(3000) },
      { path: '/Batch/Other.pdf', data: bytes(0) },
      { path: '/Batch/Proof.pdf', data: bytes(10) },
    ];

    // Act
    const results = await uploadAsBatch(client, uploads);

    // Assess
    expect(results.map((result) => committedFile(result).pathDisplay)).toEqual([
      '/Batch/Proof.pdf',
      '/Batch/Other.pdf',
      '/Batch/Proof (1).pdf',
    ]);
    expect(results.map((result) => committedFile(result).contentHash)).toEqual(
      uploads.map((upload) => referenceContentHash(upload.data)),
    );
    const log = fixture.emulator.requestLog;
    expect(
      callsTo(log, 'files/upload_session/start')
        .map((entry) => entry.bytesIn)
        .sort((a, b) => a - b),
    ).toEqual([0, 10, 3000]);
    expect(callsTo(log, 'files/upload_session/finish_batch_v2')).toHaveLength(1);
    expect(callsTo(log, 'files/upload')).toHaveLength(0);
    expect(referenceContentHash(await readExported(fixture.root, 'home', '/Batch/Proof (1).pdf'))).toBe(
      referenceContentHash(uploads[2]?.data ?? Buffer.alloc(0)),
    );
  });

  it('sends a file alone in its group with one files/upload', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);

    // Act
    const [result] = await uploadAsBatch(client, [{ path: '/Alone.pdf', data: bytes(100) }]);

    // Assess
    expect(committedFile(result).pathDisplay).toBe('/Alone.pdf');
    expect(callsTo(fixture.emulator.requestLog, 'files/upload')).toHaveLength(1);
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish_batch_v2')).toHaveLength(0);
  });

  it('fails only the entries Dropbox refuses, each with its own error, and commits the others', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const earlier = await client.upload({
      path: '/Batch/Replaced.pdf',
      size: 5,
      clientModified: new Date(),
      onConflict: 'rename',
      body: bodyOf(bytes(5)),
    });
    await client.upload({
      path: '/Batch/Replaced.pdf',
      size: 6,
      clientModified: new Date(),
      onConflict: 'overwrite',
      body: bodyOf(bytes(6)),
    });

    // Act
    const results = await uploadAsBatch(client, [
      { path: '/Batch/Fine.pdf', data: bytes(20) },
      { path: '/Batch/desktop.ini', data: bytes(20) },
      { path: '/Batch/Replaced.pdf', data: bytes(30), extra: { replaceRev: earlier.rev } },
    ]);

    // Assess
    expect(committedFile(results[0]).pathDisplay).toBe('/Batch/Fine.pdf');
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: { kind: 'blocked', code: 'dropbox-disallowed-name' },
    });
    expect(results[2]).toMatchObject({
      status: 'rejected',
      reason: { kind: 'transient', code: 'dropbox-update-conflict' },
    });
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish_batch_v2')).toHaveLength(1);
    expect(await client.getFileMetadata('/Batch/Replaced.pdf')).toMatchObject({ size: 6 });
  });

  it('finds the committed files, without duplicates, when the answer of the batch was lost', async () => {
    // Prepare
    let dropped = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (String(input).endsWith('/upload_session/finish_batch_v2') && dropped === 0) {
        dropped += 1;
        await response.arrayBuffer();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return response;
    };
    const client = clientFor(fixture.emulator, { fetch: losingFetch });

    // Act
    const results = await uploadAsBatch(client, [
      { path: '/Lost/one.pdf', data: bytes(11) },
      { path: '/Lost/two.pdf', data: bytes(12) },
    ]);

    // Assess
    expect(results.map((result) => committedFile(result).pathDisplay)).toEqual([
      '/Lost/one.pdf',
      '/Lost/two.pdf',
    ]);
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish_batch_v2')).toHaveLength(2);
    expect((await client.listFolder('/Lost')).map((file) => file.pathDisplay).sort()).toEqual([
      '/Lost/one.pdf',
      '/Lost/two.pdf',
    ]);
  });

  it('rejects a record that hits its deadline while it waits, and commits the others', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const controller = new AbortController();
    const group = new CommitGroup(['waits', 'gives-up', 'late']);
    const upload = (path: string, id: string, signal?: AbortSignal): Promise<DropboxFile> => {
      const member = group.member(id);
      return client
        .upload({
          path,
          size: 4,
          clientModified: new Date(),
          onConflict: 'rename',
          body: bodyOf(bytes(4)),
          batch: member,
          signal,
        })
        .finally(() => member.leave());
    };
    const late = group.member('late');

    // Act
    const waiting = upload('/Deadline/waits.pdf', 'waits');
    const givingUp = upload('/Deadline/gives-up.pdf', 'gives-up', controller.signal);
    while (
      callsTo(fixture.emulator.requestLog, 'files/upload_session/start').filter((e) => e.status === 200)
        .length < 2
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort(new Error('deadline'));
    const abandoned = await givingUp.then(
      () => 'committed',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    late.leave();

    // Assess
    expect(abandoned).toBe('deadline');
    expect((await waiting).pathDisplay).toBe('/Deadline/waits.pdf');
    expect(await client.getFileMetadata('/Deadline/gives-up.pdf')).toBeNull();
  });
});

describe('FinishBatchCommitter', () => {
  it('sends entries refused for lock contention again, alone, and settles every record with its own result', async () => {
    // Prepare
    const sent: string[][] = [];
    const file = (path: string): files.FileMetadata => ({
      name: path.slice(1),
      id: `id:${path.slice(1)}`,
      path_display: path,
      path_lower: path,
      client_modified: '2026-01-01T00:00:00Z',
      server_modified: '2026-01-01T00:00:00Z',
      rev: '0123456789',
      size: 1,
      content_hash: '0'.repeat(64),
    });
    const committer = new FinishBatchCommitter(
      async (entries) => {
        sent.push(entries.map((entry) => entry.commit.path));
        return entries.map(
          (entry): BatchEntryResult =>
            entry.commit.path === '/busy' && sent.length === 1
              ? {
                  ok: false,
                  error: classifyEntryFailure('files/upload_session/finish_batch_v2', {
                    '.tag': 'too_many_write_operations',
                  }),
                }
              : entry.commit.path === '/refused'
                ? {
                    ok: false,
                    error: classifyEntryFailure('files/upload_session/finish_batch_v2', {
                      '.tag': 'path',
                      path: { '.tag': 'disallowed_name' },
                    }),
                  }
                : { ok: true, metadata: file(entry.commit.path) },
        );
      },
      { maxAttempts: 3, baseMs: 1, capMs: 2 },
    );
    const group = new CommitGroup(['a', 'b', 'c']);
    const commit = (id: string, path: string) =>
      committer.commit(group.member(id), {
        sessionId: `session-${id}`,
        offset: 1,
        commit: {
          path,
          mode: { '.tag': 'add' },
          autorename: true,
          client_modified: '2026-01-01T00:00:00Z',
          mute: true,
        },
      });

    // Act
    const results = await Promise.allSettled([
      commit('a', '/fine'),
      commit('b', '/busy'),
      commit('c', '/refused'),
    ]);

    // Assess
    expect(sent).toEqual([['/fine', '/busy', '/refused'], ['/busy']]);
    expect(
      results.map((result) =>
        result.status === 'fulfilled' ? result.value.path_display : result.reason.code,
      ),
    ).toEqual(['/fine', '/busy', 'dropbox-disallowed-name']);
  });
});
