/**
 * `explain s3://BUCKET/KEY`: why a file did or did not go to Dropbox. Reads the object's metadata and tags, runs
 * the function's own `decideExport` on the stored settings, reads the object's record in the export ledger (where
 * its file really went, which version, when, or its last skip, failure or block), and asks Dropbox what it holds
 * now: the ledger's file (by its id) and the file at the decision's path. What an event would do next is the sync's
 * own decision (`planWrite`), never a guess from size and modified time.
 */
import { HeadBucketCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createS3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { isDropboxApiError } from '../../lib/dropbox/errors.ts';
import { errorMessage } from '../../lib/errors.ts';
import { describeExportState, type ExportStatus } from '../../lib/export-status.ts';
import { type LedgerRecord, ledgerId, mayReplaceFile } from '../../lib/ledger.ts';
import type { DropboxFile, DropboxTarget, ExportLedger, ObjectHead } from '../../lib/ports.ts';
import { decideExport, type ExportDecision } from '../../lib/rules.ts';
import {
  InvalidSettingsError,
  type OnConflict,
  parseRuleSettings,
  parseSettings,
} from '../../lib/settings.ts';
import { planWrite, type WritePlan } from '../../lib/sync.ts';
import type { S3Address } from '../arguments.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_KEY_PREFIX } from '../defaults.ts';
import { openDropbox } from '../dropbox.ts';
import { CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { describeExportStatus } from '../export-status-lines.ts';
import { formatBytes } from '../format.ts';
import { type CliIo, printJson, printLines } from '../io.ts';
import { openLedger, readLedgerRecord } from '../ledger.ts';

/** What an event of the object would do now, by the sync's own decision. */
export type NextAction =
  /** The ledger's export of this version is in Dropbox as written: nothing is written. */
  | 'already-exported'
  /** This version's export was changed in Dropbox since: left as it is. */
  | 'edited-in-dropbox'
  /** This version's export was deleted in Dropbox: not put back. */
  | 'deleted-in-dropbox'
  /** A newer version replaces the object's own earlier export (write mode `update`). */
  | 'replace-own-export'
  /** Nothing at the path: the file is written there. */
  | 'write'
  /** Another file at the path: kept, and this one lands beside it under a renamed name (unless identical). */
  | 'write-beside'
  /** Another file at the path: replaced (`on-conflict overwrite`). */
  | 'overwrite';

/** What Dropbox holds for the object. */
export type DropboxLookup =
  | { readonly looked: false; readonly why: string }
  | {
      readonly looked: true;
      /** What is at the decision's path now (`null`: nothing); absent when the rules skip the file. */
      readonly file?: DropboxFile | null | undefined;
      /** The ledger's file of the object, looked up by its id (`null`: gone); absent when nothing was exported. */
      readonly exportedFile?: DropboxFile | null | undefined;
      /** What an event would do now; absent when the rules skip the file. */
      readonly next?: { readonly action: NextAction; readonly message: string } | undefined;
    }
  | { readonly looked: true; readonly error: { readonly code: string; readonly message: string } };

/** What the ledger says about the object. */
export type LedgerView =
  | { readonly read: true; readonly status: ExportStatus }
  | { readonly read: false; readonly why: string };

/** Everything `explain` reports. */
export interface Explanation {
  readonly object: {
    readonly bucket: string;
    readonly key: string;
    readonly size: number;
    readonly eTag: string;
    readonly versionId?: string | undefined;
    readonly lastModified: string;
    readonly metadata: Readonly<Record<string, string>>;
    readonly tags: Readonly<Record<string, string>>;
  };
  readonly decision: Pick<ExportDecision, 'export' | 'reason' | 'dropboxPath' | 'warnings'>;
  /** The `on-conflict` setting in force: what an export does to a different file at the path. */
  readonly onConflict: OnConflict;
  /** The object's record in the export ledger. */
  readonly ledger: LedgerView;
  readonly dropbox: DropboxLookup;
  /** Facts around the decision (the key outside the watched prefix, another bucket). */
  readonly notes: readonly string[];
}

/** A Dropbox target that only looks, each path or id once (the sync's `planWrite` and the display share them). */
function lookingOnly(client: Pick<DropboxTarget, 'getFileMetadata'>): DropboxTarget {
  const seen = new Map<string, Promise<DropboxFile | null>>();
  return {
    getFileMetadata(path, signal) {
      const key = path.toLowerCase();
      let found = seen.get(key);
      if (found === undefined) {
        found = client.getFileMetadata(path, signal);
        seen.set(key, found);
      }
      return found;
    },
    upload() {
      return Promise.reject(new Error('explain never writes to Dropbox'));
    },
  };
}

/** The sync's plan in words (exported for its test). */
export function describePlan(
  plan: WritePlan,
  onConflict: OnConflict,
): { action: NextAction; message: string } {
  switch (plan.kind) {
    case 'in-place':
      return plan.unchanged
        ? {
            action: 'already-exported',
            message: `already exported: Dropbox holds this version at ${plan.current.pathDisplay} (the ledger's file, found by its id); an event writes nothing`,
          }
        : {
            action: 'edited-in-dropbox',
            message: `this version was exported to ${plan.current.pathDisplay}, which was changed in Dropbox since; an event leaves it as it is`,
          };
    case 'deleted':
      return {
        action: 'deleted-in-dropbox',
        message:
          "this version's export was deleted in Dropbox; a tag change, a redelivery or a backfill does not put it back (a new version of the object is exported again)",
      };
    case 'upload':
      if (plan.replaceRev !== undefined) {
        return {
          action: 'replace-own-export',
          message: `a version newer than the ledger's export: an event replaces this object's own earlier export at ${plan.path} (rev ${plan.replaceRev})`,
        };
      }
      if (plan.existing === null) {
        return { action: 'write', message: `nothing at ${plan.path}: an event writes the file there` };
      }
      if (plan.leaves !== undefined && onConflict === 'overwrite') {
        return {
          action: 'overwrite',
          message: `a version newer than the ledger's export, which another object shares (its identical bytes): an event replaces the file at ${plan.path} (on-conflict overwrite)`,
        };
      }
      if (plan.leaves !== undefined) {
        return {
          action: 'write-beside',
          message: `a version newer than the ledger's export, which another object shares (its identical bytes): an event keeps that file and writes this version beside it at ${plan.path} under a renamed name`,
        };
      }
      return onConflict === 'overwrite'
        ? {
            action: 'overwrite',
            message: `another file is at ${plan.path}: an event replaces it (on-conflict overwrite)`,
          }
        : {
            action: 'write-beside',
            message: `another file is at ${plan.path}: an event keeps it and writes this one beside it under a renamed name, unless it holds identical content (then Dropbox writes nothing)`,
          };
  }
}

/** What `explain` reads of the ledger: the object's record, and the ledger itself (file owners) when there is one. */
interface LedgerRead {
  readonly id: string;
  readonly record: LedgerRecord | null;
  readonly ledger: Pick<ExportLedger, 'fileOwnership'> | undefined;
}

/** Stands for the ledger of a deployment without one: it has no record, so no export and no file owner either. */
const NO_LEDGER: Pick<ExportLedger, 'fileOwnership'> = { fileOwnership: () => Promise.resolve(null) };

async function lookUpDropbox(
  context: CommandContext,
  raw: Readonly<Record<string, string | undefined>>,
  decision: ExportDecision,
  read: LedgerRead,
  head: ObjectHead,
  onConflict: OnConflict,
): Promise<DropboxLookup> {
  const { id, record } = read;
  const ledger = read.ledger ?? NO_LEDGER;
  const exported = record?.export;
  const path = decision.export ? decision.dropboxPath : null;
  if (path === null && exported === undefined) {
    return { looked: false, why: 'the file is not exported, and the ledger holds no earlier export' };
  }
  let credentials: ReturnType<typeof parseSettings>['dropbox'];
  try {
    credentials = parseSettings(raw).dropbox;
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      return { looked: false, why: 'the Dropbox settings are invalid (run `config validate`)' };
    }
    throw error;
  }
  if (credentials === undefined) return { looked: false, why: 'Dropbox is not connected (run `connect`)' };
  for (const secret of [credentials.refreshToken, credentials.appSecret]) {
    if (secret !== undefined) context.io.addSecret(secret);
  }
  try {
    const dropbox = lookingOnly(openDropbox(credentials, await context.deployment()));
    const [exportedFile, file] = await Promise.all([
      exported === undefined ? undefined : dropbox.getFileMetadata(exported.file.id),
      path === null ? undefined : dropbox.getFileMetadata(path),
    ]);
    const next =
      path === null
        ? undefined
        : describePlan(
            await planWrite(
              {
                id,
                signal: undefined,
                // The sync takes the file at this point; explain only reads who holds it.
                mayReplace: async (fileId) => mayReplaceFile(await ledger.fileOwnership(fileId), id),
              },
              exported,
              head,
              path,
              dropbox,
            ),
            onConflict,
          );
    return { looked: true, file, exportedFile, next };
  } catch (error) {
    if (isDropboxApiError(error))
      return { looked: true, error: { code: error.code, message: error.message } };
    return { looked: true, error: { code: 'error', message: errorMessage(error) } };
  }
}

async function readLedgerView(
  context: CommandContext,
  id: string,
): Promise<{ view: LedgerView; read: LedgerRead }> {
  const ledger = await openLedger(context);
  if (ledger === undefined) {
    return {
      view: { read: false, why: 'the deployment names no export ledger (no LedgerTableName output)' },
      read: { id, record: null, ledger },
    };
  }
  const record = await readLedgerRecord(ledger, id);
  return { view: { read: true, status: describeExportState(record, id) }, read: { id, record, ledger } };
}

/**
 * Why `HeadObject` answered 404: the bucket itself is missing, or only the key. A HEAD answer has no body, so the
 * SDK cannot tell `NoSuchBucket` from `NoSuchKey`; `HeadBucket` does (404 for a bucket that does not exist).
 */
async function describeMissingObject(
  s3: S3Client,
  address: S3Address,
  deploymentBucket: string,
): Promise<CommandFailedError> {
  const url = `s3://${address.bucket}/${address.key}`;
  let bucketMissing = false;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: address.bucket }));
  } catch (error) {
    if (!(error instanceof S3ServiceException)) throw error;
    bucketMissing = error.$metadata.httpStatusCode === 404;
  }
  if (!bucketMissing)
    return new CommandFailedError(`${url} does not exist: the bucket has no such key (404)`);
  const hint = address.bucket === deploymentBucket ? '' : `; the deployment's bucket is ${deploymentBucket}`;
  return new CommandFailedError(
    `${url} does not exist: the bucket ${address.bucket} does not exist (404)${hint}`,
  );
}

/** Explains the decision for one object. */
export async function explainObject(context: CommandContext, address: S3Address): Promise<Explanation> {
  const deployment = await context.deployment();
  const clients = await context.clients();
  const objects = createS3ObjectStore(clients.s3);
  const id = ledgerId(address.bucket, address.key);
  const [head, tags, raw, ledgerView] = await Promise.all([
    objects.headObject(address.bucket, address.key),
    objects.getObjectTags(address.bucket, address.key),
    loadRawSettings(clients.ssm, deployment.outputs.settingsPath),
    readLedgerView(context, id),
  ]);
  if (head === null) {
    throw await describeMissingObject(clients.s3, address, deployment.outputs.bucketName);
  }
  let decision: ExportDecision;
  try {
    decision = decideExport({ key: address.key, metadata: head.metadata, tags: tags ?? {} }, raw);
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      const problems = error.problems.map((problem) => `  ${problem.parameter}: ${problem.message}`);
      throw new CommandFailedError(
        `The rule settings are invalid, so the function fails every file until they are fixed:\n${problems.join('\n')}`,
        { cause: error },
      );
    }
    throw error;
  }
  const notes: string[] = [];
  if (address.bucket !== deployment.outputs.bucketName) {
    notes.push(`The deployment watches the bucket ${deployment.outputs.bucketName}, not ${address.bucket}.`);
  }
  const prefix = deployment.outputs.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!address.key.startsWith(prefix)) {
    notes.push(`The key is outside the watched prefix ${prefix}: no event reaches the function for it.`);
  }
  const onConflict = parseRuleSettings(raw).onConflict;
  const dropbox = await lookUpDropbox(context, raw, decision, ledgerView.read, head, onConflict);
  return {
    object: {
      bucket: address.bucket,
      key: address.key,
      size: head.size,
      eTag: head.eTag,
      versionId: head.versionId,
      lastModified: head.lastModified.toISOString(),
      metadata: head.metadata,
      tags: tags ?? {},
    },
    decision: {
      export: decision.export,
      reason: decision.reason,
      dropboxPath: decision.dropboxPath,
      warnings: decision.warnings,
    },
    onConflict,
    ledger: ledgerView.view,
    dropbox,
    notes,
  };
}

function describeFile(file: DropboxFile): string {
  return (
    `${file.pathDisplay}: ${formatBytes(file.size)} (${file.size} bytes), modified ${file.clientModified}, ` +
    `rev ${file.rev}, content hash ${file.contentHash}`
  );
}

function describeLedger(ledger: LedgerView, decision: Explanation['decision']): string[] {
  if (!ledger.read) return [`Ledger:    not read: ${ledger.why}`];
  return describeExportStatus(ledger.status, {
    state: 'Ledger:   ',
    file: 'Exported: ',
    shownReason: decision.reason.code,
  });
}

function describeDropbox(lookup: DropboxLookup, exportedId: string | undefined): string[] {
  if (!lookup.looked) return [`Dropbox:   not looked at: ${lookup.why}`];
  if ('error' in lookup) return [`Dropbox:   could not look: ${lookup.error.message}`];
  const lines: string[] = [];
  if (lookup.exportedFile !== undefined) {
    lines.push(
      lookup.exportedFile === null
        ? `Dropbox:   the ledger's file (${exportedId ?? '?'}) is no longer in Dropbox: deleted there`
        : `Dropbox:   the ledger's file is ${describeFile(lookup.exportedFile)}`,
    );
  }
  if (lookup.file !== undefined) {
    const label = lines.length === 0 ? 'Dropbox:  ' : '          ';
    lines.push(
      lookup.file === null
        ? `${label} nothing at the decision's path yet`
        : lookup.file.id === exportedId
          ? `${label} at the decision's path: the ledger's file`
          : `${label} at the decision's path: ${describeFile(lookup.file)}`,
    );
  }
  if (lookup.next !== undefined) lines.push(`Next:      ${lookup.next.message}`);
  return lines;
}

function printExplanation(io: CliIo, explanation: Explanation): void {
  const { object, decision } = explanation;
  const metadata = Object.entries(object.metadata).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const tags = Object.entries(object.tags).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const lines = [
    `Object:    s3://${object.bucket}/${object.key}`,
    `           ${formatBytes(object.size)} (${object.size} bytes), modified ${object.lastModified}, ETag ${object.eTag}${
      object.versionId === undefined ? '' : `, version id ${object.versionId}`
    }`,
    `Metadata:  ${metadata.length === 0 ? '(none)' : metadata.join(', ')}`,
    `Tags:      ${tags.length === 0 ? '(none)' : tags.join(', ')}`,
    `Decision:  ${decision.export ? 'EXPORT' : 'SKIP'} (${decision.reason.code})`,
    `Reason:    ${decision.reason.message}`,
  ];
  if (decision.dropboxPath !== null) lines.push(`Path:      ${decision.dropboxPath}`);
  for (const warning of decision.warnings) lines.push(`Warning:   ${warning.message} (${warning.code})`);
  lines.push(...describeLedger(explanation.ledger, decision));
  const exportedId = explanation.ledger.read ? explanation.ledger.status.file?.id : undefined;
  lines.push(...describeDropbox(explanation.dropbox, exportedId));
  for (const note of explanation.notes) lines.push(`Note:      ${note}`);
  printLines(io, ...lines);
}

/** `explain`: prints the explanation of one object. */
export async function explain(
  context: CommandContext,
  address: S3Address,
  options: { readonly json?: boolean },
): Promise<number> {
  const explanation = await explainObject(context, address);
  if (options.json === true) {
    printJson(context.io, explanation);
  } else {
    printExplanation(context.io, explanation);
  }
  return explanation.dropbox.looked && 'error' in explanation.dropbox ? EXIT_FAILED : EXIT_OK;
}
