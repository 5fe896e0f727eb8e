/**
 * The small interfaces the sync domain asks of the outside world. Adapters under `lib/aws/` and `lib/dropbox/`
 * implement them; tests and the local stack pass the same adapters pointed at emulators.
 */
import type { Readable } from 'node:stream';
import type { SyncError } from './errors.ts';
import type { FileOwnership, LedgerClaim, LedgerRecord } from './ledger.ts';
import type { Receipt } from './receipts.ts';

/** What `HeadObject` tells about an S3 object. */
export interface ObjectHead {
  /** The ETag with its quotes removed. */
  readonly eTag: string;
  readonly size: number;
  /** S3 LastModified: becomes the Dropbox `client_modified`. */
  readonly lastModified: Date;
  /** User metadata, keys lower-cased without the `x-amz-meta-` prefix (as the SDK returns them). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly versionId?: string | undefined;
}

/** A byte range, both ends inclusive (as in an HTTP `Range` header). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Read access to the bucket the ticket system writes to. */
export interface ObjectStore {
  /** `HeadObject`; `null` when the object does not exist (404). `signal` aborts the call (the deadline). */
  headObject(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectHead | null>;
  /** `GetObjectTagging`; `null` when the object does not exist (404). */
  getObjectTags(bucket: string, key: string, signal?: AbortSignal): Promise<Record<string, string> | null>;
  /**
   * `GetObject` pinned to an ETag (`IfMatch`), optionally for a range. Throws a permanent `SyncError` with code
   * `superseded` when the ETag no longer matches, `object-missing` when the object is gone.
   */
  openObject(
    bucket: string,
    key: string,
    options: { readonly eTag: string; readonly range?: ByteRange; readonly signal?: AbortSignal },
  ): Promise<Readable>;
}

/** A file as Dropbox describes it (`FileMetadata`). */
export interface DropboxFile {
  readonly id: string;
  readonly name: string;
  readonly pathDisplay: string;
  readonly pathLower: string;
  readonly size: number;
  readonly rev: string;
  readonly contentHash: string;
  /** ISO 8601 without milliseconds, as Dropbox returns it (`2026-11-27T13:40:08Z`). */
  readonly clientModified: string;
  readonly serverModified: string;
}

/** One file to write into Dropbox. */
export interface UploadRequest {
  /** Full Dropbox path, already sanitised (`/Ticket Files/Proof.pdf`). */
  readonly path: string;
  readonly size: number;
  readonly clientModified: Date;
  /** `rename`: mode `add` with autorename (another file is never replaced); `overwrite`: mode `overwrite`. */
  readonly onConflict: 'rename' | 'overwrite';
  /**
   * Replace exactly this revision (Dropbox write mode `update`): used when the file at `path` is an earlier
   * export of the same S3 object, so its newest version takes its place even under `rename`. The write fails
   * with a conflict if the file changed meanwhile, so another file is still never replaced.
   */
  readonly replaceRev?: string | undefined;
  /** The content as one sequential stream. Either this or {@link UploadRequest.openRange} is required. */
  readonly body?: Readable | undefined;
  /**
   * Opens the content, or one byte range of it (`undefined`: the whole content), as a new stream each time it is
   * called: lets the uploader read a large file in parallel ranges and read a range again after a failed call.
   * Every range must read the same version of the content (S3: `GetObject` pinned with `IfMatch`).
   */
  readonly openRange?:
    | ((range: ByteRange | undefined, signal?: AbortSignal) => Promise<Readable>)
    | undefined;
  /**
   * The record's place in its invocation's commit group: a small file then commits together with the other
   * records' small files in one call (Dropbox's `finish_batch_v2`) instead of one commit each.
   */
  readonly batch?: CommitGroupMember | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Commits the work its members queued, all at once, and settles each member's wait. */
export interface GroupCommitter {
  /** Commits everything queued so far; settles every queued item, and never rejects. */
  flush(): Promise<void>;
}

/**
 * One record of an invocation, as a member of the invocation's commit group (lib/commit-group.ts): the group
 * commits once every member still running has queued a commit or finished.
 */
export interface CommitGroupMember {
  /** Identifies the group (the same object for every member of one invocation). */
  readonly group: object;
  /** The member's place in the invocation's batch: commits are sent in this order. */
  readonly index: number;
  /** Members other than this one that have not finished yet. */
  readonly othersRunning: number;
  /**
   * What bounds the commits this member queues: the invocation's final deadline, later than the work deadline, so
   * that a commit queued before the work deadline is still sent when another member hangs until it.
   */
  readonly commitSignal?: AbortSignal | undefined;
  /**
   * The member queued work on `committer` and waits for it: resolves or rejects as `settled` does, which the
   * committer settles when the group flushes it.
   */
  wait<T>(committer: GroupCommitter, settled: Promise<T>): Promise<T>;
  /** Runs `work` (a large file's upload) without holding up the group's commit meanwhile. */
  runApart<T>(work: () => Promise<T>): Promise<T>;
}

/** Write access to the customer's Dropbox, as the sync function needs it. */
export interface DropboxTarget {
  /** `files/get_metadata`; `null` when nothing is at `path` (or a folder is). */
  getFileMetadata(path: string, signal?: AbortSignal): Promise<DropboxFile | null>;
  /** Streams one file into Dropbox and returns the committed file's metadata, its content hash verified. */
  upload(request: UploadRequest): Promise<DropboxFile>;
}

/** How sending one receipt ended. */
export type ReceiptSendResult =
  | { readonly sent: true; readonly eventId: string }
  | { readonly sent: false; readonly error: SyncError };

/** Sends receipts to the ticket system (EventBridge `PutEvents`, lib/aws/eventbridge-receipts.ts). */
export interface ReceiptSender {
  /**
   * Sends `receipts` in as few calls as the service's limits allow, retrying what failed, and settles each one:
   * sent, or the (transient) error that kept it from being sent. Never rejects; results are in `receipts`' order.
   */
  send(receipts: readonly Receipt[], signal?: AbortSignal): Promise<ReceiptSendResult[]>;
}

/** What {@link ExportLedger.claim} found. */
export type ClaimResult =
  | {
      readonly taken: true;
      /** The object's record as of the claim (`null` when it had none). */
      readonly record: LedgerRecord | null;
    }
  | {
      readonly taken: false;
      /** The other instance's live claim. */
      readonly holder: LedgerClaim;
    };

/**
 * The export ledger (lib/ledger.ts): one record per S3 object, the single source of truth for what was exported for
 * it and where. Writers serialise on a per-object claim, a lease taken with a conditional write.
 */
export interface ExportLedger {
  /** The object's record, read strongly consistent; `null` when it has none. */
  read(id: string, signal?: AbortSignal): Promise<LedgerRecord | null>;
  /**
   * Takes the object's claim for `owner` until `expiresAt` (epoch ms), unless another owner holds a claim that has
   * not expired at `now`. Creates the record (bucket and key only) when there is none.
   */
  claim(
    request: {
      readonly id: string;
      readonly bucket: string;
      readonly key: string;
      readonly owner: string;
      readonly expiresAt: number;
      readonly now: number;
    },
    signal?: AbortSignal,
  ): Promise<ClaimResult>;
  /**
   * Replaces the record with `record` and releases the claim, if `owner` still holds it and the record's sequencer
   * does not go back. Returns false (and writes nothing) otherwise.
   */
  settle(record: LedgerRecord, owner: string, signal?: AbortSignal): Promise<boolean>;
  /** Releases `owner`'s claim without writing anything else (nothing happens if it holds none). */
  release(id: string, owner: string, signal?: AbortSignal): Promise<void>;
  /**
   * Records which object a Dropbox file belongs to (lib/ledger.ts `fileOwnershipId`) once `objectId` holds it after
   * an upload: as its owner when it wrote the file (`wrote`), or found it in place while no object owned it; else as
   * one of the objects sharing it (Dropbox wrote nothing for its identical bytes at the path). Resolves with the
   * file's owner (`null` when none). Rejects with a transient `file-being-replaced` when the owner is replacing
   * that very revision (`file.rev`) with a new version: the bytes this object found would be gone.
   */
  ownFile(
    file: { readonly id: string; readonly rev: string },
    objectId: string,
    wrote: boolean,
    signal?: AbortSignal,
  ): Promise<string | null>;
  /** Who owns and who shares a Dropbox file; `null` when the ledger knows neither. */
  fileOwnership(fileId: string, signal?: AbortSignal): Promise<FileOwnership | null>;
  /**
   * Takes a Dropbox file for a new version of `objectId` that replaces its revision `rev` in place: only when no
   * other object owns or shares it (lib/ledger.ts `mayReplaceFile`). The object becomes its owner, and `rev` is
   * marked as being replaced until `until` (epoch ms), so that no object starts sharing it meanwhile. Resolves
   * false, writing nothing, when another object holds the file.
   */
  takeFile(
    fileId: string,
    objectId: string,
    rev: string,
    until: number,
    signal?: AbortSignal,
  ): Promise<boolean>;
  /**
   * `objectId` no longer holds the Dropbox file (its new version went elsewhere): it stops owning it (`owned`) or
   * sharing it, so that the objects left with the file may replace it with their own new versions.
   */
  leaveFile(fileId: string, objectId: string, owned: boolean, signal?: AbortSignal): Promise<void>;
}

/** What the ledger keeps of a receipt EventBridge accepted (attributes `receiptSent`, `receiptSequence`, …). */
export interface ReceiptMark {
  /** The state the receipt reported (lib/receipts.ts `receiptStateKey`). */
  readonly stateKey: string;
  /** Its `sequence`: the object's receipts accepted so far. */
  readonly sequence: number;
  /** The event id EventBridge gave it. */
  readonly eventId: string;
  /** When it was accepted, ISO 8601. */
  readonly sentAt: string;
}

/** The receipts' two attributes on the export ledger's items (lib/aws/dynamodb-receipts.ts). */
export interface ReceiptLedger {
  /**
   * Records that the object's receipt `mark` was accepted, unless its item already records that receipt or a later
   * one, or the object has no item. Returns whether it wrote.
   */
  markSent(id: string, mark: ReceiptMark, signal?: AbortSignal): Promise<boolean>;
}
