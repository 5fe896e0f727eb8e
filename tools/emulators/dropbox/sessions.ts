/**
 * Upload sessions of the Dropbox API emulator. Each accepted piece of data is kept as its own file (renamed from
 * the request's scratch file, never copied); `finish` joins the pieces into the file it commits. Sequential
 * sessions take data at the session's current end only (`incorrect_offset` tells the right one); concurrent
 * sessions take 4 MiB-aligned pieces in any order. Sessions expire (7 days at Dropbox; configurable here).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BlockHasher } from './http.ts';

/** Dropbox's alignment for concurrent upload sessions. */
export const CONCURRENT_ALIGNMENT = 4 * 1024 * 1024;

interface Piece {
  readonly offset: number;
  readonly length: number;
  readonly file: string;
  /** The digests of the piece's 4 MiB blocks, computed when it was received. */
  readonly digests: readonly Buffer[] | undefined;
}

/** One upload session. */
export interface UploadSession {
  readonly id: string;
  readonly type: 'sequential' | 'concurrent';
  createdAt: number;
  readonly dir: string;
  closed: boolean;
  /** Sequential: bytes so far. Concurrent: the end of the last piece (the total once closed). */
  size: number;
  readonly pieces: Piece[];
  /** A request is adding data right now. */
  busy: boolean;
}

/** Why a session cannot be used, as `UploadSessionLookupError` tags. */
export type LookupProblem =
  | { readonly '.tag': 'not_found' }
  | { readonly '.tag': 'closed' }
  | { readonly '.tag': 'not_closed' }
  | { readonly '.tag': 'incorrect_offset'; readonly correct_offset: number }
  | { readonly '.tag': 'concurrent_session_invalid_offset' }
  | { readonly '.tag': 'concurrent_session_invalid_data_size' };

/** The sessions of one emulator. */
export class UploadSessions {
  readonly #dir: string;
  readonly #lifetimeMs: number;
  readonly #sessions = new Map<string, UploadSession>();
  readonly #finished = new Set<string>();

  readonly #keepBytes: boolean;

  /** `keepBytes: false`: pieces are received hashed but empty, and only sessions whose block digests are known finish. */
  constructor(dir: string, lifetimeMs: number, keepBytes = true) {
    this.#dir = dir;
    this.#lifetimeMs = lifetimeMs;
    this.#keepBytes = keepBytes;
  }

  /** Starts a session. */
  async start(type: 'sequential' | 'concurrent'): Promise<UploadSession> {
    const id = `pid_upload_session:${randomBytes(24).toString('base64url')}`;
    const dir = join(this.#dir, randomBytes(12).toString('hex'));
    await mkdir(dir, { recursive: true });
    const session: UploadSession = {
      id,
      type,
      createdAt: Date.now(),
      dir,
      closed: false,
      size: 0,
      pieces: [],
      busy: false,
    };
    this.#sessions.set(id, session);
    return session;
  }

  /** The live session, or why there is none (`closed` once committed, `not_found` when unknown or expired). */
  get(id: string): UploadSession | LookupProblem {
    if (this.#finished.has(id)) return { '.tag': 'closed' };
    const session = this.#sessions.get(id);
    if (session === undefined) return { '.tag': 'not_found' };
    if (Date.now() - session.createdAt > this.#lifetimeMs) {
      this.#sessions.delete(id);
      void rm(session.dir, { recursive: true, force: true });
      return { '.tag': 'not_found' };
    }
    return session;
  }

  /**
   * Checks that `length` bytes may be added at `offset` (before they are accepted). `last` marks the piece that
   * closes a concurrent session, which alone may be of any size.
   */
  checkAppend(
    session: UploadSession,
    offset: number,
    length: number,
    last: boolean,
  ): LookupProblem | undefined {
    if (session.type === 'sequential') {
      if (session.closed) return { '.tag': 'closed' };
      if (session.busy || offset !== session.size)
        return { '.tag': 'incorrect_offset', correct_offset: session.size };
      return undefined;
    }
    // The closing piece marks the end of the file; pieces before it may still arrive, in any order.
    if (session.closed && (last || offset + length > session.size)) return { '.tag': 'closed' };
    if (offset % CONCURRENT_ALIGNMENT !== 0) return { '.tag': 'concurrent_session_invalid_offset' };
    if (!last && length % CONCURRENT_ALIGNMENT !== 0)
      return { '.tag': 'concurrent_session_invalid_data_size' };
    const overlaps = session.pieces.some(
      (piece) => offset < piece.offset + piece.length && piece.offset < offset + length,
    );
    if (overlaps) return { '.tag': 'incorrect_offset', correct_offset: session.size };
    return undefined;
  }

  /** Accepts a received file (with its block digests, when known) as the piece at `offset`, moving it into the session. */
  async accept(
    session: UploadSession,
    offset: number,
    length: number,
    file: string,
    digests?: readonly Buffer[],
  ): Promise<void> {
    if (length > 0) {
      const target = join(session.dir, String(offset).padStart(16, '0'));
      await rename(file, target);
      session.pieces.push({ offset, length, file: target, digests });
      session.pieces.sort((a, b) => a.offset - b.offset);
    } else {
      await rm(file, { force: true });
    }
    session.size = Math.max(session.size, offset + length);
  }

  /** True when the pieces cover `[0, size)` without a hole. */
  complete(session: UploadSession): boolean {
    let end = 0;
    for (const piece of session.pieces) {
      if (piece.offset !== end) return false;
      end += piece.length;
    }
    return end === session.size;
  }

  /**
   * Joins the pieces into `file` (the session keeps them, in case the commit fails); returns its content hash. When
   * every piece starts on a 4 MiB block of the file (a concurrent session's always do) and all but the last are
   * whole blocks, the block digests taken as each piece arrived are the file's: the bytes are not hashed again.
   */
  async assemble(session: UploadSession, file: string): Promise<string> {
    const { pieces } = session;
    const known = pieces.every(
      (piece, index) =>
        piece.digests !== undefined &&
        piece.offset % CONCURRENT_ALIGNMENT === 0 &&
        (index === pieces.length - 1 || piece.length % CONCURRENT_ALIGNMENT === 0),
    );
    if (!known && !this.#keepBytes) {
      throw new Error(
        'the emulator keeps no bytes (keepBytes: false): it can finish only sessions whose pieces start on 4 MiB blocks',
      );
    }
    const hasher = known ? undefined : new BlockHasher();
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const piece of pieces) {
        for await (const chunk of createReadStream(piece.file, { highWaterMark: 4 * 1024 * 1024 })) {
          const bytes = chunk as Buffer;
          hasher?.update(bytes);
          yield bytes;
        }
      }
    }
    await pipeline(concatenated(), createWriteStream(file));
    if (hasher !== undefined) return hasher.digest();
    return createHash('sha256')
      .update(Buffer.concat(pieces.flatMap((piece) => piece.digests ?? [])))
      .digest('hex');
  }

  /** The session's file was committed: it is gone, and later use reads `closed`. */
  async finish(session: UploadSession): Promise<void> {
    this.#sessions.delete(session.id);
    this.#finished.add(session.id);
    await rm(session.dir, { recursive: true, force: true });
  }

  /** Every session expires now (tests of the 7-day rule). */
  expireAll(): void {
    for (const session of this.#sessions.values()) {
      session.createdAt = 0;
    }
  }
}
