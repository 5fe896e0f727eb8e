/**
 * `explain s3://BUCKET/KEY`: why a file did or did not go to Dropbox. Reads the object's metadata and tags, runs
 * the function's own `decideExport` on the stored settings, and looks at what Dropbox holds at the path now.
 */
import { HeadBucketCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createS3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadRawSettings } from '../../lib/aws/settings-store.ts';
import { isDropboxApiError } from '../../lib/dropbox/errors.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { DropboxFile, ObjectHead } from '../../lib/ports.ts';
import { decideExport, type ExportDecision } from '../../lib/rules.ts';
import {
  InvalidSettingsError,
  type OnConflict,
  parseRuleSettings,
  parseSettings,
} from '../../lib/settings.ts';
import { formatClientModified } from '../../lib/sync.ts';
import type { S3Address } from '../arguments.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_KEY_PREFIX } from '../defaults.ts';
import { openDropbox } from '../dropbox.ts';
import { CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { formatBytes } from '../format.ts';
import { type CliIo, printJson, printLines } from '../io.ts';

/** What Dropbox holds at the decision's path. */
export type DropboxLookup =
  | { readonly looked: false; readonly why: string }
  | {
      readonly looked: true;
      readonly file: DropboxFile | null;
      /** Same size and `client_modified` as the object: the function skips it as already exported. */
      readonly sameAsObject: boolean;
    }
  | { readonly looked: true; readonly error: { readonly code: string; readonly message: string } };

/** Everything `explain` reports. */
export interface Explanation {
  readonly object: {
    readonly bucket: string;
    readonly key: string;
    readonly size: number;
    readonly eTag: string;
    readonly lastModified: string;
    readonly metadata: Readonly<Record<string, string>>;
    readonly tags: Readonly<Record<string, string>>;
  };
  readonly decision: Pick<ExportDecision, 'export' | 'reason' | 'dropboxPath' | 'warnings'>;
  /** The `on-conflict` setting in force: what an export does to a different file at the path. */
  readonly onConflict: OnConflict;
  readonly dropbox: DropboxLookup;
  /** Facts around the decision (the key outside the watched prefix, another bucket). */
  readonly notes: readonly string[];
}

async function lookUpDropbox(
  context: CommandContext,
  raw: Readonly<Record<string, string | undefined>>,
  path: string,
  head: ObjectHead,
): Promise<DropboxLookup> {
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
    const file = await openDropbox(credentials, await context.deployment()).getFileMetadata(path);
    const sameAsObject =
      file !== null &&
      file.size === head.size &&
      file.clientModified === formatClientModified(head.lastModified);
    return { looked: true, file, sameAsObject };
  } catch (error) {
    if (isDropboxApiError(error))
      return { looked: true, error: { code: error.code, message: error.message } };
    return { looked: true, error: { code: 'error', message: errorMessage(error) } };
  }
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
  const [head, tags, raw] = await Promise.all([
    objects.headObject(address.bucket, address.key),
    objects.getObjectTags(address.bucket, address.key),
    loadRawSettings(clients.ssm, deployment.outputs.settingsPath),
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
  const dropbox =
    decision.export && decision.dropboxPath !== null
      ? await lookUpDropbox(context, raw, decision.dropboxPath, head)
      : ({ looked: false, why: 'the file is not exported' } as const);
  return {
    object: {
      bucket: address.bucket,
      key: address.key,
      size: head.size,
      eTag: head.eTag,
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
    onConflict: parseRuleSettings(raw).onConflict,
    dropbox,
    notes,
  };
}

function describeDropbox(lookup: DropboxLookup, onConflict: OnConflict): string[] {
  if (!lookup.looked) return [`Dropbox:   not looked at: ${lookup.why}`];
  if ('error' in lookup) return [`Dropbox:   could not look: ${lookup.error.message}`];
  if (lookup.file === null) return ['Dropbox:   nothing at that path yet'];
  const file = lookup.file;
  const lines = [
    `Dropbox:   ${file.pathDisplay}: ${formatBytes(file.size)} (${file.size} bytes), modified ${file.clientModified}, ` +
      `content hash ${file.contentHash}`,
  ];
  lines.push(
    lookup.sameAsObject
      ? '           same size and modified time as the object: already exported, the function skips it'
      : onConflict === 'overwrite'
        ? '           differs from the object: an export replaces it (on-conflict overwrite)'
        : '           differs from the object: an export keeps it and writes the new file under a renamed name, ' +
          'unless it is an earlier export of this same object',
  );
  return lines;
}

function printExplanation(io: CliIo, explanation: Explanation): void {
  const { object, decision } = explanation;
  const metadata = Object.entries(object.metadata).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const tags = Object.entries(object.tags).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const lines = [
    `Object:    s3://${object.bucket}/${object.key}`,
    `           ${formatBytes(object.size)} (${object.size} bytes), modified ${object.lastModified}, ETag ${object.eTag}`,
    `Metadata:  ${metadata.length === 0 ? '(none)' : metadata.join(', ')}`,
    `Tags:      ${tags.length === 0 ? '(none)' : tags.join(', ')}`,
    `Decision:  ${decision.export ? 'EXPORT' : 'SKIP'} (${decision.reason.code})`,
    `Reason:    ${decision.reason.message}`,
  ];
  if (decision.dropboxPath !== null) lines.push(`Path:      ${decision.dropboxPath}`);
  for (const warning of decision.warnings) lines.push(`Warning:   ${warning.message} (${warning.code})`);
  lines.push(...describeDropbox(explanation.dropbox, explanation.onConflict));
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
