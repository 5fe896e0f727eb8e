/**
 * The rules of EventBridge's `PutEvents` the emulator enforces, each with the page of AWS's documentation it
 * follows. Pure: the server (server.ts) applies them to a request and turns the result into its answer.
 *
 * - API reference, PutEvents: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 * - API reference, PutEventsRequestEntry / PutEventsResultEntry (the same reference, `API_PutEventsRequestEntry.html`,
 *   `API_PutEventsResultEntry.html`)
 * - User guide, "Calculating PutEvents event entry size":
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
 * - User guide, "Sending events with PutEvents" (failures per entry):
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html
 * - User guide, "AWS service event metadata" (the event a bus delivers):
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
 */
import { AwsJsonError, type JsonObject, readNumber, readString, readStringList } from '../http.ts';

/** API reference, PutEvents, `Entries`: "Array Members: Minimum number of 1 item. Maximum number of 10 items." */
export const MAX_ENTRIES = 10;
/**
 * API reference, PutEvents: "the total entry size must be less than 256KB", sized as the user guide's "Calculating
 * PutEvents event entry size" says. A newer revision of the page names 1 MB; the emulator keeps the stricter 256 KB,
 * and reads "less than" literally: a request of exactly 262,144 bytes is refused.
 */
export const MAX_TOTAL_ENTRY_BYTES = 256 * 1024;
/** API reference, PutEventsRequestEntry, `DetailType`: "Free-form string, with a maximum of 128 characters". */
export const MAX_DETAIL_TYPE_CHARACTERS = 128;
/** "Calculating PutEvents event entry size": "If specified, the Time parameter is 14 bytes." */
const TIME_BYTES = 14;

/** One entry of a `PutEvents` request, as read from the wire. */
export interface RequestEntry {
  readonly source: string | undefined;
  readonly detailType: string | undefined;
  readonly detail: string | undefined;
  readonly resources: readonly string[] | undefined;
  readonly eventBusName: string | undefined;
  /** Epoch seconds (AWS JSON 1.1 sends timestamps as numbers). */
  readonly time: number | undefined;
  readonly traceHeader: string | undefined;
}

/** How one entry ended: accepted, or refused with the `ErrorCode` / `ErrorMessage` of its result entry. */
export type EntryVerdict =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly errorCode: string; readonly errorMessage: string };

function validationError(message: string): AwsJsonError {
  return new AwsJsonError('ValidationException', message);
}

/**
 * Reads the request's entries and checks what fails the whole request: no list, an empty list, more than
 * {@link MAX_ENTRIES}, and a total size of {@link MAX_TOTAL_ENTRY_BYTES} or more. A field of the wrong JSON type is
 * a `SerializationException` (from the readers in ../http.ts).
 */
export function readEntries(input: JsonObject): RequestEntry[] {
  if (readString(input, 'EndpointId') !== undefined) {
    // Global endpoints route through Route 53 health checks to two Regions; the emulator has one bus set only.
    throw validationError('The local EventBridge has no global endpoints: omit EndpointId.');
  }
  const raw = input.Entries;
  if (raw === undefined || raw === null) {
    throw validationError(
      "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
    );
  }
  if (
    !Array.isArray(raw) ||
    raw.some((item) => item === null || typeof item !== 'object' || Array.isArray(item))
  ) {
    throw new AwsJsonError(
      'com.amazon.coral.service#SerializationException',
      'Field Entries must be a list of structures.',
    );
  }
  if (raw.length < 1) {
    throw validationError(
      "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (raw.length > MAX_ENTRIES) {
    throw validationError(
      `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ENTRIES} (got ${raw.length})`,
    );
  }
  const entries = (raw as JsonObject[]).map(
    (entry): RequestEntry => ({
      source: readString(entry, 'Source'),
      detailType: readString(entry, 'DetailType'),
      detail: readString(entry, 'Detail'),
      resources: readStringList(entry, 'Resources'),
      eventBusName: readString(entry, 'EventBusName'),
      time: readNumber(entry, 'Time'),
      traceHeader: readString(entry, 'TraceHeader'),
    }),
  );
  const total = entries.reduce((sum, entry) => sum + entrySize(entry), 0);
  if (total >= MAX_TOTAL_ENTRY_BYTES) {
    // The message AWS answers, as SDK users report it (e.g. awslabs/aws-service-catalog-puppet#563).
    throw validationError('Total size of the entries in the request is over the limit.');
  }
  // PutEventsRequestEntry: "If you submit a request in which none of the entries have each of these properties,
  // EventBridge fails the entire request."
  if (entries.every((entry) => !hasRequiredFields(entry))) {
    throw validationError(
      'No entry has each of Detail, DetailType and Source: EventBridge fails the entire request.',
    );
  }
  return entries;
}

/**
 * The size of one entry, exactly as "Calculating PutEvents event entry size" computes it: 14 bytes for `Time` when
 * given, the UTF-8 bytes of `Source` and `DetailType`, of `Detail` when given, and of each `Resources` item.
 * `EventBusName` and `TraceHeader` do not count.
 */
export function entrySize(entry: RequestEntry): number {
  const utf8 = (value: string | undefined): number =>
    value === undefined ? 0 : Buffer.byteLength(value, 'utf8');
  return (
    (entry.time === undefined ? 0 : TIME_BYTES) +
    utf8(entry.source) +
    utf8(entry.detailType) +
    utf8(entry.detail) +
    (entry.resources ?? []).reduce((sum, resource) => sum + utf8(resource), 0)
  );
}

function hasRequiredFields(entry: RequestEntry): boolean {
  return (
    entry.source !== undefined &&
    entry.source !== '' &&
    entry.detailType !== undefined &&
    entry.detailType !== '' &&
    entry.detail !== undefined
  );
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch (error) {
    if (error instanceof SyntaxError) return false;
    throw error;
  }
}

/**
 * The verdict on one entry, with the error codes PutEventsResultEntry documents:
 * - `InvalidArgument` ("A specified parameter is not valid"): a missing `Source`, `DetailType` or `Detail` (each is
 *   required "for EventBridge to successfully send an event to an event bus. If you include event entries in a
 *   request that do not include each of those properties, EventBridge fails that entry"), a `DetailType` over 128
 *   characters, or a bus the emulator does not have.
 * - `MalformedDetail` ("The JSON provided is not valid"): `Detail` must be "A valid JSON object".
 * - `NotAuthorizedForSourceException`: event metadata, `source`: customer events "can have any value here, as long as
 *   it doesn't begin with aws.".
 *
 * `buses` holds the bus names and ARNs the emulator has. AWS itself accepts an entry for a bus that does not exist
 * and drops the event (reported in aws/aws-cli#9186); the emulator refuses it instead, the stricter reading, so a
 * misnamed bus shows in a test rather than as receipts that never arrive.
 */
export function judgeEntry(entry: RequestEntry, buses: ReadonlySet<string>): EntryVerdict {
  const refuse = (errorCode: string, errorMessage: string): EntryVerdict => ({
    accepted: false,
    errorCode,
    errorMessage,
  });
  for (const [name, value] of [
    ['Source', entry.source],
    ['DetailType', entry.detailType],
    ['Detail', entry.detail],
  ] as const) {
    if (value === undefined || (name !== 'Detail' && value === '')) {
      return refuse(
        'InvalidArgument',
        `Parameter ${name} is not valid. Reason: ${name} is a required argument.`,
      );
    }
  }
  if ([...(entry.detailType ?? '')].length > MAX_DETAIL_TYPE_CHARACTERS) {
    return refuse(
      'InvalidArgument',
      `Parameter DetailType is not valid. Reason: it must be at most ${MAX_DETAIL_TYPE_CHARACTERS} characters.`,
    );
  }
  if (!isJsonObject(entry.detail ?? '')) return refuse('MalformedDetail', 'Detail is malformed.');
  if ((entry.source ?? '').startsWith('aws.')) {
    return refuse(
      'NotAuthorizedForSourceException',
      `Not authorized for the source ${entry.source}: sources starting with 'aws.' are AWS's own.`,
    );
  }
  const bus = entry.eventBusName ?? 'default';
  if (!buses.has(bus)) return refuse('InvalidArgument', `Event bus ${bus} does not exist.`);
  return { accepted: true };
}

/** An event as a bus delivers it to a rule's target ("AWS service event metadata"). */
export interface DeliveredEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** ISO 8601 in UTC without fractions, as in the documentation's examples (`2017-12-22T18:43:48Z`). */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/**
 * The event an accepted entry becomes: `version` "0", a version 4 UUID `id`, the entry's `Time` or else the time of
 * the call ("If no time stamp is provided, the time stamp of the PutEvents call is used"), and the parsed `Detail`.
 */
export function toDeliveredEvent(
  entry: RequestEntry,
  context: { readonly id: string; readonly account: string; readonly region: string; readonly now: Date },
): DeliveredEvent {
  const time = entry.time === undefined ? context.now : new Date(entry.time * 1000);
  return {
    version: '0',
    id: context.id,
    'detail-type': entry.detailType ?? '',
    source: entry.source ?? '',
    account: context.account,
    time: `${time.toISOString().slice(0, 19)}Z`,
    region: context.region,
    resources: entry.resources ?? [],
    detail: JSON.parse(entry.detail ?? '{}') as unknown,
  };
}
