/**
 * A request body that is streamed rather than held: its length is known up front (HTTP's `Content-Length`, and the
 * `content_hash` computed before the call), and it can be opened again, so a retried call sends the same bytes again
 * without their ever being in memory at once. The project's HTTP transport (lib/dropbox/http-transport.ts) sends it.
 */
import { SyncError } from '../errors.ts';

const STREAM_BODY = Symbol.for('ticket-dropbox-sync.stream-body');

/** Bytes that can be streamed, as often as needed. */
export interface StreamBody {
  readonly [STREAM_BODY]: true;
  /** Bytes the stream yields, exactly. */
  readonly byteLength: number;
  /**
   * A new stream of the bytes from their start (each call opens the source again). A chunk it yields may be reused by
   * the source once the next chunk is asked for: the consumer is done with it by then.
   */
  open(signal?: AbortSignal): Promise<AsyncIterable<unknown>>;
}

/** A {@link StreamBody} of `byteLength` bytes opened by `open`. */
export function createStreamBody(
  byteLength: number,
  open: (signal?: AbortSignal) => Promise<AsyncIterable<unknown>>,
): StreamBody {
  return { [STREAM_BODY]: true, byteLength, open };
}

/** Narrows a request body to a {@link StreamBody}. */
export function isStreamBody(body: unknown): body is StreamBody {
  return typeof body === 'object' && body !== null && STREAM_BODY in body;
}

/** The bytes of one piece of a stream, as `Uint8Array` (Node streams may yield strings in text mode). */
export function toBytes(piece: unknown): Uint8Array {
  if (piece instanceof Uint8Array) return piece;
  if (typeof piece === 'string') return Buffer.from(piece);
  throw new TypeError('upload body must yield bytes');
}

/** The transient error of a source that yields more or fewer bytes than it declared. */
export function sourceSizeMismatch(expected: number, actual: number | undefined): SyncError {
  const what =
    actual === undefined
      ? `upload body is longer than its declared ${expected} bytes`
      : `upload body ended after ${actual} of its declared ${expected} bytes`;
  return new SyncError(what, { kind: 'transient', code: 'source-size-mismatch' });
}
