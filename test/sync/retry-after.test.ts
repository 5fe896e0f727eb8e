/**
 * Dropbox's `Retry-After` on the local stack (issue 12, item 4): a 429 on one chunk of a large upload holds back
 * every call of the function's Dropbox client (the other chunks, the other record of the batch, the commits) until
 * the wait is over; a wait longer than the invocation has left defers the record through the queue by that wait.
 * The emulator's scripted rate limit refuses any request sent before the wait is over, and its request log shows
 * what reached it; the function's requests are also seen as they leave (its Dropbox transport, wrapped), since a
 * request already on its way when the 429 arrived reaches the emulator a moment after the answer, and is no fault
 * of the client. The first test waits the full 30 s, as Dropbox asked.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, runtimeDeps } from '../../functions/sync-to-dropbox/handler.ts';
import { clearDropboxClientCache, getDropboxClient } from '../../lib/dropbox/client.ts';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { createHttpTransport } from '../../lib/dropbox/http-transport.ts';
import type { RecordFailure } from '../../lib/sqs-record.ts';
import { EMULATOR_CLIENT_CREDENTIALS, type RequestLogEntry } from '../../tools/emulators/dropbox/server.ts';
import { generateBytes } from '../../tools/generated-content.ts';
import { toSqsRecord } from '../../tools/local/poller.ts';
import type { Harness } from '../support/harness.ts';
import { startHarness } from '../support/harness.ts';

const SERVICE = { 'ticket-type': 'service' };
const MIB = 1024 * 1024;
const RETRY_AFTER_SECONDS = 30;
const APPEND = 'files/upload_session/append_v2';

/** Runs every visible message through `handler` in batches of up to 10, with `remainingMs` left in each invocation. */
async function drainWith(
  harness: Harness,
  handler: ReturnType<typeof createHandler>,
  remainingMs: number,
): Promise<number> {
  let failed = 0;
  for (;;) {
    const { Messages = [] } = await harness.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: harness.stack.outputs.QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return failed;
    const event: SQSEvent = {
      Records: Messages.map((message) => toSqsRecord(message, harness.stack.outputs.QueueArn, 'us-east-1')),
    };
    const deadline = Date.now() + remainingMs;
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() } as Context;
    const response = await handler(event, context);
    const failedIds = new Set((response?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
    failed += failedIds.size;
    const done = event.Records.filter((record) => !failedIds.has(record.messageId));
    if (done.length > 0) {
      await harness.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: harness.stack.outputs.QueueUrl,
          Entries: done.map((record, index) => ({ Id: `m${index}`, ReceiptHandle: record.receiptHandle })),
        }),
      );
    }
  }
}

/** A request of the function's Dropbox client as it left, and until when the client had been asked to wait then. */
interface Sent {
  readonly at: number;
  readonly route: string;
  /** The end of the longest `Retry-After` among the answers the client had read (0: none). */
  readonly limitedUntil: number;
}

/** The client's own transport, watched: every request as it leaves, and every 429 answer as the client reads it. */
function watchedTransport(): { readonly fetch: typeof fetch; readonly sent: Sent[]; reset(): void } {
  const transport = createHttpTransport();
  const sent: Sent[] = [];
  let limitedUntil = 0;
  const watched: typeof fetch = async (input, init) => {
    const route = new URL(String(input)).pathname.replace(/^\/2\//, '').replace(/^\//, '');
    sent.push({ at: Date.now(), route, limitedUntil });
    const response = await transport(input, init);
    const retryAfter = response.status === 429 ? Number(response.headers.get('retry-after')) : Number.NaN;
    if (Number.isFinite(retryAfter)) limitedUntil = Math.max(limitedUntil, Date.now() + retryAfter * 1000);
    return response;
  };
  return {
    fetch: watched,
    sent,
    reset() {
      sent.length = 0;
      limitedUntil = 0;
    },
  };
}

describe("Dropbox's Retry-After", () => {
  let harness: Harness;
  let handler: ReturnType<typeof createHandler>;
  const failures: RecordFailure[] = [];
  const watched = watchedTransport();
  /** The function's Dropbox client (the one the handler created). */
  const functionClient = () =>
    getDropboxClient({
      credentials: EMULATOR_CLIENT_CREDENTIALS,
      endpointUrl: harness.stack.env.DROPBOX_ENDPOINT_URL,
    });
  const log = (): RequestLogEntry[] => harness.stack.dropbox?.requestLog ?? [];

  beforeAll(async () => {
    harness = await startHarness();
    // The client cache keeps the tuning of the first client for these credentials: this handler's must be first.
    clearDropboxClientCache();
    handler = createHandler(
      runtimeDeps({
        env: {
          ...process.env,
          ...harness.stack.env,
          SETTINGS_CACHE_TTL_SECONDS: '0',
          UPLOAD_CHUNK_MIB: '4',
          UPLOAD_CHUNKS_IN_FLIGHT: '4',
        },
        onFailure: (failure) => failures.push(failure),
        dropboxFetch: watched.fetch,
        // Our own backoff is short here; Dropbox's Retry-After is waited in full all the same.
        uploadTuning: { maxAttempts: 2, backoffBaseMs: 5, backoffCapMs: 20 },
      }),
    );
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('holds back every call of the client, the other chunks and the other record, for the full 30 s', async () => {
    // Prepare
    const files = [
      { key: 'tickets/T-1/first.bin', path: '/Ticket Files/first.bin', bytes: generateBytes(40 * MIB, 121) },
      {
        key: 'tickets/T-2/second.bin',
        path: '/Ticket Files/second.bin',
        bytes: generateBytes(40 * MIB, 122),
      },
    ];
    for (const file of files) await harness.put(file.key, file.bytes, SERVICE);
    const from = log().length;
    watched.reset();
    harness.stack.dropbox?.setFaults({
      rateLimitRequest: { route: APPEND, nth: 3 },
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });

    // Act
    const failed = await drainWith(harness, handler, 900_000);
    harness.stack.dropbox?.setFaults({});

    // Assess
    expect(failed).toBe(0);
    for (const file of files) {
      expect(await harness.dropbox.getFileMetadata(file.path)).toMatchObject({
        size: file.bytes.byteLength,
        contentHash: computeContentHash(file.bytes),
      });
    }
    const requests = log().slice(from);
    const [limited] = requests.filter((entry) => entry.fault === 'rate-limit');
    expect(limited).toMatchObject({ route: APPEND, status: 429 });
    const answeredAt = limited?.endedAt ?? Number.NaN;
    const waitMs = RETRY_AFTER_SECONDS * 1000;
    // The client took the wait from when it read the answer, which is after the emulator sent it.
    expect(functionClient().notBefore).toBeGreaterThanOrEqual(answeredAt + waitMs);
    // Once the client had read a Retry-After, nothing left it until that time: not one request, on any route.
    const sent = watched.sent;
    expect(sent.filter((request) => request.at < request.limitedUntil)).toEqual([]);
    // Nothing was served in the 30 s after the answer: a request already on its way was refused as well.
    const served = requests.filter(
      (entry) =>
        entry.startedAt > answeredAt && entry.startedAt < answeredAt + waitMs && entry.status !== 429,
    );
    expect(served).toEqual([]);
    // The others waited: both records' remaining chunks and both commits left after the wait.
    const after = sent.filter((request) => request.at >= answeredAt + waitMs);
    expect(after.filter((request) => request.route === 'files/upload_session/finish')).toHaveLength(2);
    expect(after.filter((request) => request.route === APPEND).length).toBeGreaterThanOrEqual(4);
  }, 180_000);

  it('defers the record through the queue by the full wait when the invocation has less time left', async () => {
    // Prepare
    const bytes = generateBytes(40 * MIB, 123);
    await harness.put('tickets/T-3/third.bin', bytes, SERVICE);
    failures.length = 0;
    const from = log().length;
    watched.reset();
    harness.stack.dropbox?.setFaults({
      rateLimitRequest: { route: APPEND, nth: 2 },
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });

    // Act: 15 s left, 10 s of which the handler keeps back for reporting (its deadline margin)
    const failed = await drainWith(harness, handler, 15_000);
    harness.stack.dropbox?.setFaults({});

    // Assess
    expect(failed).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      key: 'tickets/T-3/third.bin',
      kind: 'transient',
      code: 'dropbox-rate-limited',
    });
    // The queue brings it back no sooner than Dropbox asked (not capped below it).
    expect(failures[0]?.retryInSeconds).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS);
    const { Messages = [] } = await harness.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: harness.stack.outputs.QueueUrl, WaitTimeSeconds: 0 }),
    );
    expect(Messages).toEqual([]);
    expect(await harness.depth()).toEqual({ queue: 1, dlq: 0 });
    const requests = log().slice(from);
    expect(requests.filter((entry) => entry.fault === 'rate-limit')[0]).toMatchObject({ route: APPEND });
    // The invocation gave up instead of waiting: nothing left the client once it had read the Retry-After.
    const sent = watched.sent;
    expect(sent.some((request) => request.limitedUntil > 0)).toBe(false);
    expect(functionClient().notBefore).toBeGreaterThan(Date.now());
    expect(await harness.dropbox.getFileMetadata('/Ticket Files/third.bin')).toBeNull();
  }, 120_000);
});
