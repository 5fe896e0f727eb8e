/**
 * The sync of one S3 event into Dropbox (DESIGN.md "Flow", steps 1 to 6). Pure orchestration over the ports: the
 * function, the local stack and the CLI's tests run this same code with different adapters.
 */
import { SyncError } from './errors.ts';
import type {
  ByteRange,
  CommitGroupMember,
  DropboxFile,
  DropboxTarget,
  ObjectHead,
  ObjectStore,
} from './ports.ts';
import { evaluateExport, type Reason } from './rules.ts';
import type { S3ObjectEvent } from './s3-event.ts';
import type { DropboxCredentials, Settings } from './settings.ts';

/** What the sync needs from the outside world. */
export interface SyncDeps {
  readonly objects: ObjectStore;
  /** The current settings (cached by the caller). Throws `InvalidSettingsError` for a bad value. */
  readonly loadSettings: (signal?: AbortSignal) => Promise<Settings>;
  /** The Dropbox target for these credentials (reused across calls by the caller). */
  readonly dropboxFor: (credentials: DropboxCredentials) => DropboxTarget;
  /** The record's member of its invocation's commit group: small files then commit in one batch. */
  readonly batch?: CommitGroupMember | undefined;
}

/** How one S3 event ended, when it did not fail. */
export interface SyncOutcome {
  readonly bucket: string;
  readonly key: string;
  readonly eventName: string;
  readonly decision: 'exported' | 'skipped';
  readonly reason: Reason;
  /** Where the file is (or would go) in Dropbox; `null` when no path applies. */
  readonly dropboxPath: string | null;
  /** Object size in bytes, when the object was read. */
  readonly size?: number | undefined;
  /** Bytes uploaded to Dropbox (0 for a skip). */
  readonly bytes: number;
  readonly warnings: readonly Reason[];
}

/** How many times a version that changed during its own upload is exported again before giving up to its event. */
const MAX_VERSION_ROUNDS = 3;

/** Dropbox's `client_modified` form of a date: ISO 8601 in UTC without milliseconds. */
export function formatClientModified(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function skip(
  event: S3ObjectEvent,
  code: string,
  message: string,
  extra: Partial<Pick<SyncOutcome, 'dropboxPath' | 'size' | 'warnings'>> = {},
): SyncOutcome {
  return {
    bucket: event.bucket,
    key: event.key,
    eventName: event.eventName,
    decision: 'skipped',
    reason: { code, message },
    dropboxPath: extra.dropboxPath ?? null,
    size: extra.size,
    bytes: 0,
    warnings: extra.warnings ?? [],
  };
}

function sameExport(existing: DropboxFile, head: ObjectHead): boolean {
  return existing.size === head.size && existing.clientModified === formatClientModified(head.lastModified);
}

/**
 * Finds whether the file at the target path is an earlier export of this same object (its size and
 * `client_modified` match one of the object's earlier S3 versions): then the new version replaces exactly that
 * revision, even under `rename`. Anything else at the path is another file and is never replaced.
 */
async function earlierExportRev(
  deps: SyncDeps,
  event: S3ObjectEvent,
  existing: DropboxFile,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const versions = await deps.objects.listEarlierVersions(event.bucket, event.key, signal);
  const match = versions.find(
    (version) =>
      version.size === existing.size &&
      formatClientModified(version.lastModified) === existing.clientModified,
  );
  return match ? existing.rev : undefined;
}

/**
 * Syncs one S3 event: reads the object, applies the rules, and streams it into Dropbox when it qualifies.
 * Returns the outcome of an export or a skip; throws a {@link SyncError} for a failure (transient or account-wide),
 * which the caller turns into a retry.
 */
export async function syncObjectEvent(
  event: S3ObjectEvent,
  deps: SyncDeps,
  signal?: AbortSignal,
): Promise<SyncOutcome> {
  const settings = await deps.loadSettings(signal);
  let expectedETag = event.eTag;
  for (let round = 0; ; round += 1) {
    signal?.throwIfAborted();
    const head = await deps.objects.headObject(event.bucket, event.key, signal);
    if (!head)
      return skip(event, 'object-missing', 'The object no longer exists in S3 (deleted after its event)');
    if (expectedETag !== undefined && expectedETag !== '' && head.eTag !== expectedETag) {
      return skip(event, 'superseded', 'A newer version of the object exists; its own event exports it', {
        size: head.size,
      });
    }
    const tags = await deps.objects.getObjectTags(event.bucket, event.key, signal);
    if (!tags)
      return skip(event, 'object-missing', 'The object no longer exists in S3 (deleted after its event)');

    const decision = evaluateExport({ key: event.key, metadata: head.metadata, tags }, settings.rules);
    if (!decision.export || decision.dropboxPath === null) {
      return skip(event, decision.reason.code, decision.reason.message, {
        dropboxPath: decision.dropboxPath,
        size: head.size,
        warnings: decision.warnings,
      });
    }
    if (!settings.dropbox) {
      throw new SyncError('Dropbox is not connected: run `ticket-dropbox-sync connect`', {
        kind: 'account',
        code: 'dropbox-not-connected',
      });
    }
    const dropbox = deps.dropboxFor(settings.dropbox);
    const existing = await dropbox.getFileMetadata(decision.dropboxPath, signal);
    if (existing && sameExport(existing, head)) {
      return skip(
        event,
        'already-exported',
        'Dropbox already holds this version (same size and modified time)',
        {
          dropboxPath: existing.pathDisplay,
          size: head.size,
          warnings: decision.warnings,
        },
      );
    }
    const replaceRev =
      existing && settings.rules.onConflict === 'rename'
        ? await earlierExportRev(deps, event, existing, signal)
        : undefined;

    const pinned = head.eTag;
    // Every read is pinned to the version decided on: a large file is read in parallel ranges, each its own GetObject.
    const openRange = (range: ByteRange | undefined, rangeSignal?: AbortSignal) =>
      deps.objects.openObject(event.bucket, event.key, {
        eTag: pinned,
        range,
        signal: rangeSignal ?? signal,
      });
    const committed = await dropbox.upload({
      path: decision.dropboxPath,
      size: head.size,
      clientModified: head.lastModified,
      onConflict: settings.rules.onConflict,
      replaceRev,
      openRange,
      batch: deps.batch,
      signal,
    });

    // Past the deadline the file is committed all the same: it is reported exported rather than failed.
    const after = await deps.objects.headObject(event.bucket, event.key, signal).catch((error: unknown) => {
      if (signal?.aborted) return null;
      throw error;
    });
    if (after && after.eTag !== head.eTag && round + 1 < MAX_VERSION_ROUNDS) {
      // A newer version landed while this one was uploading: export it too, so the newest always wins.
      expectedETag = after.eTag;
      continue;
    }
    return {
      bucket: event.bucket,
      key: event.key,
      eventName: event.eventName,
      decision: 'exported',
      reason: decision.reason,
      dropboxPath: committed.pathDisplay,
      size: head.size,
      bytes: head.size,
      warnings: decision.warnings,
    };
  }
}
