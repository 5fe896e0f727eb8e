/**
 * The deadlines of one invocation, and an answer that always comes before the Lambda timeout. Lambda fails the
 * whole batch when the function throws or times out, so the handler must answer in time whatever a call does:
 * - at the **work** deadline (the remaining time minus `DEADLINE_MARGIN_MS`, 10 s by default) every call still
 *   running is aborted and no new one starts; the records that got no further fail, each on its own;
 * - until the **final** deadline (2 s before the timeout) the bookkeeping that makes those failures cheap runs:
 *   the commits already queued in the commit group, each failed record's retry delay, a requeue or a dead letter;
 * - at the final deadline the handler answers with the records done so far, whatever is still pending.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { withDeadline } from './deadline.ts';

/** The two deadlines of an invocation, as abort signals. */
export interface InvocationDeadlines {
  /** Calls that do the work (S3 reads, Dropbox uploads, settings) stop here. */
  readonly work: AbortSignal;
  /** Reporting (retry delays, requeues, dead letters, queued commits) stops here, and the handler answers. */
  readonly final: AbortSignal;
}

/** Kept back before the Lambda timeout for the answer itself. */
export const FINAL_MARGIN_MS = 2000;

/** The deadlines of an invocation with `remainingMs` left, the work deadline `workMarginMs` before the end. */
export function createInvocationDeadlines(
  remainingMs: number,
  workMarginMs: number,
  finalMarginMs: number = FINAL_MARGIN_MS,
): InvocationDeadlines {
  const finalMs = Math.max(500, remainingMs - finalMarginMs);
  const workMs = Math.min(finalMs, Math.max(1000, remainingMs - workMarginMs));
  // Their times go with the signals (lib/deadline.ts): a Dropbox Retry-After longer than what is left defers the
  // record through the queue at once instead of waiting for the abort.
  const now = Date.now();
  return {
    work: withDeadline(AbortSignal.timeout(workMs), now + workMs),
    final: withDeadline(AbortSignal.timeout(finalMs), now + finalMs),
  };
}

/** Which records of a batch are done, for an answer given before all of them are. */
export class BatchProgress {
  readonly #ids: readonly string[];
  readonly #done = new Set<string>();

  constructor(ids: readonly string[]) {
    this.#ids = ids;
  }

  /** Records `id` as done: its message may be deleted. */
  markDone(id: string): void {
    this.#done.add(id);
  }

  /** The answer now: every record not done fails (and comes back), each on its own. */
  answer(): SQSBatchResponse {
    return {
      batchItemFailures: this.#ids
        .filter((id) => !this.#done.has(id))
        .map((itemIdentifier) => ({ itemIdentifier })),
    };
  }
}

/** `work`'s result, or `fallback()` once `deadline` aborts first. Never rejects because of the deadline. */
export function answerBy<T>(work: Promise<T>, deadline: AbortSignal, fallback: () => T): Promise<T> {
  if (deadline.aborted) return Promise.resolve(fallback());
  return new Promise<T>((resolve, reject) => {
    const onDeadline = (): void => resolve(fallback());
    deadline.addEventListener('abort', onDeadline, { once: true });
    work.then(
      (value) => {
        deadline.removeEventListener('abort', onDeadline);
        resolve(value);
      },
      (error: unknown) => {
        deadline.removeEventListener('abort', onDeadline);
        reject(error);
      },
    );
  });
}
