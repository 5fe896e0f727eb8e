/**
 * The export ledger's read model: one record per S3 object (bucket + key) saying what was exported for it and where,
 * and the last outcome of its events. Pure: the item shape, the object id, S3 sequencer ordering and what counts as
 * a change of the object's export state. The DynamoDB adapter is lib/aws/dynamodb-ledger.ts; docs/architecture.md
 * ("The export ledger") documents every field.
 */
import type { Reason } from './rules.ts';

/** The last settled outcome of an object's events. */
export type LedgerState = 'exported' | 'skipped' | 'failed' | 'blocked';

/** The S3 version a record is about. */
export interface LedgerObjectVersion {
  /** The version id, when the bucket keeps versions. */
  readonly versionId?: string | undefined;
  /** The ETag without quotes. */
  readonly eTag: string;
  readonly size: number;
  /** S3 LastModified, ISO 8601. */
  readonly lastModified: string;
}

/** The ticket the object belongs to, as its metadata and tags said when the state was decided. */
export interface LedgerTicket {
  readonly id?: string | undefined;
  readonly type?: string | undefined;
  readonly fileStatus?: string | undefined;
}

/** A Dropbox file as the ledger remembers it. */
export interface LedgerDropboxFile {
  /** Dropbox's file id (`id:…`): it follows the file when someone moves or renames it. */
  readonly id: string;
  readonly rev: string;
  /** Where the file was when last seen (`/Ticket Files/Proof (1).pdf`). */
  readonly pathDisplay: string;
  readonly contentHash: string;
  readonly size: number;
}

/** The object's last export: which S3 version went to which Dropbox file. */
export interface LedgerExport {
  readonly versionId?: string | undefined;
  readonly eTag: string;
  /** When the version was written to Dropbox (or found there), ISO 8601. */
  readonly exportedAt: string;
  /** The path the rules asked for; `file.pathDisplay` differs when Dropbox renamed the file (`Proof (1).pdf`). */
  readonly targetPath: string;
  /**
   * The file belongs to another object: Dropbox wrote nothing because that object's identical content already sat
   * at the target path. A new version of this object never replaces it: it is written beside it.
   */
  readonly adopted: boolean;
  readonly file: LedgerDropboxFile;
}

/** A failure after the last settled state (the record is being retried, or went to the DLQ). */
export interface LedgerFailure {
  readonly kind: string;
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

/** One function instance's exclusive right to export the object, until `expiresAt` (epoch milliseconds). */
export interface LedgerClaim {
  readonly owner: string;
  readonly expiresAt: number;
}

/** One object's record. */
export interface LedgerRecord {
  /** `s3://<bucket>/<key>`, the key decoded. */
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  /** The newest S3 sequencer acted on, in {@link normalizeSequencer}'s form. */
  readonly sequencer?: string | undefined;
  /** The S3 version the state is about. */
  readonly object?: LedgerObjectVersion | undefined;
  readonly ticket?: LedgerTicket | undefined;
  /**
   * The last settled outcome: `exported` (the version in `object` is in Dropbox), `skipped` (with the reason),
   * `blocked` (sent to the DLQ with its reason); `failed` only while nothing has settled yet.
   */
  readonly state?: LedgerState | undefined;
  readonly reason?: Reason | undefined;
  /** When `state` was written, ISO 8601. */
  readonly stateAt?: string | undefined;
  /** The latest failure since `state` (cleared when an outcome settles). */
  readonly failure?: LedgerFailure | undefined;
  /** The last export, kept across later skips and failures. */
  readonly export?: LedgerExport | undefined;
  /** Present while an instance is exporting the object. */
  readonly claim?: LedgerClaim | undefined;
  /**
   * Receipts (lib/receipts.ts): the state key of the last receipt EventBridge accepted for the object, and how many
   * it accepted. Written only by the receipts' adapter (lib/aws/dynamodb-receipts.ts), never by `settle`: they are
   * not in {@link LEDGER_ATTRIBUTES}.
   */
  readonly receiptSent?: string | undefined;
  readonly receiptSequence?: number | undefined;
}

/** The ledger id of an object: `s3://<bucket>/<key>` with the key as S3 stores it (decoded). */
export function ledgerId(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * The id of the ledger item that says which object a Dropbox file belongs to: `dropbox-file:<Dropbox file id>`. Not
 * an object (its id does not start with `s3://`): it holds the owner's ledger id, so that two objects never both
 * treat one file as their own export.
 */
export function fileOwnershipId(dropboxFileId: string): string {
  return `dropbox-file:${dropboxFileId}`;
}

/**
 * Who holds a Dropbox file, from its {@link fileOwnershipId} item. Two tickets that upload identical bytes under one
 * name hold one file: Dropbox writes nothing for identical content at the path, so the second one shares the first
 * one's file, and each ledger record names it.
 */
export interface FileOwnership {
  /** The object that owns the file: it wrote it, or found it in place when no object owned it. */
  readonly owner?: string | undefined;
  /** The other objects whose export the file is (they found it in place, holding their identical bytes). */
  readonly sharedBy: readonly string[];
}

/**
 * True when a new version of `objectId` may replace the Dropbox file in place: no other object owns it or shares it
 * (otherwise that object's bytes would be in Dropbox nowhere while its record still names the file).
 */
export function mayReplaceFile(ownership: FileOwnership | null, objectId: string): boolean {
  if (ownership === null) return true;
  const owner = ownership.owner;
  return (owner === undefined || owner === objectId) && ownership.sharedBy.every((id) => id === objectId);
}

/** Width of a stored sequencer: S3 sends 16 to 18 hex digits; the rest is room. */
export const SEQUENCER_WIDTH = 64;

/**
 * An S3 sequencer in a form that compares as strings: upper-case hex, right-padded with zeros to
 * {@link SEQUENCER_WIDTH}. AWS: "The sequencers can be of different lengths. So, to compare these values, first
 * right pad the shorter value with zeros, and then do a lexicographical comparison"
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html, and the Knowledge
 * Center's https://repost.aws/knowledge-center/s3-duplicate-sqs-messages). Padding both to one fixed width orders
 * them exactly as padding the shorter one does, so a DynamoDB condition can compare the stored strings.
 * `undefined` for a missing value or one that is not a hex string of at most that width.
 */
export function normalizeSequencer(sequencer: string | undefined): string | undefined {
  if (sequencer === undefined) return undefined;
  const trimmed = sequencer.trim().toUpperCase();
  if (!/^[0-9A-F]{1,64}$/.test(trimmed)) return undefined;
  return trimmed.padEnd(SEQUENCER_WIDTH, '0');
}

/** Orders two sequencers (either form): negative when `a` came first. */
export function compareSequencers(a: string, b: string): number {
  const left = normalizeSequencer(a) ?? '';
  const right = normalizeSequencer(b) ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The later of two sequencers (either may be missing). */
export function laterSequencer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareSequencers(a, b) >= 0 ? a : b;
}

/**
 * True when `version` has the content the ledger's `recorded` describes. The ETag decides, whatever the version ids
 * say: the same ETag means the same bytes (S3 derives it from them), so a version put again with identical bytes is
 * already exported. Identical bytes under another ETag (a multipart upload, SSE-KMS) count as new content: the
 * upload then costs a transfer, and Dropbox writes nothing for identical content at the path.
 */
export function isSameContent(
  recorded: { readonly eTag: string } | undefined,
  version: { readonly eTag: string },
): boolean {
  return recorded !== undefined && recorded.eTag !== '' && recorded.eTag === version.eTag;
}

/**
 * Whether writing `next` over `previous` changes the object's export state, as receipts report it: a version
 * exported to a new Dropbox file or revision, the first skip or a skip for a new reason, a block, or any settled
 * state after another one. A redelivery, an unchanged tag change and a backfill of an exported object change nothing.
 */
export function isStateChange(previous: LedgerRecord | null, next: LedgerRecord): boolean {
  if (next.state === undefined || next.state === 'failed') return false;
  return !isSameState(previous, next);
}

/**
 * Whether `next` holds the state `previous` held, compared as {@link isStateChange} compares them: the same state,
 * and the same Dropbox file and revision for `exported`, or the same reason code for any other state.
 */
function isSameState(previous: LedgerRecord | null, next: LedgerRecord): boolean {
  if (previous === null || previous.state !== next.state) return false;
  if (next.state === 'exported') {
    const before = previous.export?.file;
    const after = next.export?.file;
    return before?.id === after?.id && before?.rev === after?.rev;
  }
  return previous.reason?.code === next.reason?.code;
}

/**
 * `next` with its `stateAt`: `now` when its state differs from `previous`'s, else the time `previous`'s state was
 * written, so that a redelivery, an unchanged tag change or a backfill keeps the time of the change (and a receipt
 * sent again later tells that time, not the time it was sent).
 */
export function withStateTime(
  previous: LedgerRecord | null,
  next: LedgerRecord,
  now: Date = new Date(),
): LedgerRecord {
  const kept = isSameState(previous, next) ? previous?.stateAt : undefined;
  return { ...next, stateAt: kept ?? now.toISOString() };
}

/** The attributes of a ledger item (docs/architecture.md, "The export ledger", says what each one means). */
export const LEDGER_ATTRIBUTES = [
  'id',
  'bucket',
  'key',
  'sequencer',
  'versionId',
  'eTag',
  'size',
  'lastModified',
  'ticketId',
  'ticketType',
  'fileStatus',
  'state',
  'reason',
  'stateAt',
  'failure',
  'exportedVersionId',
  'exportedETag',
  'exportedAt',
  'targetPath',
  'adopted',
  'dropboxId',
  'dropboxRev',
  'dropboxPath',
  'dropboxContentHash',
  'dropboxSize',
] as const;

/** A DynamoDB item of the ledger table, as the document client reads and writes it. */
export type LedgerItem = Record<string, unknown>;

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function map(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function isLedgerState(value: unknown): value is LedgerState {
  return value === 'exported' || value === 'skipped' || value === 'failed' || value === 'blocked';
}

/** Drops `undefined` values (DynamoDB stores no undefined). */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}

/**
 * The table item of a record (flat attributes, so that a person reading the table, or a ticket system's `GetItem`,
 * sees plain fields). The claim is not part of it: writers add or remove it.
 */
export function toLedgerItem(record: LedgerRecord): LedgerItem {
  const { object, ticket, export: exported, failure } = record;
  return compact({
    id: record.id,
    bucket: record.bucket,
    key: record.key,
    sequencer: record.sequencer,
    versionId: object?.versionId,
    eTag: object?.eTag,
    size: object?.size,
    lastModified: object?.lastModified,
    ticketId: ticket?.id,
    ticketType: ticket?.type,
    fileStatus: ticket?.fileStatus,
    state: record.state,
    reason:
      record.reason === undefined ? undefined : { code: record.reason.code, message: record.reason.message },
    stateAt: record.stateAt,
    failure: failure === undefined ? undefined : { ...failure },
    exportedVersionId: exported?.versionId,
    exportedETag: exported?.eTag,
    exportedAt: exported?.exportedAt,
    targetPath: exported?.targetPath,
    adopted: exported === undefined ? undefined : exported.adopted,
    dropboxId: exported?.file.id,
    dropboxRev: exported?.file.rev,
    dropboxPath: exported?.file.pathDisplay,
    dropboxContentHash: exported?.file.contentHash,
    dropboxSize: exported?.file.size,
  });
}

/** Reads a table item back into a record; fields it cannot read are left out (never thrown on). */
export function fromLedgerItem(item: LedgerItem): LedgerRecord {
  const eTag = text(item.eTag);
  const reason = map(item.reason);
  const failure = map(item.failure);
  const claim = map(item.claim);
  const dropboxId = text(item.dropboxId);
  const exportedETag = text(item.exportedETag);
  const reasonCode = text(reason?.code);
  const claimOwner = text(claim?.owner);
  const claimExpires = num(claim?.expiresAt);
  return {
    id: text(item.id) ?? '',
    bucket: text(item.bucket) ?? '',
    key: text(item.key) ?? '',
    sequencer: text(item.sequencer),
    object:
      eTag === undefined
        ? undefined
        : compact({
            versionId: text(item.versionId),
            eTag,
            size: num(item.size) ?? 0,
            lastModified: text(item.lastModified) ?? '',
          }),
    ticket:
      item.ticketId === undefined && item.ticketType === undefined && item.fileStatus === undefined
        ? undefined
        : compact({
            id: text(item.ticketId),
            type: text(item.ticketType),
            fileStatus: text(item.fileStatus),
          }),
    state: isLedgerState(item.state) ? item.state : undefined,
    reason: reasonCode === undefined ? undefined : { code: reasonCode, message: text(reason?.message) ?? '' },
    stateAt: text(item.stateAt),
    failure:
      failure === undefined
        ? undefined
        : {
            kind: text(failure.kind) ?? '',
            code: text(failure.code) ?? '',
            message: text(failure.message) ?? '',
            at: text(failure.at) ?? '',
          },
    export:
      dropboxId === undefined || exportedETag === undefined
        ? undefined
        : compact({
            versionId: text(item.exportedVersionId),
            eTag: exportedETag,
            exportedAt: text(item.exportedAt) ?? '',
            targetPath: text(item.targetPath) ?? '',
            adopted: item.adopted === true,
            file: {
              id: dropboxId,
              rev: text(item.dropboxRev) ?? '',
              pathDisplay: text(item.dropboxPath) ?? '',
              contentHash: text(item.dropboxContentHash) ?? '',
              size: num(item.dropboxSize) ?? 0,
            },
          }),
    claim:
      claimOwner === undefined || claimExpires === undefined
        ? undefined
        : { owner: claimOwner, expiresAt: claimExpires },
    receiptSent: text(item.receiptSent),
    receiptSequence: num(item.receiptSequence),
  };
}
