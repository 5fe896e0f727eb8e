/**
 * The sync of one S3 event into Dropbox (DESIGN.md "Flow", steps 1 to 6). Pure orchestration over the ports: the
 * function, the local stack and the CLI's tests run this same code with different adapters.
 *
 * What was exported for an object, and where, is decided by the export ledger (lib/ledger.ts), never by what sits at
 * the target path: exports of one object are serialised by a claim in its ledger record, an event older than the
 * ledger's ends `superseded`, and the newest version always ends up in Dropbox.
 */
import { randomUUID } from 'node:crypto';
import { errorMessage, isAbortError, isSyncError, SyncError } from './errors.ts';
import { writeResolvingClash } from './folder-clash.ts';
import {
  isSameContent,
  isStateChange,
  type LedgerDropboxFile,
  type LedgerExport,
  type LedgerRecord,
  type LedgerState,
  type LedgerTicket,
  laterSequencer,
  ledgerId,
  normalizeSequencer,
  withStateTime,
} from './ledger.ts';
import type {
  ByteRange,
  CommitGroupMember,
  DropboxFile,
  DropboxTarget,
  ExportLedger,
  ObjectHead,
  ObjectStore,
} from './ports.ts';
import { sleep } from './retry.ts';
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
  /** The export ledger: what was exported for each object, and the per-object claim. */
  readonly ledger: ExportLedger;
  /** The record's member of its invocation's commit group: small files then commit in one batch. */
  readonly batch?: CommitGroupMember | undefined;
  /**
   * When the invocation ends (epoch ms): a claim on an object never lasts longer, so that an instance that dies
   * holding one blocks the object no longer than its own invocation could have. @default 15 minutes from now
   */
  readonly invocationEndsAt?: number | undefined;
  /** How long a record waits in the invocation for another instance's claim on its object. @default 15000 */
  readonly claimWaitMs?: number | undefined;
}

/** How one S3 event ended, when it did not fail: what a log line, a metric and a receipt need. */
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
  /** The S3 version decided on: the object's newest, which is not always the event's. */
  readonly versionId?: string | undefined;
  readonly eTag?: string | undefined;
  readonly ticket?: LedgerTicket | undefined;
  /** The object's file in Dropbox after this event: the one just written, or its earlier export found in place. */
  readonly dropboxFile?: LedgerDropboxFile | undefined;
  /** The state this event left in the ledger; absent when it wrote none (a superseded event). */
  readonly state?: LedgerState | undefined;
  /** The object's export state changed (a version exported, a first skip or a new reason): what receipts report. */
  readonly stateChanged: boolean;
  /** When the outcome was decided, ISO 8601. */
  readonly at: string;
  /**
   * The object's ledger record after this event: the one it settled, or the one it found (a superseded event). The
   * receipt the object is due is made from it (lib/receipts.ts).
   */
  readonly record?: LedgerRecord | undefined;
}

/** How many versions one event exports when newer ones keep landing during its uploads. */
const MAX_VERSION_ROUNDS = 3;
/** A claim, when the invocation's end is unknown: Lambda's longest timeout. */
const DEFAULT_CLAIM_MS = 15 * 60_000;
const DEFAULT_CLAIM_WAIT_MS = 15_000;
const CLAIM_POLL_FIRST_MS = 100;
const CLAIM_POLL_MAX_MS = 2_000;
/** What `GetObject` pinned to the decided version reports when that version is no longer there. */
const CHANGED_DURING_READ = new Set(['superseded', 'object-missing']);
/** Budget of a ledger write that records what was done, which may run after the work deadline fired. */
const RECORD_WRITE_TIMEOUT_MS = 3_000;

/** Dropbox's `client_modified` form of a date: ISO 8601 in UTC without milliseconds. */
export function formatClientModified(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** The per-event context every step shares. */
interface EventContext {
  readonly event: S3ObjectEvent;
  readonly deps: SyncDeps;
  readonly signal: AbortSignal | undefined;
  /** Bounds the ledger writes that record what was done (the invocation's final deadline), past `signal`. */
  readonly recordSignal: AbortSignal | undefined;
  readonly id: string;
  readonly owner: string;
  readonly claimExpiresAt: number;
  readonly eventSequencer: string | undefined;
}

/** What one round decided, with the record it settled. */
interface RoundResult {
  readonly outcome: SyncOutcome;
  /** The version uploaded in this round, when one was. */
  readonly uploaded?: ObjectHead | undefined;
}

function toLedgerFile(file: DropboxFile): LedgerDropboxFile {
  return {
    id: file.id,
    rev: file.rev,
    pathDisplay: file.pathDisplay,
    contentHash: file.contentHash,
    size: file.size,
  };
}

function describeVersion(head: ObjectHead): LedgerRecord['object'] {
  return {
    versionId: head.versionId,
    eTag: head.eTag,
    size: head.size,
    lastModified: head.lastModified.toISOString(),
  };
}

function buildOutcome(
  context: EventContext,
  fields: Omit<SyncOutcome, 'bucket' | 'key' | 'eventName' | 'at' | 'warnings' | 'bytes' | 'stateChanged'> &
    Partial<Pick<SyncOutcome, 'warnings' | 'bytes' | 'stateChanged'>>,
): SyncOutcome {
  return {
    bucket: context.event.bucket,
    key: context.event.key,
    eventName: context.event.eventName,
    warnings: [],
    bytes: 0,
    stateChanged: false,
    at: new Date().toISOString(),
    ...fields,
  };
}

/**
 * Takes the object's claim, waiting in the invocation while another instance holds it (briefly: small files are
 * done in a second), then giving the record back to the queue with a short, growing delay that never passes the
 * claim's expiry (lib/sqs-record.ts `retryDelaySeconds`): back seconds after a holder that finished, and never in
 * the DLQ behind a long upload. The wait runs apart from the commit group, which therefore commits the others'
 * small files (the claim holder's among them) meanwhile.
 */
async function claimObject(context: EventContext): Promise<LedgerRecord | null> {
  const { deps, signal, event } = context;
  const request = () => ({
    id: context.id,
    bucket: event.bucket,
    key: event.key,
    owner: context.owner,
    expiresAt: context.claimExpiresAt,
    now: Date.now(),
  });
  const first = await deps.ledger.claim(request(), signal);
  if (first.taken) return first.record;
  const waitUntil = Math.min(
    Date.now() + (deps.claimWaitMs ?? DEFAULT_CLAIM_WAIT_MS),
    context.claimExpiresAt,
  );
  const wait = async (): Promise<LedgerRecord | null> => {
    let holder = first.holder;
    for (let delay = CLAIM_POLL_FIRST_MS; Date.now() + delay <= waitUntil; ) {
      await sleep(delay, signal);
      const next = await deps.ledger.claim(request(), signal);
      if (next.taken) return next.record;
      holder = next.holder;
      delay = Math.min(delay * 2, CLAIM_POLL_MAX_MS);
    }
    throw new SyncError(
      `another instance is exporting s3://${event.bucket}/${event.key}; this event is checked again once its claim ends`,
      {
        kind: 'transient',
        code: 'export-in-progress',
        // The claim is usually released long before it expires: back soon (lib/sqs-record.ts), never later.
        retryByMs: Math.max(1_000, holder.expiresAt - Date.now() + 1_000),
      },
    );
  };
  return deps.batch === undefined ? wait() : deps.batch.runApart(wait);
}

/** A refusal the rules foresaw (a name Dropbox does not take): a skip with that reason, never retried. */
async function settlePermanent(
  context: EventContext,
  previous: LedgerRecord | null,
  error: SyncError,
): Promise<SyncOutcome> {
  const { event } = context;
  const next = withStateTime(previous, {
    ...(previous ?? { id: context.id, bucket: event.bucket, key: event.key }),
    sequencer: laterSequencer(context.eventSequencer, previous?.sequencer),
    claim: undefined,
    failure: undefined,
    state: 'skipped',
    reason: { code: error.code, message: error.message },
  });
  await settle(context, next);
  return buildOutcome(context, {
    decision: 'skipped',
    reason: next.reason as Reason,
    dropboxPath: null,
    state: next.state,
    stateChanged: isStateChange(previous, next),
    record: next,
  });
}

/** The signal of a ledger write that records work already done: it may run past the work deadline, briefly. */
function recordingSignal(context: EventContext): AbortSignal {
  const budget = AbortSignal.timeout(RECORD_WRITE_TIMEOUT_MS);
  return context.recordSignal === undefined ? budget : AbortSignal.any([context.recordSignal, budget]);
}

/** Writes `next` and releases the claim; a lost claim fails the record (transient) rather than overwrite a newer one. */
async function settle(context: EventContext, next: LedgerRecord): Promise<void> {
  // A file committed at the work deadline is recorded all the same: otherwise the ledger would not know it.
  const written = await context.deps.ledger.settle(next, context.owner, recordingSignal(context));
  if (!written) {
    throw new SyncError(
      `the ledger record of ${context.id} changed under this instance's claim (the claim expired); tried again`,
      { kind: 'transient', code: 'ledger-claim-lost' },
    );
  }
}

/**
 * Records a failure after the claim was taken, and releases the claim. The state stays what it was (an exported
 * file stays exported while a tag change is retried); `failed` is written only while nothing has settled, and a
 * failure of kind `blocked` (a Dropbox refusal the rules did not foresee) becomes the state.
 */
async function recordFailure(
  context: EventContext,
  previous: LedgerRecord | null,
  error: unknown,
): Promise<void> {
  const at = new Date().toISOString();
  const kind = isSyncError(error) ? error.kind : isAbortError(error) ? 'aborted' : 'transient';
  const code = isSyncError(error) ? error.code : isAbortError(error) ? 'deadline' : 'unexpected-error';
  const failure = { kind, code, message: errorMessage(error), at };
  const { event } = context;
  const blocked = kind === 'blocked';
  const record: LedgerRecord = {
    ...(previous ?? { id: context.id, bucket: event.bucket, key: event.key }),
    claim: undefined,
    ...(blocked
      ? { state: 'blocked', reason: { code, message: failure.message }, failure: undefined }
      : previous?.state === undefined || previous.state === 'failed'
        ? { state: 'failed', reason: { code, message: failure.message }, failure: undefined }
        : { failure }),
  };
  const next = withStateTime(previous, record, new Date(at));
  // The record's own signal may be what failed it (the deadline): the write gets a budget of its own.
  const signal = recordingSignal(context);
  try {
    const written = await context.deps.ledger.settle(next, context.owner, signal);
    if (!written) await context.deps.ledger.release(context.id, context.owner, signal);
  } catch (writeError) {
    // The record fails anyway and comes back; its claim expires with the invocation at the latest.
    if (!(writeError instanceof Error)) throw writeError;
  }
}

/**
 * Syncs one S3 event: claims the object in the ledger, reads it, applies the rules, and streams its newest version
 * into Dropbox unless the ledger shows it there already. Returns the outcome of an export or a skip; throws a
 * {@link SyncError} for a failure (transient or account-wide), which the caller turns into a retry. `signal` stops
 * the work (the invocation's work deadline); `recordSignal` bounds the ledger writes that record work already done
 * (its final deadline).
 */
export async function syncObjectEvent(
  event: S3ObjectEvent,
  deps: SyncDeps,
  signal?: AbortSignal,
  recordSignal?: AbortSignal,
): Promise<SyncOutcome> {
  const settings = await deps.loadSettings(signal);
  const context: EventContext = {
    event,
    deps,
    signal,
    recordSignal,
    id: ledgerId(event.bucket, event.key),
    owner: randomUUID(),
    claimExpiresAt: deps.invocationEndsAt ?? Date.now() + DEFAULT_CLAIM_MS,
    eventSequencer: normalizeSequencer(event.sequencer),
  };
  let previous = await claimObject(context);
  for (let round = 0; ; round += 1) {
    let result: RoundResult;
    try {
      result = await runRound(context, settings, previous, round);
    } catch (error) {
      // The object changed (or went) while it was read: decide again, under the same claim, for what is there now.
      if (isSyncError(error) && CHANGED_DURING_READ.has(error.code) && round + 1 < MAX_VERSION_ROUNDS)
        continue;
      if (isSyncError(error) && error.kind === 'permanent') return settlePermanent(context, previous, error);
      await recordFailure(context, previous, error);
      throw error;
    }
    const { uploaded } = result;
    if (uploaded === undefined || round + 1 >= MAX_VERSION_ROUNDS) return result.outcome;
    // A newer version may have landed during the upload: export it too, so the newest always wins. The claim is
    // free meanwhile; when another instance took it, that instance exports the newest version.
    // Past the deadline the file is committed and recorded all the same: it is reported exported, not failed.
    const after = await deps.objects.headObject(event.bucket, event.key, signal).catch((error: unknown) => {
      if (signal?.aborted) return null;
      throw error;
    });
    if (after === null || after.eTag === uploaded.eTag) return result.outcome;
    const again = await deps.ledger.claim(
      {
        id: context.id,
        bucket: event.bucket,
        key: event.key,
        owner: context.owner,
        expiresAt: context.claimExpiresAt,
        now: Date.now(),
      },
      signal,
    );
    if (!again.taken) return result.outcome;
    previous = again.record;
  }
}

/** One decision under the claim: read the object, decide by the rules and the ledger, write, settle. */
async function runRound(
  context: EventContext,
  settings: Settings,
  previous: LedgerRecord | null,
  round: number,
): Promise<RoundResult> {
  const { event, deps, signal } = context;
  const head = await deps.objects.headObject(event.bucket, event.key, signal);
  const tags = head === null ? null : await deps.objects.getObjectTags(event.bucket, event.key, signal);
  const eventIsOlder =
    context.eventSequencer !== undefined &&
    previous?.sequencer !== undefined &&
    context.eventSequencer < previous.sequencer;
  const sequencer = laterSequencer(context.eventSequencer, previous?.sequencer);
  const base: LedgerRecord = {
    ...(previous ?? { id: context.id, bucket: event.bucket, key: event.key }),
    sequencer,
    claim: undefined,
    failure: undefined,
  };

  if (head === null || tags === null) {
    if (eventIsOlder) return superseded(context, previous, 'The object was deleted after a newer event');
    const next = withStateTime(previous, {
      ...base,
      state: 'skipped',
      reason: {
        code: 'object-missing',
        message: 'The object no longer exists in S3 (deleted after its event)',
      },
    });
    await settle(context, next);
    return {
      outcome: buildOutcome(context, {
        decision: 'skipped',
        reason: next.reason as Reason,
        dropboxPath: null,
        state: next.state,
        stateChanged: isStateChange(previous, next),
        record: next,
      }),
    };
  }

  // An event older than the ledger's, or about a version that is no longer the newest, has nothing to do when the
  // ledger already settled the newest version; otherwise this event exports the newest version itself.
  const eventIsStale =
    round === 0 &&
    ((event.eTag !== undefined && event.eTag !== '' && event.eTag !== head.eTag) ||
      (event.versionId !== undefined && head.versionId !== undefined && event.versionId !== head.versionId));
  const settledNewest =
    previous !== null &&
    isSameContent(previous.object, head) &&
    (previous.state === 'exported' || previous.state === 'skipped' || previous.state === 'blocked');
  if ((eventIsOlder || eventIsStale) && settledNewest) {
    return superseded(
      context,
      previous,
      'A newer version of the object exists and the ledger has settled it',
    );
  }

  const decision = evaluateExport({ key: event.key, metadata: head.metadata, tags }, settings.rules);
  const file = decision.file;
  const decided: LedgerRecord = {
    ...base,
    object: describeVersion(head),
    ticket:
      file === undefined
        ? undefined
        : { id: file.ticketId, type: file.ticketType, fileStatus: file.fileStatus },
  };
  const common = {
    size: head.size,
    versionId: head.versionId,
    eTag: head.eTag,
    ticket: decided.ticket,
    warnings: decision.warnings,
  };
  if (!decision.export || decision.dropboxPath === null) {
    const next = withStateTime(previous, { ...decided, state: 'skipped', reason: decision.reason });
    await settle(context, next);
    return {
      outcome: buildOutcome(context, {
        ...common,
        decision: 'skipped',
        reason: decision.reason,
        dropboxPath: decision.dropboxPath,
        dropboxFile: previous?.export?.file,
        state: next.state,
        stateChanged: isStateChange(previous, next),
        record: next,
      }),
    };
  }
  if (!settings.dropbox) {
    throw new SyncError('Dropbox is not connected: run `ticket-dropbox-sync connect`', {
      kind: 'account',
      code: 'dropbox-not-connected',
    });
  }
  const dropbox = deps.dropboxFor(settings.dropbox);
  const planContext: PlanContext = {
    id: context.id,
    signal,
    // The file is taken in the ledger before it is replaced, so that no other object starts sharing it meanwhile.
    mayReplace: (fileId, rev) =>
      deps.ledger.takeFile(fileId, context.id, rev, context.claimExpiresAt, signal),
  };
  const plan = await planWrite(planContext, previous?.export, head, decision.dropboxPath, dropbox);

  if (plan.kind === 'deleted') {
    // A person deleted the export of this very version: a tag change, a redelivery or a backfill respects that.
    const next = withStateTime(previous, {
      ...decided,
      state: 'skipped',
      reason: {
        code: 'deleted-in-dropbox',
        message:
          'The export of this version was deleted in Dropbox; it is not put back (a new version of the object is exported again)',
      },
    });
    await settle(context, next);
    return {
      outcome: buildOutcome(context, {
        ...common,
        decision: 'skipped',
        reason: next.reason as Reason,
        dropboxPath: null,
        state: next.state,
        stateChanged: isStateChange(previous, next),
        record: next,
      }),
    };
  }

  if (plan.kind === 'in-place') {
    const exported = previous?.export as LedgerExport;
    const { current, unchanged } = plan;
    // The file follows a move (found by id); an unchanged file's revision is the one a new version replaces.
    const kept: LedgerExport = {
      ...exported,
      file: unchanged ? toLedgerFile(current) : { ...exported.file, pathDisplay: current.pathDisplay },
    };
    const next = withStateTime(previous, {
      ...decided,
      state: 'exported',
      reason: decision.reason,
      export: kept,
    });
    await settle(context, next);
    const reason: Reason = unchanged
      ? {
          code: 'already-exported',
          message: `Dropbox already holds this version: ${current.pathDisplay} (the ledger's file, found by its id)`,
        }
      : {
          code: 'edited-in-dropbox',
          message: `This version was exported to ${current.pathDisplay}, which was changed in Dropbox since; it is left as it is`,
        };
    return {
      outcome: buildOutcome(context, {
        ...common,
        decision: 'skipped',
        reason,
        dropboxPath: current.pathDisplay,
        dropboxFile: kept.file,
        state: next.state,
        stateChanged: isStateChange(previous, next),
        record: next,
      }),
    };
  }

  const onConflict = settings.rules.onConflict;
  // Every read is pinned to the version decided on: a large file is read in parallel ranges, each its own GetObject.
  const openRange = (range: ByteRange | undefined, rangeSignal?: AbortSignal) =>
    deps.objects.openObject(event.bucket, event.key, {
      eTag: head.eTag,
      range,
      signal: rangeSignal ?? signal,
    });
  // A file holding an alias folder's name gets the folder a suffixed name instead of blocking it (lib/folder-clash.ts).
  const { result: committed, clash } = await writeResolvingClash(
    dropbox,
    plan.path,
    {
      baseFolder: settings.rules.baseFolder,
      aliasFolders: !settings.rules.exportToSingleFolder && plan.replaceRev === undefined,
      signal,
    },
    (path) =>
      dropbox.upload({
        path,
        size: head.size,
        clientModified: head.lastModified,
        onConflict,
        replaceRev: plan.replaceRev,
        openRange,
        batch: deps.batch,
        signal,
      }),
  );
  const existing = clash === undefined ? plan.existing : (clash.existing as DropboxFile | null);
  // Dropbox writes nothing for identical content at the target path: the file found there may be another object's
  // (the same bytes uploaded to two tickets), which neither object's later versions may then replace. A file new to
  // this object is recorded as its own when it wrote it, or when no object owns it yet (an earlier deployment's);
  // else this object shares it.
  let adopted = false;
  if (committed.id !== previous?.export?.file.id) {
    const wrote = existing === null || committed.id !== existing.id || committed.rev !== existing.rev;
    const owner = await deps.ledger.ownFile(committed, context.id, wrote, recordingSignal(context));
    adopted = owner !== context.id;
  }
  const exported: LedgerExport = {
    versionId: head.versionId,
    eTag: head.eTag,
    exportedAt: new Date().toISOString(),
    targetPath: decision.dropboxPath,
    adopted,
    file: toLedgerFile(committed),
  };
  const next = withStateTime(previous, {
    ...decided,
    state: 'exported',
    reason: decision.reason,
    export: exported,
  });
  await settle(context, next);
  if (plan.leaves !== undefined && plan.leaves.id !== committed.id) await leaveFile(context, plan.leaves);
  return {
    uploaded: head,
    outcome: buildOutcome(context, {
      ...common,
      warnings: clash === undefined ? common.warnings : [...common.warnings, clash.warning],
      decision: 'exported',
      reason: decision.reason,
      dropboxPath: committed.pathDisplay,
      bytes: head.size,
      dropboxFile: exported.file,
      state: next.state,
      stateChanged: isStateChange(previous, next),
      record: next,
    }),
  };
}

/**
 * The object's new version went beside the file it shared: the objects left with that file may now replace it with
 * their own new versions. Not doing so loses nothing (their new versions go beside it too), so a failure is let go.
 */
async function leaveFile(context: EventContext, file: { id: string; owned: boolean }): Promise<void> {
  try {
    await context.deps.ledger.leaveFile(file.id, context.id, file.owned, recordingSignal(context));
  } catch (error) {
    if (!(error instanceof Error)) throw error;
  }
}

/** Releases the claim of an event that has nothing left to do. */
async function superseded(
  context: EventContext,
  previous: LedgerRecord | null,
  why: string,
): Promise<RoundResult> {
  await context.deps.ledger.release(context.id, context.owner, recordingSignal(context));
  return {
    outcome: buildOutcome(context, {
      decision: 'skipped',
      reason: { code: 'superseded', message: `${why}: this event changes nothing` },
      dropboxPath: previous?.export?.file.pathDisplay ?? null,
      size: previous?.object?.size,
      versionId: previous?.object?.versionId,
      eTag: previous?.object?.eTag,
      record: previous ?? undefined,
    }),
  };
}

/** What planning a write needs: the object's ledger id, the work's signal, and whether it may replace a file. */
export interface PlanContext {
  readonly id: string;
  readonly signal: AbortSignal | undefined;
  /**
   * Whether a new version of the object may replace the Dropbox file `fileId` (at revision `rev`) in place: no other
   * object owns or shares it (lib/ledger.ts `mayReplaceFile`). The sync takes the file in the ledger
   * (`ExportLedger.takeFile`); `explain` only reads its ownership.
   */
  readonly mayReplace: (fileId: string, rev: string) => Promise<boolean>;
}

/** Where and how a version goes, given the object's last export. */
export type WritePlan =
  /** The export of this content is in Dropbox (`unchanged`: as written, possibly moved; else edited since). */
  | { readonly kind: 'in-place'; readonly current: DropboxFile; readonly unchanged: boolean }
  /** The export of this content was deleted in Dropbox. */
  | { readonly kind: 'deleted' }
  /**
   * Upload to `path`: replacing exactly `replaceRev` (the object's own earlier export, wherever it is now), or
   * by the `on-conflict` setting, `existing` being what sat at the path before.
   */
  | {
      readonly kind: 'upload';
      readonly path: string;
      readonly replaceRev?: string | undefined;
      readonly existing: DropboxFile | null;
      /**
       * The object's earlier export, unchanged, which other objects share (their identical bytes): the new version
       * goes beside it, and the object then leaves it to them (`owned`: it was the file's owner).
       */
      readonly leaves?: { readonly id: string; readonly owned: boolean } | undefined;
    };

/**
 * Decides where and how `head` goes, given the object's last export in the ledger: the sync's own decision, which
 * the CLI's `explain` also shows. Reads Dropbox (`files/get_metadata` by the ledger's file id, then at the target
 * path when it uploads there) and, before a new version replaces a file, asks `mayReplace` (the file's owners in
 * the ledger).
 */
export async function planWrite(
  context: PlanContext,
  exported: LedgerExport | undefined,
  head: ObjectHead,
  targetPath: string,
  dropbox: DropboxTarget,
): Promise<WritePlan> {
  const { signal } = context;
  if (exported !== undefined) {
    // By id (`files/get_metadata` takes `id:…` as a path): found wherever a person moved it, and not found once
    // deleted. Its rev, or its content hash after a restore, tells whether it is still what was written.
    const current = await dropbox.getFileMetadata(exported.file.id, signal);
    const unchanged =
      current !== null &&
      (current.rev === exported.file.rev || current.contentHash === exported.file.contentHash);
    if (isSameContent(exported, head)) {
      return current === null ? { kind: 'deleted' } : { kind: 'in-place', current, unchanged };
    }
    if (current !== null && unchanged) {
      if (await context.mayReplace(current.id, current.rev)) {
        // A new version replaces the object's own export (mode `update`), under `rename` too: a file changed
        // since is a conflict, never overwritten.
        return { kind: 'upload', path: current.pathDisplay, replaceRev: current.rev, existing: current };
      }
      // Other objects hold the file (identical bytes uploaded to two tickets): the new version goes beside it.
      return {
        kind: 'upload',
        path: targetPath,
        existing: await dropbox.getFileMetadata(targetPath, signal),
        leaves: { id: current.id, owned: !exported.adopted },
      };
    }
  }
  return { kind: 'upload', path: targetPath, existing: await dropbox.getFileMetadata(targetPath, signal) };
}
