/**
 * `upload FILE KEY` and `tag KEY NAME=VALUE…`: what the ticket system does, from a terminal, so that a file can be
 * tried on the local stack (or a deployment) with nothing but this package: a `PutObject` into the deployment's
 * bucket with the upload contract's user metadata (non-ASCII values as RFC 2047 encoded-words, as S3 carries them)
 * and, optionally, tags in the same request; a `PutObjectTagging` later, which re-evaluates the file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PutObjectCommand, PutObjectTaggingCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { uploadSendOptions } from '../../lib/aws/clients.ts';
import { encodeRfc2047, readTicketFile, UPLOAD_METADATA_NAMES } from '../../lib/ticket-file.ts';
import { resolveUserPath } from '../arguments.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_KEY_PREFIX } from '../defaults.ts';
import { CliUsageError, CommandFailedError, EXIT_OK } from '../errors.ts';
import { formatBytes } from '../format.ts';
import { printJson, printLines } from '../io.ts';

/** Options of `upload`. */
export interface UploadOptions {
  /** `NAME=VALUE` pairs, each option value possibly holding several separated by commas. */
  readonly metadata?: readonly string[];
  readonly tag?: readonly string[];
  readonly json?: boolean;
}

/** S3's limit for a single PutObject. */
const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;

/** A name as S3 user metadata and tags take it: letters, digits and hyphens (metadata travels in HTTP headers). */
const PAIR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Parses `NAME=VALUE` pairs. One option value may hold several, separated by commas as in the AWS CLI
 * (`ticket-type=print,publication-alias=DailyNews`); a comma not followed by `name=` belongs to the value.
 * @throws CliUsageError for a pair without `=` or with a bad name
 */
export function parsePairs(values: readonly string[] | undefined, option: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const value of values ?? []) {
    for (const pair of value.split(/,(?=[A-Za-z0-9][A-Za-z0-9_.-]*=)/)) {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? '' : pair.slice(0, equals).trim().toLowerCase();
      if (equals < 0 || !PAIR_NAME.test(name)) {
        throw new CliUsageError(
          `${option} takes NAME=VALUE pairs, such as ticket-type=print (got ${JSON.stringify(pair)})`,
        );
      }
      pairs.set(name, pair.slice(equals + 1));
    }
  }
  return pairs;
}

/** @throws CliUsageError for a key S3 or the notifications would not treat as meant */
function checkKey(key: string): void {
  if (key === '' || key.startsWith('/')) {
    throw new CliUsageError(
      `the key is the object's name in the bucket, without a leading '/', such as tickets/2001/proof.pdf (got ${JSON.stringify(key)})`,
    );
  }
  if (key.endsWith('/'))
    throw new CliUsageError(`the key must name a file, not a folder (got ${JSON.stringify(key)})`);
}

/** What the upload contract makes of the metadata and tags, for the operator to see before the function does. */
function contractWarnings(
  key: string,
  metadata: ReadonlyMap<string, string>,
  tags: ReadonlyMap<string, string>,
  watchedPrefix: string,
): string[] {
  const warnings: string[] = [];
  const known = new Set<string>(UPLOAD_METADATA_NAMES);
  for (const name of metadata.keys()) {
    if (!known.has(name)) {
      warnings.push(
        `metadata ${name} is not part of the upload contract (${UPLOAD_METADATA_NAMES.join(', ')}): ignored`,
      );
    }
  }
  const read = readTicketFile({
    key,
    metadata: Object.fromEntries(metadata),
    tags: Object.fromEntries(tags),
  });
  if (!read.ok) warnings.push(`${read.reason.message} The function skips it (${read.reason.code}).`);
  else for (const warning of read.warnings) warnings.push(warning.message);
  if (!key.startsWith(watchedPrefix)) {
    warnings.push(
      `${key} is outside the prefix the deployment watches (${watchedPrefix}): no event reaches the function.`,
    );
  }
  return warnings;
}

/** `upload FILE KEY`: puts a local file into the deployment's bucket as the ticket system would. */
export async function uploadFile(
  context: CommandContext,
  file: string,
  key: string,
  options: UploadOptions,
): Promise<number> {
  checkKey(key);
  const metadata = parsePairs(options.metadata, '--metadata');
  const tags = parsePairs(options.tag, '--tag');
  const path = resolveUserPath(file, context.io.env);
  let size: number;
  try {
    const stats = await stat(path);
    if (!stats.isFile()) throw new CliUsageError(`${file} is not a file`);
    size = stats.size;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      throw new CliUsageError(`${file} does not exist`, { cause: error });
    }
    throw error;
  }
  if (size > MAX_PUT_OBJECT_BYTES) {
    throw new CommandFailedError(
      `${file} is ${formatBytes(size)}: one PutObject takes at most 5 GiB; upload it with a multipart upload (aws s3 cp)`,
    );
  }
  const deployment = await context.deployment();
  const clients = await context.clients();
  const bucket = deployment.outputs.bucketName;
  const watched = deployment.outputs.keyPrefix ?? DEFAULT_KEY_PREFIX;
  for (const warning of contractWarnings(key, metadata, tags, watched)) {
    context.io.stderr.write(`warning: ${warning}\n`);
  }
  const sent = await clients.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: createReadStream(path),
      ContentLength: size,
      Metadata: Object.fromEntries([...metadata].map(([name, value]) => [name, encodeRfc2047(value)])),
      // x-amz-tagging: the status known at upload belongs in the upload itself (DESIGN.md "Upload contract").
      Tagging: tags.size === 0 ? undefined : new URLSearchParams([...tags]).toString(),
    }),
    uploadSendOptions(size, context.io.env),
  );
  const url = `s3://${bucket}/${key}`;
  const eTag = (sent.ETag ?? '').replaceAll('"', '');
  if (options.json === true) {
    printJson(context.io, {
      bucket,
      key,
      size,
      eTag,
      versionId: sent.VersionId ?? null,
      metadata: Object.fromEntries(metadata),
      tags: Object.fromEntries(tags),
    });
    return EXIT_OK;
  }
  printLines(
    context.io,
    `Uploaded ${basename(file)} (${formatBytes(size)}) to ${url} (ETag ${eTag}).`,
    `The function decides within seconds; \`explain ${url}\` shows the decision and the Dropbox path.`,
  );
  return EXIT_OK;
}

/** `tag KEY NAME=VALUE…`: replaces the object's tag set, as the ticket system's PutObjectTagging does. */
export async function tagObject(
  context: CommandContext,
  key: string,
  pairs: readonly string[],
  options: { readonly json?: boolean },
): Promise<number> {
  checkKey(key);
  const tags = parsePairs(pairs, 'tag');
  const deployment = await context.deployment();
  const clients = await context.clients();
  const bucket = deployment.outputs.bucketName;
  const url = `s3://${bucket}/${key}`;
  try {
    await clients.s3.send(
      new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: key,
        Tagging: { TagSet: [...tags].map(([Key, Value]) => ({ Key, Value })) },
      }),
    );
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) {
      throw new CommandFailedError(`${url} does not exist (404 ${error.name}): upload it first`, {
        cause: error,
      });
    }
    throw error;
  }
  if (options.json === true) {
    printJson(context.io, { bucket, key, tags: Object.fromEntries(tags) });
    return EXIT_OK;
  }
  const shown = [...tags].map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(', ');
  printLines(
    context.io,
    `Tagged ${url}: ${shown === '' ? '(no tags)' : shown} (the object's whole tag set).`,
    'The tag change is an ObjectTagging:Put event: the function evaluates the file again.',
  );
  return EXIT_OK;
}
