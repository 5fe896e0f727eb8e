/**
 * A local Amazon EventBridge `PutEvents` endpoint speaking AWS JSON 1.1 exactly as `@aws-sdk/client-eventbridge`
 * sends it (`POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `application/x-amz-json-1.1`), for tests and the local
 * stack. It enforces the documented limits (put-events.ts: 10 entries a call, the 256 KB total entry size, per-entry
 * failures with `ErrorCode` / `ErrorMessage` and `FailedEntryCount`), and appends every accepted event, as a bus
 * delivers it to a rule's target, to a JSON Lines file.
 *
 * ```ts
 * const events = await startEventBridgeEmulator({ file: '.local/receipts.jsonl' });
 * const client = new EventBridgeClient({ endpoint: events.url, region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 * Requests are not authenticated. Any other target gets AWS's `UnknownOperationException`. Faults (`setFaults`)
 * refuse entries with a retryable error code, or take the whole endpoint down, to test a sender's retries.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  AwsJsonError,
  BodyTooLargeError,
  type CallRecord,
  type JsonObject,
  startAwsJsonServer,
} from '../http.ts';
import {
  type DeliveredEvent,
  type EntryVerdict,
  judgeEntry,
  type RequestEntry,
  readEntries,
  toDeliveredEvent,
} from './put-events.ts';

export type { DeliveredEvent, RequestEntry } from './put-events.ts';

/** Faults the emulator injects. */
export interface EventBridgeFaults {
  /**
   * Refuse this many of the next entries that would be accepted, each with {@link EventBridgeFaults.errorCode}:
   * the call succeeds with `FailedEntryCount` > 0, as PutEvents answers a partial failure.
   */
  readonly refuseEntries?: number;
  /** Refuse every entry for which this returns true (counted apart from `refuseEntries`). */
  readonly refuseIf?: (entry: RequestEntry) => boolean;
  /**
   * The `ErrorCode` of a refused entry. PutEventsResultEntry documents `InternalFailure` and `ThrottlingException` as
   * the retryable ones. @default 'InternalFailure'
   */
  readonly errorCode?: string;
  /** Answer every `PutEvents` with HTTP 500 `InternalException` (the operation's documented error), as in an outage. */
  readonly unavailable?: boolean;
}

/** A running EventBridge emulator. */
export interface EventBridgeEmulator {
  /** The endpoint origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request served, in order (`action` is the operation name). */
  readonly calls: CallRecord[];
  /** Every event accepted, in order. */
  readonly events: readonly DeliveredEvent[];
  /** The ARN of a bus by name (`default` included). */
  busArn(name: string): string;
  /** Replaces the injected faults. */
  setFaults(faults: EventBridgeFaults): void;
  close(): Promise<void>;
}

/** Options of {@link startEventBridgeEmulator}. */
export interface EventBridgeEmulatorOptions {
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** A JSON Lines file each accepted event is appended to (one event per line). */
  readonly file?: string;
  /** Buses besides the account's `default` bus, by name. */
  readonly buses?: readonly string[];
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  readonly faults?: EventBridgeFaults;
  /** Told of every accepted event, with the bus it went to (the local stack prints a line for it). */
  readonly onEvent?: (event: DeliveredEvent, busName: string) => void;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AWSEvents.';
// Well above the 256 KB of entries a call may hold once JSON-escaped; a larger body cannot be a valid call.
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** Starts an EventBridge `PutEvents` emulator on 127.0.0.1. */
export async function startEventBridgeEmulator(
  options: EventBridgeEmulatorOptions = {},
): Promise<EventBridgeEmulator> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const busArn = (name: string): string => `arn:aws:events:${region}:${accountId}:event-bus/${name}`;
  const busNames = ['default', ...(options.buses ?? [])];
  // EventBusName is "The name or ARN of the event bus to receive the event" (PutEventsRequestEntry).
  const buses = new Set(busNames.flatMap((name) => [name, busArn(name)]));
  const busNameOf = (nameOrArn: string | undefined): string =>
    (nameOrArn ?? 'default').split('event-bus/').at(-1) ?? 'default';
  const events: DeliveredEvent[] = [];
  let faults: EventBridgeFaults = { ...options.faults };
  let refusalsLeft = faults.refuseEntries ?? 0;
  if (options.file !== undefined) mkdirSync(dirname(options.file), { recursive: true });

  const faultVerdict = (entry: RequestEntry): EntryVerdict | undefined => {
    const refusedByPredicate = faults.refuseIf?.(entry) ?? false;
    if (!refusedByPredicate && refusalsLeft <= 0) return undefined;
    if (!refusedByPredicate) refusalsLeft -= 1;
    return {
      accepted: false,
      errorCode: faults.errorCode ?? 'InternalFailure',
      errorMessage: 'The entry was refused by the emulator (fault injection); retry it.',
    };
  };

  const putEvents = (input: JsonObject): JsonObject => {
    if (faults.unavailable) {
      throw new AwsJsonError('InternalException', 'EventBridge is unavailable (fault injection).', {
        status: 500,
      });
    }
    const entries = readEntries(input);
    const now = new Date();
    const results = entries.map((entry): JsonObject => {
      const verdict = judgeEntry(entry, buses);
      const final = verdict.accepted ? (faultVerdict(entry) ?? verdict) : verdict;
      if (!final.accepted) return { ErrorCode: final.errorCode, ErrorMessage: final.errorMessage };
      const event = toDeliveredEvent(entry, { id: randomUUID(), account: accountId, region, now });
      events.push(event);
      if (options.file !== undefined) appendFileSync(options.file, `${JSON.stringify(event)}\n`);
      options.onEvent?.(event, busNameOf(entry.eventBusName));
      return { EventId: event.id };
    });
    // "The response Entries array always includes the same number of entries as the request array", in order.
    return {
      FailedEntryCount: results.filter((result) => result.ErrorCode !== undefined).length,
      Entries: results,
    };
  };

  const server = await startAwsJsonServer({
    targetPrefix: TARGET_PREFIX,
    contentType: CONTENT_TYPE,
    maxRequestBytes: MAX_REQUEST_BYTES,
    operations: { PutEvents: putEvents },
    port: options.port,
    describeError: (error) => {
      if (error instanceof BodyTooLargeError) return new AwsJsonError('ValidationException', error.message);
      const message = error instanceof Error ? error.message : String(error);
      return new AwsJsonError('InternalException', message, { status: 500 });
    },
  });
  return {
    url: server.url,
    calls: server.calls,
    events,
    busArn,
    setFaults(next) {
      faults = { ...next };
      refusalsLeft = next.refuseEntries ?? 0;
    },
    close: () => server.close(),
  };
}
