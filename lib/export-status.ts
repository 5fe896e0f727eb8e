/**
 * What the export ledger says about one object, in the words a person reads: where its file really is in Dropbox
 * (`Proof (1).pdf` when Dropbox renamed it), which S3 version went there and when, or the last skip, failure or block
 * with its reason. Pure: it reads a {@link LedgerRecord} (lib/ledger.ts) and calls nothing. The CLI's `status --key`
 * and `explain` print it; a ticket-system page can show {@link ExportStatus.summary} as it is.
 */
import type { LedgerFailure, LedgerRecord, LedgerState, LedgerTicket } from './ledger.ts';
import type { Reason } from './rules.ts';

/** The object's file in Dropbox, as the ledger last recorded it. */
export interface ExportedFile {
  /** Where the file is (`/Ticket Files/Proof (1).pdf`). */
  readonly path: string;
  /** The path the rules asked for; differs from `path` when Dropbox renamed the file or a person moved it. */
  readonly targetPath: string;
  /** `path` is not `targetPath`: Dropbox wrote the file under another name (another file held the name). */
  readonly renamed: boolean;
  /** Dropbox's file id (`id:…`), which follows the file when someone moves it. */
  readonly id: string;
  readonly rev: string;
  readonly contentHash: string;
  readonly size: number;
  /** The S3 version exported. */
  readonly versionId?: string | undefined;
  readonly eTag: string;
  /** When it was written to Dropbox (or found there), ISO 8601. */
  readonly exportedAt: string;
  /** Identical content was already at the path, put there by something the ledger does not know: nothing written. */
  readonly adopted: boolean;
  /** The exported version is the object's version the ledger knows as newest. */
  readonly current: boolean;
}

/** One object's export status. */
export interface ExportStatus {
  /** `s3://<bucket>/<key>`. */
  readonly id: string;
  /** The last settled state; `none` when the ledger has no record of the object. */
  readonly state: LedgerState | 'none';
  /** The reason of the last settled state (the skip's, the block's, or the rule that exported it). */
  readonly reason?: Reason | undefined;
  /** When the state was decided, ISO 8601. */
  readonly at?: string | undefined;
  /** The file in Dropbox, when a version of the object was exported (kept across later skips). */
  readonly file?: ExportedFile | undefined;
  /** The newest S3 version the ledger knows. */
  readonly object?:
    | { readonly versionId?: string | undefined; readonly eTag: string; readonly size: number }
    | undefined;
  /** The ticket, as the object's metadata and tags said when the state was decided. */
  readonly ticket?: LedgerTicket | undefined;
  /** A failure after the last settled state: the object's event is being retried (or waits in the DLQ). */
  readonly failure?: LedgerFailure | undefined;
  /** An instance is exporting the object right now, until this time (ISO 8601). */
  readonly inProgressUntil?: string | undefined;
  /** One or two sentences saying all of the above. */
  readonly summary: string;
}

function describeFile(file: ExportedFile): string {
  const version = file.versionId === undefined ? `ETag ${file.eTag}` : `version ${file.versionId}`;
  const renamed = file.renamed
    ? ` (asked for ${file.targetPath}; ${file.adopted ? 'identical content was there already' : 'Dropbox kept the file already there and renamed this one'})`
    : file.adopted
      ? ' (identical content was there already: nothing written)'
      : '';
  return `${file.path}${renamed}, ${version}, exported ${file.exportedAt}`;
}

/**
 * The export status of an object from its ledger record (`null`: the ledger has none).
 * @param id the object's ledger id, used when `record` is `null`
 * @param now epoch ms: a claim that expired before it is no export in progress
 */
export function describeExportState(
  record: LedgerRecord | null,
  id = record?.id ?? '',
  now = Date.now(),
): ExportStatus {
  if (record === null || (record.state === undefined && record.export === undefined)) {
    return {
      id,
      state: 'none',
      inProgressUntil: inProgress(record, now),
      summary:
        'No ledger record: no event of this object has been settled yet (it was never uploaded under the watched ' +
        'prefix, is still queued, or was uploaded before the export ledger existed).',
    };
  }
  const exported = record.export;
  const file: ExportedFile | undefined =
    exported === undefined
      ? undefined
      : {
          path: exported.file.pathDisplay,
          targetPath: exported.targetPath,
          renamed:
            exported.targetPath !== '' &&
            exported.file.pathDisplay.toLowerCase() !== exported.targetPath.toLowerCase(),
          id: exported.file.id,
          rev: exported.file.rev,
          contentHash: exported.file.contentHash,
          size: exported.file.size,
          versionId: exported.versionId,
          eTag: exported.eTag,
          exportedAt: exported.exportedAt,
          adopted: exported.adopted,
          current: record.object === undefined || record.object.eTag === exported.eTag,
        };
  const state = record.state ?? 'failed';
  const reason = record.reason;
  const because = reason === undefined ? '' : `: ${reason.message} (${reason.code})`;
  const since = record.stateAt === undefined ? '' : ` since ${record.stateAt}`;
  const parts: string[] = [];
  switch (state) {
    case 'exported':
      parts.push(file === undefined ? `Exported${because}.` : `In Dropbox: ${describeFile(file)}.`);
      break;
    case 'skipped':
      parts.push(`Not exported${since}${because}.`);
      break;
    case 'blocked':
      parts.push(
        `Blocked${since}${because}. The event waits in the dead-letter queue: fix the cause, then \`redrive\`.`,
      );
      break;
    case 'failed':
      parts.push(`Failing${since}${because}. The event is retried through the queue.`);
      break;
  }
  if (state !== 'exported' && file !== undefined) {
    parts.push(`An earlier export stays in Dropbox: ${describeFile(file)}.`);
  }
  const failure = record.failure;
  if (failure !== undefined) {
    parts.push(
      `Its last event failed at ${failure.at}: ${failure.message} (${failure.kind}, ${failure.code}); it is retried.`,
    );
  }
  const until = inProgress(record, now);
  if (until !== undefined) parts.push(`An export is in progress (claimed until ${until}).`);
  return {
    id: record.id === '' ? id : record.id,
    state,
    reason,
    at: record.stateAt,
    file,
    object:
      record.object === undefined
        ? undefined
        : { versionId: record.object.versionId, eTag: record.object.eTag, size: record.object.size },
    ticket: record.ticket,
    failure,
    inProgressUntil: until,
    summary: parts.join(' '),
  };
}

function inProgress(record: LedgerRecord | null, now: number): string | undefined {
  const claim = record?.claim;
  return claim === undefined || claim.expiresAt < now ? undefined : new Date(claim.expiresAt).toISOString();
}
