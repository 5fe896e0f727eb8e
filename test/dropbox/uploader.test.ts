/**
 * The streaming uploader (DropboxClient.upload) against the Dropbox API emulator over HTTP: sizes around every
 * boundary, hashes checked with Dropbox's documented algorithm, token expiry in the middle of a session, heavy
 * fault rates, and answers lost after Dropbox acted on the call.
 */
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDropboxApiError } from '../../lib/dropbox/errors.ts';
import { isSyncError } from '../../lib/errors.ts';
import type { UploadRequest } from '../../lib/ports.ts';
import { rejectionOf as rejection } from '../support/rejection.ts';
import {
  bodyOf,
  bytes,
  callsTo,
  clientFor,
  type EmulatorFixture,
  MIB,
  readExported,
  referenceContentHash,
  startEmulator,
  transport,
} from './helpers.ts';

let fixture: EmulatorFixture;

const CLIENT_MODIFIED = new Date('2026-03-04T05:06:07.890Z');

function request(path: string, data: Uint8Array, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    path,
    size: data.byteLength,
    clientModified: CLIENT_MODIFIED,
    onConflict: 'rename',
    body: bodyOf(data),
    ...extra,
  };
}

beforeEach(async () => {
  fixture = await startEmulator();
});

afterEach(async () => {
  await fixture.dispose();
});

describe('DropboxClient.upload sizes', () => {
  it.each([
    ['0 B', 0, 'files/upload'],
    ['1 B', 1, 'files/upload'],
    ['4 MiB - 1', 4 * MIB - 1, 'files/upload'],
    ['4 MiB', 4 * MIB, 'files/upload'],
    ['4 MiB + 1', 4 * MIB + 1, 'files/upload'],
    ['threshold - 1 (16 MiB - 1)', 16 * MIB - 1, 'files/upload'],
    ['threshold (16 MiB)', 16 * MIB, 'files/upload'],
    ['threshold + 1 (16 MiB + 1)', 16 * MIB + 1, 'files/upload_session/finish'],
    ['150 MiB + 1', 150 * MIB + 1, 'files/upload_session/finish'],
  ])(
    'commits %s intact with the default tuning (%i bytes, committed by %s)',
    async (_label, size, committedBy) => {
      // Prepare
      const data = bytes(size);
      const client = clientFor(fixture.emulator, { upload: {} });

      // Act
      const file = await client.upload(request('/Sizes/file.bin', data));

      // Assess
      const expected = referenceContentHash(data);
      expect(file).toMatchObject({ size, contentHash: expected, pathDisplay: '/Sizes/file.bin' });
      expect(file.clientModified).toBe('2026-03-04T05:06:07Z');
      expect(referenceContentHash(await readExported(fixture.root, 'home', '/Sizes/file.bin'))).toBe(
        expected,
      );
      expect(callsTo(fixture.emulator.requestLog, committedBy)).toHaveLength(1);
    },
  );

  it('sends 150 MiB + 1 in 16 MiB chunks, none above the 150 MiB request limit', async () => {
    // Prepare
    const data = bytes(150 * MIB + 1);
    const client = clientFor(fixture.emulator, { upload: { chunkBytes: 16 * MIB } });

    // Act
    await client.upload(request('/Big.bin', data));

    // Assess
    const log = fixture.emulator.requestLog.filter((entry) =>
      entry.route.startsWith('files/upload_session/'),
    );
    expect(log.map((entry) => entry.route)).toEqual([
      'files/upload_session/start',
      ...Array(8).fill('files/upload_session/append_v2'),
      'files/upload_session/finish',
    ]);
    expect(log.map((entry) => entry.bytesIn)).toEqual([...Array(9).fill(16 * MIB), 6 * MIB + 1]);
  });

  it.each([
    ['4 MiB - 1', 4 * MIB - 1, ['files/upload']],
    ['4 MiB', 4 * MIB, ['files/upload']],
    ['4 MiB + 1', 4 * MIB + 1, ['files/upload_session/start', 'files/upload_session/finish']],
    [
      '12 MiB + 5',
      12 * MIB + 5,
      [
        'files/upload_session/start',
        'files/upload_session/append_v2',
        'files/upload_session/append_v2',
        'files/upload_session/finish',
      ],
    ],
  ])('commits %s intact with 4 MiB chunks and threshold', async (_label, size, routes) => {
    // Prepare
    const data = bytes(size);
    const client = clientFor(fixture.emulator, {
      upload: { singleUploadMaxBytes: 4 * MIB, chunkBytes: 4 * MIB },
    });

    // Act
    const file = await client.upload(request('/Four/file.bin', data));

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    const dataCalls = fixture.emulator.requestLog.filter((entry) => entry.route.startsWith('files/upload'));
    expect(dataCalls.map((entry) => entry.route)).toEqual(routes);
  });

  it('commits a session whose first chunk is the whole file (threshold below the chunk size)', async () => {
    // Prepare
    const data = bytes(3000);
    const client = clientFor(fixture.emulator, { upload: { singleUploadMaxBytes: 1000, chunkBytes: 4096 } });

    // Act
    const file = await client.upload(request('/Small session.bin', data));

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish')[0]?.bytesIn).toBe(0);
  });

  it('fails with source-size-mismatch when the stream is shorter or longer than declared', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const data = bytes(100);

    // Act
    const short = await rejection(client.upload(request('/Short.bin', data, { size: 101 })));
    const long = await rejection(client.upload(request('/Long.bin', data, { size: 99 })));

    // Assess
    expect(short).toMatchObject({ kind: 'transient', code: 'source-size-mismatch' });
    expect(long).toMatchObject({ kind: 'transient', code: 'source-size-mismatch' });
    expect(callsTo(fixture.emulator.requestLog, 'files/upload')).toHaveLength(0);
  });
});

describe('DropboxClient.upload conflicts', () => {
  it('autorenames another file in rename mode, and writes nothing for the same content', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const first = bytes(10);
    await client.upload(request('/Proof.pdf', first));

    // Act
    const same = await client.upload(request('/Proof.pdf', first));
    const other = await client.upload(request('/Proof.pdf', bytes(11)));

    // Assess
    expect(same.pathDisplay).toBe('/Proof.pdf');
    expect(other.pathDisplay).toBe('/Proof (1).pdf');
  });

  it('replaces the file in overwrite mode', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const original = await client.upload(request('/Proof.pdf', bytes(10)));
    const data = bytes(12);

    // Act
    const replaced = await client.upload(request('/Proof.pdf', data, { onConflict: 'overwrite' }));

    // Assess
    expect(replaced).toMatchObject({ id: original.id, pathDisplay: '/Proof.pdf', size: 12 });
    expect(await readExported(fixture.root, 'home', '/Proof.pdf')).toEqual(data);
  });

  it.each([
    ['one call', 10, {}],
    ['an upload session', 3 * MIB, { singleUploadMaxBytes: MIB, chunkBytes: MIB }],
  ])(
    'replaces exactly the given revision in update mode, even under rename (%s)',
    async (_label, size, upload) => {
      // Prepare
      const client = clientFor(fixture.emulator, { upload });
      const earlier = await client.upload(request('/Proof.pdf', bytes(7)));
      const data = bytes(size);

      // Act
      const replaced = await client.upload(request('/Proof.pdf', data, { replaceRev: earlier.rev }));

      // Assess
      expect(replaced).toMatchObject({ id: earlier.id, pathDisplay: '/Proof.pdf', size });
      expect(replaced.rev).not.toBe(earlier.rev);
      expect(referenceContentHash(await readExported(fixture.root, 'home', '/Proof.pdf'))).toBe(
        referenceContentHash(data),
      );
      expect((await client.listFolder('/')).map((file) => file.pathDisplay)).toEqual(['/Proof.pdf']);
    },
  );

  it.each([
    ['one call', 10, {}],
    ['an upload session', 3 * MIB, { singleUploadMaxBytes: MIB, chunkBytes: MIB }],
  ])(
    'fails as a transient update conflict, writing nothing, when the revision is no longer current (%s)',
    async (_label, size, upload) => {
      // Prepare
      const client = clientFor(fixture.emulator, { upload });
      const read = await client.upload(request('/Proof.pdf', bytes(7)));
      const meanwhile = await client.upload(request('/Proof.pdf', bytes(8), { onConflict: 'overwrite' }));

      // Act
      const error = await rejection(
        client.upload(request('/Proof.pdf', bytes(size), { replaceRev: read.rev })),
      );

      // Assess
      expect(error).toMatchObject({ kind: 'transient', code: 'dropbox-update-conflict' });
      expect(String((error as Error).message)).toMatch(/path\/conflict\/file/);
      expect(await client.getFileMetadata('/Proof.pdf')).toMatchObject({ rev: meanwhile.rev, size: 8 });
      expect((await client.listFolder('/')).map((file) => file.pathDisplay)).toEqual(['/Proof.pdf']);
    },
  );

  it('writes the file when nothing is at the path any more in update mode', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const gone = await client.upload(request('/Elsewhere/Proof.pdf', bytes(7)));

    // Act
    const written = await client.upload(request('/Proof.pdf', bytes(9), { replaceRev: gone.rev }));

    // Assess
    expect(written).toMatchObject({ pathDisplay: '/Proof.pdf', size: 9 });
  });
});

describe('DropboxClient.upload tokens', () => {
  it('refreshes an access token that expires in the middle of a session and carries on', async () => {
    // Prepare
    const data = bytes(6 * MIB);
    const client = clientFor(fixture.emulator, { upload: { singleUploadMaxBytes: MIB, chunkBytes: MIB } });
    const emulator = fixture.emulator;
    function* pieces(): Generator<Buffer> {
      for (let i = 0; i < 6; i += 1) {
        if (i === 3) emulator.expireAccessTokens();
        yield data.subarray(i * MIB, (i + 1) * MIB);
      }
    }

    // Act
    const file = await client.upload(request('/Expiring.bin', data, { body: Readable.from(pieces()) }));

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    expect(callsTo(emulator.requestLog, 'oauth2/token')).toHaveLength(2);
    const refused = emulator.requestLog.filter((entry) => entry.status === 401);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.errorSummary).toMatch(/^expired_access_token\//);
  });

  it('asks for one token (and reads the account once) for ten parallel uploads on a fresh client', async () => {
    // Prepare
    const client = clientFor(fixture.emulator);
    const files = Array.from({ length: 10 }, (_, i) => ({
      path: `/Parallel/${i}.bin`,
      data: bytes(1000 + i),
    }));

    // Act
    const uploaded = await Promise.all(files.map(({ path, data }) => client.upload(request(path, data))));

    // Assess
    expect(uploaded.map((file) => file.contentHash)).toEqual(
      files.map(({ data }) => referenceContentHash(data)),
    );
    expect(callsTo(fixture.emulator.requestLog, 'oauth2/token')).toHaveLength(1);
    expect(callsTo(fixture.emulator.requestLog, 'users/get_current_account')).toHaveLength(1);
    expect(client.tokenRequestCount).toBe(1);
  });
});

describe('DropboxClient.upload under faults', () => {
  it('delivers 200 files intact, without autorenamed duplicates, with 30 % of calls faulted', async () => {
    // Prepare
    fixture.emulator.setFaults({
      rate429: 0.08,
      rate429WithoutRetryAfter: 0.04,
      rate5xx: 0.1,
      rateReset: 0.08,
      retryAfterSeconds: 0.005,
      writeLockContention: true,
      writeLockHoldMs: 2,
      seed: 20_260_301,
    });
    const client = clientFor(fixture.emulator, {
      upload: {
        singleUploadMaxBytes: 48 * 1024,
        chunkBytes: 32 * 1024,
        maxAttempts: 30,
        backoffBaseMs: 2,
        backoffCapMs: 10,
      },
    });
    const files = Array.from({ length: 200 }, (_, i) => ({
      path: `/Faults/file-${String(i).padStart(3, '0')}.bin`,
      data: bytes(1 + ((i * 7919) % (120 * 1024))),
    }));
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        await client.upload(request(next.path, next.data));
      }
    };

    // Act
    await Promise.all(Array.from({ length: 4 }, worker));

    // Assess
    fixture.emulator.setFaults({});
    const listed = await client.listFolder('/Faults');
    expect(listed.map((file) => file.pathDisplay).sort()).toEqual(files.map((file) => file.path));
    const hashes = new Map(listed.map((file) => [file.pathDisplay, file.contentHash]));
    for (const file of files) {
      expect(hashes.get(file.path)).toBe(referenceContentHash(file.data));
      expect(await readExported(fixture.root, 'home', file.path)).toEqual(file.data);
    }
    const faults = new Set(fixture.emulator.requestLog.map((entry) => entry.fault));
    expect([...faults].sort()).toEqual(
      ['rate-limit', 'reset', 'server-error', 'write-lock', undefined].sort(),
    );
  });

  it('resumes at correct_offset when an append arrived but its answer was lost', async () => {
    // Prepare
    const data = bytes(5 * MIB);
    let dropped = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (String(input).endsWith('/upload_session/append_v2') && dropped === 0) {
        dropped += 1;
        await response.arrayBuffer();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return response;
    };
    const client = clientFor(fixture.emulator, {
      fetch: losingFetch,
      upload: { singleUploadMaxBytes: MIB, chunkBytes: MIB },
    });

    // Act
    const file = await client.upload(request('/Lost append.bin', data));

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    const appends = callsTo(fixture.emulator.requestLog, 'files/upload_session/append_v2');
    expect(appends.filter((entry) => entry.status === 409).map((entry) => entry.errorSummary)).toEqual([
      expect.stringMatching(/^incorrect_offset\//),
    ]);
  });

  it('finds the committed file when a finish committed but its answer was lost, without a duplicate', async () => {
    // Prepare
    const data = bytes(3 * MIB);
    let dropped = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (String(input).endsWith('/upload_session/finish') && dropped === 0) {
        dropped += 1;
        await response.arrayBuffer();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return response;
    };
    const client = clientFor(fixture.emulator, {
      fetch: losingFetch,
      upload: { singleUploadMaxBytes: MIB, chunkBytes: MIB },
    });

    // Act
    const file = await client.upload(request('/Lost finish.bin', data));

    // Assess
    expect(file).toMatchObject({ pathDisplay: '/Lost finish.bin', contentHash: referenceContentHash(data) });
    expect((await client.listFolder('/')).map((entry) => entry.pathDisplay)).toEqual(['/Lost finish.bin']);
  });

  it('writes one file when a single upload committed but its answer was lost', async () => {
    // Prepare
    const data = bytes(1000);
    let dropped = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (String(input).endsWith('/files/upload') && dropped === 0) {
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
    const file = await client.upload(request('/Lost upload.bin', data));

    // Assess
    expect(file.pathDisplay).toBe('/Lost upload.bin');
    expect(callsTo(fixture.emulator.requestLog, 'files/upload')).toHaveLength(2);
    expect((await client.listFolder('/')).map((entry) => entry.pathDisplay)).toEqual(['/Lost upload.bin']);
  });

  it('fails with dropbox-hash-mismatch when Dropbox reports another content hash than the one sent', async () => {
    // Prepare
    const tampering: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (!String(input).endsWith('/files/upload') || !response.ok) return response;
      const body = (await response.json()) as Record<string, unknown>;
      return Response.json({ ...body, content_hash: '0'.repeat(64) });
    };
    const client = clientFor(fixture.emulator, { fetch: tampering });

    // Act
    const error = await rejection(client.upload(request('/Tampered.bin', bytes(10))));

    // Assess
    expect(error).toMatchObject({ kind: 'transient', code: 'dropbox-hash-mismatch' });
  });
});

describe('DropboxClient.upload errors that are not retried', () => {
  it.each([
    ['/Ticket Files/desktop.ini', 'blocked', 'dropbox-disallowed-name', /^path\/disallowed_name\//],
    ['/Ticket Files/bad//name.pdf', 'blocked', 'dropbox-malformed-path', /^path\/malformed_path\//],
  ])('surfaces %s with Dropbox error_summary after one call', async (path, kind, code, summary) => {
    // Prepare
    const client = clientFor(fixture.emulator);

    // Act
    const error = await rejection(client.upload(request(path, bytes(10))));

    // Assess
    expect(isDropboxApiError(error)).toBe(true);
    expect(error).toMatchObject({
      kind,
      code,
      status: 409,
      endpoint: 'files/upload',
      errorSummary: expect.stringMatching(summary),
    });
    expect(String((error as Error).message)).toMatch(/^Dropbox files\/upload: path\//);
    expect(callsTo(fixture.emulator.requestLog, 'files/upload')).toHaveLength(1);
  });

  it('surfaces insufficient_space as an account-wide failure after one finish', async () => {
    // Prepare
    fixture.emulator.setInsufficientSpace(true);
    const client = clientFor(fixture.emulator, { upload: { singleUploadMaxBytes: 1000, chunkBytes: 1000 } });

    // Act
    const error = await rejection(client.upload(request('/Full.bin', bytes(2500))));

    // Assess
    expect(error).toMatchObject({ kind: 'account', code: 'dropbox-insufficient-space' });
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish')).toHaveLength(1);
  });

  it('stops cleanly on abort, rethrowing the abort and releasing the source stream', async () => {
    // Prepare
    const controller = new AbortController();
    const client = clientFor(fixture.emulator, { upload: { singleUploadMaxBytes: 1000, chunkBytes: 1000 } });
    const data = bytes(10_000);
    function* pieces(): Generator<Buffer> {
      for (let i = 0; i < 10; i += 1) {
        if (i === 3) controller.abort(new Error('deadline reached'));
        yield data.subarray(i * 1000, (i + 1) * 1000);
      }
    }
    const body = Readable.from(pieces());

    // Act
    const error = await rejection(
      client.upload(request('/Aborted.bin', data, { body, signal: controller.signal })),
    );

    // Assess
    expect(error).toBe(controller.signal.reason);
    expect(isSyncError(error)).toBe(false);
    expect(body.destroyed).toBe(true);
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish')).toHaveLength(0);
  });
});
