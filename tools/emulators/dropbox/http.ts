/**
 * HTTP plumbing of the Dropbox API emulator: Dropbox's response shapes (JSON results, `{ error_summary, error }`
 * route errors, plain-text 400s), request bodies received with the fault injector's throttling and resets, and the
 * emulator's own content hasher (written apart from lib/dropbox so that the two check each other).
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';

const BLOCK = 4 * 1024 * 1024;
/** Bytes of a received body written to its file at once. */
const WRITE_BYTES = 1024 * 1024;

/** Dropbox's content hash, incremental: SHA-256 over the SHA-256 digests of 4 MiB blocks. */
export class BlockHasher {
  readonly #digests: Buffer[] = [];
  #block: Hash = createHash('sha256');
  #fill = 0;

  update(data: Uint8Array): void {
    let start = 0;
    while (start < data.byteLength) {
      const end = Math.min(data.byteLength, start + (BLOCK - this.#fill));
      this.#block.update(data.subarray(start, end));
      this.#fill += end - start;
      start = end;
      if (this.#fill === BLOCK) {
        this.#digests.push(this.#block.digest());
        this.#block = createHash('sha256');
        this.#fill = 0;
      }
    }
  }

  digest(): string {
    if (this.#fill > 0) this.#digests.push(this.#block.digest());
    this.#fill = 0;
    return createHash('sha256').update(Buffer.concat(this.#digests)).digest('hex');
  }

  /** The digests of the 4 MiB blocks hashed so far (all of them once {@link BlockHasher.digest} was called). */
  blockDigests(): readonly Buffer[] {
    return [...this.#digests];
  }
}

/** Thrown by handlers to answer with a status and body of their choice. */
export class HttpReply extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}) {
    super(typeof body === 'string' ? body : `HTTP ${status}`);
    this.name = 'HttpReply';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** The connection was reset on purpose (fault injection) or by the client: nothing more to answer. */
export class ConnectionGone extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionGone';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Dropbox's `error_summary` for a tagged error: the tags from the outside in, then a slash and some dots (Dropbox
 * varies their number so that nobody parses the summary for exact equality).
 */
export function formatErrorSummary(error: unknown, dots = 2): string {
  const tags: string[] = [];
  let node: unknown = error;
  for (let depth = 0; depth < 8 && isRecord(node); depth += 1) {
    const tag = node['.tag'];
    let next: unknown;
    if (typeof tag === 'string') {
      tags.push(tag);
      next = node[tag];
    }
    if (!isRecord(next)) next = Object.values(node).find((value) => isRecord(value) && '.tag' in value);
    node = next;
  }
  return `${tags.join('/')}/${'.'.repeat(dots)}`;
}

/** A route error (409 by default) in Dropbox's shape. */
export function createRouteError(
  error: Record<string, unknown>,
  status = 409,
  headers: Record<string, string> = {},
): HttpReply {
  return new HttpReply(status, { error_summary: formatErrorSummary(error), error }, headers);
}

/** A plain-text 400, as Dropbox answers a malformed call. */
export function createBadRequest(route: string, detail: string): HttpReply {
  return new HttpReply(400, `Error in call to API function "${route}": ${detail}`);
}

/** Writes a reply: JSON for objects (and `null`), text for strings. */
export function sendReply(res: ServerResponse, reply: HttpReply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string;
  if (typeof reply.body === 'string') {
    headers['Content-Type'] ??= 'text/plain; charset=utf-8';
    payload = reply.body;
  } else {
    headers['Content-Type'] ??= 'application/json';
    payload = JSON.stringify(reply.body ?? null);
  }
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** How a request body is received. */
export interface ReceiveOptions {
  /**
   * Store the bytes (`false`: the body is hashed as it arrives, and its file is left empty; see the emulator's
   * `keepBytes`). @default true
   */
  readonly keepBytes?: boolean | undefined;
  /** Bytes per second; `undefined` for no cap. */
  readonly bandwidthBytesPerSec?: number | undefined;
  /** Reset the connection once this many bytes have arrived (0: before reading any). */
  readonly resetAfterBytes?: number | undefined;
  /** Called with each piece's size, for the request log. */
  readonly onBytes: (count: number) => void;
}

async function* readPieces(req: IncomingMessage, options: ReceiveOptions): AsyncGenerator<Buffer> {
  const started = Date.now();
  let received = 0;
  if (options.resetAfterBytes === 0) {
    req.destroy();
    throw new ConnectionGone('connection reset by fault injection');
  }
  const iterator = req[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<unknown>;
    try {
      next = await iterator.next();
    } catch (error) {
      // The client went away in the middle of its body (reset, timeout, abort).
      if (error instanceof Error && ('code' in error || error.message === 'aborted')) {
        throw new ConnectionGone(`request body interrupted: ${error.message}`);
      }
      throw error;
    }
    if (next.done === true) break;
    const chunk = next.value;
    const piece = chunk instanceof Buffer ? chunk : Buffer.from(String(chunk));
    received += piece.byteLength;
    options.onBytes(piece.byteLength);
    if (options.resetAfterBytes !== undefined && received >= options.resetAfterBytes) {
      req.destroy();
      throw new ConnectionGone('connection reset by fault injection');
    }
    yield piece;
    const rate = options.bandwidthBytesPerSec;
    if (rate !== undefined && rate > 0) {
      const due = (received / rate) * 1000 - (Date.now() - started);
      if (due > 0) await delay(due);
    }
  }
  if (!req.complete) throw new ConnectionGone('request aborted by the client');
}

/** Reads a whole (small) body into memory; more than `limit` bytes is a 400. */
export async function receiveSmall(
  req: IncomingMessage,
  route: string,
  limit: number,
  options: ReceiveOptions,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of readPieces(req, options)) {
    size += piece.byteLength;
    if (size <= limit) parts.push(piece);
  }
  if (size > limit) throw createBadRequest(route, `request body is larger than ${limit} bytes`);
  return Buffer.concat(parts);
}

/** A received upload body, stored in a file. */
export interface ReceivedUpload {
  readonly file: string;
  /** Bytes received (all of them, even past the limit). */
  readonly size: number;
  /** `undefined` when the body went past the limit (and was not stored whole). */
  readonly contentHash: string | undefined;
  /** The digests of the body's 4 MiB blocks, from the same pass (`undefined` past the limit). */
  readonly blockDigests: readonly Buffer[] | undefined;
}

/** Streams an upload body into `file` while hashing it; past `limit` bytes it is only counted. */
export async function receiveUpload(
  req: IncomingMessage,
  file: string,
  limit: number,
  options: ReceiveOptions,
): Promise<ReceivedUpload> {
  const hasher = new BlockHasher();
  let size = 0;
  async function* accepted(): AsyncGenerator<Buffer> {
    // Socket pieces are 64 KiB at most: written one by one, a large body costs a file write per piece.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const piece of readPieces(req, options)) {
      size += piece.byteLength;
      if (size > limit) continue;
      hasher.update(piece);
      pending.push(piece);
      pendingBytes += piece.byteLength;
      if (pendingBytes >= WRITE_BYTES) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
  }
  if (options.keepBytes === false) {
    for await (const _ of accepted()) {
      // Hashed on the way; nothing kept.
    }
    await writeFile(file, '');
  } else {
    await pipeline(accepted(), createWriteStream(file));
  }
  if (size > limit) return { file, size, contentHash: undefined, blockDigests: undefined };
  return { file, size, contentHash: hasher.digest(), blockDigests: hasher.blockDigests() };
}

/** Parses a JSON text; a 400 naming `what` when it is not JSON. */
export function parseJson(route: string, what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw createBadRequest(route, `${what}: could not decode input as JSON`);
  }
}
