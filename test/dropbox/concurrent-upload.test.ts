/**
 * Large files through a concurrent upload session, against the Dropbox API emulator over HTTP: ranged reads feed
 * 4 MiB-aligned pieces, a bounded number in flight, the closing piece last; no data at start or finish; the content
 * hash combined block by block in order; failures of one piece stop the others; broken reads and lost answers are
 * recovered; the sequential session stays where it is the better choice.
 */
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planSessionPieces } from '../../lib/dropbox/uploader.ts';
import { SyncError } from '../../lib/errors.ts';
import type { ByteRange, UploadRequest } from '../../lib/ports.ts';
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

beforeEach(async () => {
  fixture = await startEmulator();
});

afterEach(async () => {
  await fixture.dispose();
});

/** Ranged reads of `data`, as S3 would serve them, with what was asked and how many were open at once. */
function rangeSource(
  data: Buffer,
  options: { fail?: (range: ByteRange | undefined, call: number) => Error | 'break' | undefined } = {},
) {
  const opened: Array<ByteRange | undefined> = [];
  let open = 0;
  let mostOpen = 0;
  async function* breaking(slice: Buffer): AsyncGenerator<Buffer> {
    yield slice.subarray(0, slice.byteLength >> 1);
    throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  }
  const openRange = async (range: ByteRange | undefined): Promise<Readable> => {
    opened.push(range);
    const failure = options.fail?.(range, opened.length);
    if (failure instanceof Error) throw failure;
    const slice = range === undefined ? data : data.subarray(range.start, range.end + 1);
    const body = failure === 'break' ? Readable.from(breaking(slice)) : bodyOf(slice);
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    body.once('close', () => {
      open -= 1;
    });
    return body;
  };
  return {
    openRange,
    opened,
    get mostOpen() {
      return mostOpen;
    },
  };
}

function request(path: string, data: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest {
  return {
    path,
    size: data.byteLength,
    clientModified: new Date('2026-05-06T07:08:09Z'),
    onConflict: 'rename',
    ...extra,
  };
}

const TUNING = { singleUploadMaxBytes: MIB, chunkBytes: 4 * MIB, chunksInFlight: 3 } as const;

describe('planSessionPieces', () => {
  it.each([
    [1024 * MIB, 140 * MIB, 7, 44 * MIB],
    [1024 * MIB, 64 * MIB, 15, 64 * MIB],
    [26 * MIB + 5, 8 * MIB, 3, 2 * MIB + 5],
    [24 * MIB, 8 * MIB, 2, 8 * MIB],
  ])(
    'splits %i bytes into pieces of %i: %i before the closing piece, which is the rest',
    (size, piece, count, closing) => {
      // Act
      const plan = planSessionPieces(size, piece);

      // Assess
      expect(plan.pieces).toHaveLength(count);
      expect(plan.pieces.every((p, index) => p.offset === index * piece && p.length === piece)).toBe(true);
      expect(plan.last).toEqual({ offset: size - closing, length: closing });
    },
  );
});

/** A fetch through the project's transport that counts the appends in flight at once; `most()` is the peak. */
function countingAppends(): { fetch: typeof fetch; most(): number } {
  let appending = 0;
  let most = 0;
  const counting: typeof fetch = async (input, init) => {
    const append = String(input).endsWith('/upload_session/append_v2');
    if (append) most = Math.max(most, ++appending);
    try {
      return await transport(input, init);
    } finally {
      if (append) appending -= 1;
    }
  };
  return { fetch: counting, most: () => most };
}

describe('DropboxClient.upload through a concurrent session', () => {
  it.each([
    ['read again from the source', 'reread', 2],
    ['spooled to disk', 'spool', 1],
  ] as const)(
    'sends pieces %s, a bounded number at a time, the closing piece last, no data at start or finish',
    async (_label, pieceStore, readsPerPiece) => {
      // Prepare
      const data = bytes(26 * MIB + 5);
      const source = rangeSource(data);
      const appends = countingAppends();
      const client = clientFor(fixture.emulator, { fetch: appends.fetch, upload: { ...TUNING, pieceStore } });

      // Act
      const file = await client.upload(request('/Large/artwork.tif', data, { openRange: source.openRange }));

      // Assess
      expect(file).toMatchObject({ pathDisplay: '/Large/artwork.tif', size: data.byteLength });
      expect(file.contentHash).toBe(referenceContentHash(data));
      expect(referenceContentHash(await readExported(fixture.root, 'home', '/Large/artwork.tif'))).toBe(
        referenceContentHash(data),
      );
      const log = fixture.emulator.requestLog.filter((entry) =>
        entry.route.startsWith('files/upload_session/'),
      );
      expect(log.map((entry) => [entry.route, entry.bytesIn])).toEqual([
        ['files/upload_session/start', 0],
        ...Array(6).fill(['files/upload_session/append_v2', 4 * MIB]),
        ['files/upload_session/append_v2', 2 * MIB + 5],
        ['files/upload_session/finish', 0],
      ]);
      // Each piece is read once to be hashed, in order, and (reread) once more as it is sent.
      const starts = [0, 4, 8, 12, 16, 20, 24].map((mib) => mib * MIB);
      expect(source.opened.at(-1)).toEqual({ start: 24 * MIB, end: data.byteLength - 1 });
      expect([...new Set(source.opened.map((range) => range?.start))]).toEqual(starts);
      expect(source.opened).toHaveLength(starts.length * readsPerPiece);
      expect(source.mostOpen).toBeLessThanOrEqual(1 + (readsPerPiece - 1) * TUNING.chunksInFlight);
      expect(appends.most()).toBeLessThanOrEqual(TUNING.chunksInFlight);
      expect(client.uploadCallsInFlight).toBe(0);
    },
  );

  it('bounds the calls in flight of the client across two large files at once', async () => {
    // Prepare
    const first = bytes(18 * MIB);
    const second = bytes(21 * MIB);
    const appends = countingAppends();
    const client = clientFor(fixture.emulator, { fetch: appends.fetch, upload: TUNING });

    // Act
    const files = await Promise.all([
      client.upload(request('/Large/first.bin', first, { openRange: rangeSource(first).openRange })),
      client.upload(request('/Large/second.bin', second, { openRange: rangeSource(second).openRange })),
    ]);

    // Assess
    expect(files.map((file) => file.contentHash)).toEqual([
      referenceContentHash(first),
      referenceContentHash(second),
    ]);
    expect(appends.most()).toBe(TUNING.chunksInFlight);
  });

  it('delivers the file intact with 30 % of calls faulted (5xx, 429, resets)', async () => {
    // Prepare
    fixture.emulator.setFaults({
      rate5xx: 0.1,
      rate429: 0.1,
      rateReset: 0.1,
      retryAfterSeconds: 0.01,
      seed: 7,
      routes: ['files/upload_session/start', 'files/upload_session/append_v2', 'files/upload_session/finish'],
    });
    const data = bytes(30 * MIB + 1);
    const client = clientFor(fixture.emulator, { upload: { ...TUNING, maxAttempts: 12 } });

    // Act
    const file = await client.upload(
      request('/Faults/big.bin', data, { openRange: rangeSource(data).openRange }),
    );

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    expect(fixture.emulator.requestLog.some((entry) => entry.fault !== undefined)).toBe(true);
    expect((await client.listFolder('/Faults')).map((entry) => entry.pathDisplay)).toEqual([
      '/Faults/big.bin',
    ]);
  });

  it.each([
    ['its hashing read (read again)', 'reread', 1, 2],
    ['the read that streams it into its call (read again)', 'reread', 2, 2],
    ['the read that spools it', 'spool', 1, 1],
  ] as const)(
    'reads a range again when %s breaks on the way',
    async (_label, pieceStore, broken, readsPerPiece) => {
      // Prepare: 5 pieces (4 of 4 MiB and the closing 1 MiB), the first piece's nth read broken
      const data = bytes(17 * MIB);
      let firstPieceReads = 0;
      const source = rangeSource(data, {
        fail: (range) => (range?.start === 0 && ++firstPieceReads === broken ? 'break' : undefined),
      });
      const client = clientFor(fixture.emulator, { upload: { ...TUNING, pieceStore } });

      // Act
      const file = await client.upload(request('/Broken read.bin', data, { openRange: source.openRange }));

      // Assess
      expect(file.contentHash).toBe(referenceContentHash(data));
      expect(source.opened).toHaveLength(5 * readsPerPiece + 1);
      // A call whose body broke on the way reached Dropbox cut short, and was refused; its piece went again whole.
      const appends = callsTo(fixture.emulator.requestLog, 'files/upload_session/append_v2');
      expect(appends.filter((entry) => entry.status === 200)).toHaveLength(5);
      expect(appends.filter((entry) => entry.status !== 200)).toHaveLength(broken - 1);
    },
  );

  it('counts a piece whose answer was lost as sent when Dropbox says its data is already there', async () => {
    // Prepare
    const data = bytes(13 * MIB);
    let dropped = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await transport(input, init);
      if (String(input).endsWith('/upload_session/append_v2') && dropped < 2) {
        dropped += 1;
        await response.arrayBuffer();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return response;
    };
    const client = clientFor(fixture.emulator, { fetch: losingFetch, upload: TUNING });

    // Act
    const file = await client.upload(
      request('/Lost piece.bin', data, { openRange: rangeSource(data).openRange }),
    );

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    const refused = callsTo(fixture.emulator.requestLog, 'files/upload_session/append_v2').filter(
      (entry) => entry.status === 409,
    );
    expect(refused.map((entry) => entry.errorSummary)).toEqual([
      expect.stringMatching(/^incorrect_offset\//),
      expect.stringMatching(/^incorrect_offset\//),
    ]);
  });

  it('stops every piece and fails as superseded, committing nothing, when a ranged read finds a newer version', async () => {
    // Prepare
    const data = bytes(40 * MIB);
    const superseded = new SyncError('the object changed since its event', {
      kind: 'permanent',
      code: 'superseded',
    });
    const source = rangeSource(data, { fail: (_range, call) => (call === 4 ? superseded : undefined) });
    const client = clientFor(fixture.emulator, { upload: TUNING });

    // Act
    const error = await rejection(
      client.upload(request('/Changed.bin', data, { openRange: source.openRange })),
    );

    // Assess
    expect(error).toBe(superseded);
    expect(source.opened.length).toBeLessThan(planSessionPieces(data.byteLength, 4 * MIB).pieces.length);
    expect(callsTo(fixture.emulator.requestLog, 'files/upload_session/finish')).toHaveLength(0);
    expect(await client.getFileMetadata('/Changed.bin')).toBeNull();
  });

  it.each([
    ['one chunk in flight', { ...TUNING, chunksInFlight: 1 }, true],
    ['a source without ranges', TUNING, false],
  ])('keeps the sequential session with %s', async (_label, upload, ranged) => {
    // Prepare
    const data = bytes(13 * MIB);
    const client = clientFor(fixture.emulator, { upload });
    const source = ranged ? { openRange: rangeSource(data).openRange } : { body: bodyOf(data) };

    // Act
    const file = await client.upload(request('/Sequential.bin', data, source));

    // Assess
    expect(file.contentHash).toBe(referenceContentHash(data));
    const log = fixture.emulator.requestLog.filter((entry) =>
      entry.route.startsWith('files/upload_session/'),
    );
    expect(log.map((entry) => [entry.route, entry.bytesIn])).toEqual([
      ['files/upload_session/start', 4 * MIB],
      ['files/upload_session/append_v2', 4 * MIB],
      ['files/upload_session/append_v2', 4 * MIB],
      ['files/upload_session/finish', MIB],
    ]);
  });
});
