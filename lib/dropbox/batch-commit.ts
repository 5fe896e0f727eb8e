/**
 * Small files committed together: each record of a batch uploads its file's data into an upload session of its own
 * (`upload_session/start` with `close`), queues the commit here, and the invocation's commit group flushes the queue
 * as one `files/upload_session/finish_batch_v2`, which takes the Dropbox namespace's write lock once for the whole
 * batch instead of once per file (Dropbox's advice against `too_many_write_operations`). The route is synchronous
 * and answers one entry per commit, in order, each a file or the error `upload_session/finish` would have given.
 * Entries refused for lock contention are sent again after a backoff; every other failure goes to its own record.
 */
import type { files } from 'dropbox';
import { deadlineOf, withDeadline } from '../deadline.ts';
import type { CommitGroupMember, GroupCommitter } from '../ports.ts';
import { type BackoffOptions, nextDelayMs, sleep } from '../retry.ts';
import type { DropboxApiError } from './errors.ts';
import type { CommitArgs } from './uploader.ts';

/** Dropbox's limit on the entries of one `finish_batch_v2`. */
export const MAX_BATCH_ENTRIES = 1000;

/**
 * Tries of an entry refused for lock contention, at least: sending a closed session's commit again costs no data,
 * while giving up fails the record, whose redelivery reads, checks and uploads the file again after a queue delay.
 */
export const MIN_CONTENTION_ATTEMPTS = 10;

/** One commit of a batch: a closed upload session and where its file goes. */
export interface BatchEntry {
  readonly sessionId: string;
  /** The session's length (the file's size). */
  readonly offset: number;
  readonly commit: CommitArgs;
}

/** How one entry of a batch ended. */
export type BatchEntryResult =
  | { readonly ok: true; readonly metadata: files.FileMetadata }
  | { readonly ok: false; readonly error: DropboxApiError };

/** Sends one `finish_batch_v2` (retrying failures of the call itself) and returns its entries' results, in order. */
export type SendBatch = (
  entries: readonly BatchEntry[],
  signal: AbortSignal | undefined,
) => Promise<readonly BatchEntryResult[]>;

/** How often and how long refused entries are sent again. */
export interface BatchRetryOptions extends BackoffOptions {
  /** Tries of one entry, the first included. */
  readonly maxAttempts: number;
  /** Told before each wait, with the number of entries sent again (for logs). */
  readonly onRetry?: ((entries: number, attempt: number, delayMs: number) => void) | undefined;
}

interface Queued {
  readonly entry: BatchEntry;
  readonly index: number;
  readonly signal: AbortSignal | undefined;
  settled: boolean;
  resolve(metadata: files.FileMetadata): void;
  reject(error: unknown): void;
}

/**
 * An abort signal that fires once every signal of `signals` has; `undefined` when one of them is absent. Its deadline
 * (lib/deadline.ts) is the latest of theirs, when each has one.
 */
function abortWhenAll(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  const unique = [...new Set(signals)];
  if (unique.length === 0 || unique.some((signal) => signal === undefined)) return undefined;
  const present = unique.filter((signal): signal is AbortSignal => signal !== undefined);
  if (present.length === 1) return present[0];
  const controller = new AbortController();
  const deadlines = present.map(deadlineOf);
  if (deadlines.every((at) => at !== undefined)) withDeadline(controller.signal, Math.max(...deadlines));
  let remaining = present.length;
  for (const signal of present) {
    const onAbort = (): void => {
      remaining -= 1;
      if (remaining === 0) controller.abort(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  return controller.signal;
}

/** The `finish_batch_v2` committer of one Dropbox client in one commit group. */
export class FinishBatchCommitter implements GroupCommitter {
  readonly #send: SendBatch;
  readonly #retry: BatchRetryOptions;
  #queue: Queued[] = [];

  constructor(send: SendBatch, retry: BatchRetryOptions) {
    this.#send = send;
    this.#retry = retry;
  }

  /** Queues `entry` for the group's next flush and resolves with its committed file (or rejects with its error). */
  commit(member: CommitGroupMember, entry: BatchEntry, signal?: AbortSignal): Promise<files.FileMetadata> {
    const settled = new Promise<files.FileMetadata>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const item: Queued = {
        entry,
        index: member.index,
        signal,
        settled: false,
        resolve: (metadata) => {
          if (item.settled) return;
          item.settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(metadata);
        },
        reject: (error) => {
          if (item.settled) return;
          item.settled = true;
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        this.#queue = this.#queue.filter((queued) => queued !== item);
        item.reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(item);
    });
    return member.wait(this, settled);
  }

  /** Commits everything queued, in the records' order, at most {@link MAX_BATCH_ENTRIES} per call. */
  async flush(): Promise<void> {
    const items = this.#queue.sort((a, b) => a.index - b.index);
    this.#queue = [];
    for (let start = 0; start < items.length; start += MAX_BATCH_ENTRIES) {
      await this.#commitAll(items.slice(start, start + MAX_BATCH_ENTRIES));
    }
  }

  async #commitAll(items: readonly Queued[]): Promise<void> {
    let pending = items.filter((item) => !item.settled);
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      const signal = abortWhenAll(pending.map((item) => item.signal));
      let results: readonly BatchEntryResult[];
      try {
        results = await this.#send(
          pending.map((item) => item.entry),
          signal,
        );
        if (results.length !== pending.length) {
          throw new Error(
            `files/upload_session/finish_batch_v2 answered ${results.length} entries for ${pending.length}`,
          );
        }
      } catch (error) {
        for (const item of pending) item.reject(error);
        return;
      }
      const again: Queued[] = [];
      let retryAfterMs: number | undefined;
      results.forEach((result, position) => {
        const item = pending[position] as Queued;
        if (result.ok) item.resolve(result.metadata);
        else if (result.error.retryable && attempt + 1 < this.#retry.maxAttempts) {
          again.push(item);
          retryAfterMs = result.error.retryAfterMs ?? retryAfterMs;
        } else item.reject(result.error);
      });
      pending = again.filter((item) => !item.settled);
      if (pending.length === 0) return;
      const delayMs = nextDelayMs(attempt, retryAfterMs, this.#retry);
      this.#retry.onRetry?.(pending.length, attempt + 1, delayMs);
      try {
        await sleep(delayMs, abortWhenAll(pending.map((item) => item.signal)));
      } catch (error) {
        for (const item of pending) item.reject(error);
        return;
      }
      pending = pending.filter((item) => !item.settled);
    }
  }
}
