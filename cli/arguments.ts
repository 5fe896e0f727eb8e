/**
 * Parsers of argument and option values. A value they refuse is a usage error: commander prints the message with
 * the command's usage line and the CLI exits 2.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';

/** An S3 object address. */
export interface S3Address {
  readonly bucket: string;
  readonly key: string;
}

/**
 * Parses `s3://BUCKET/KEY`. The key is taken as written (not URL-decoded): it is the object's key.
 * @throws InvalidArgumentError for anything else.
 */
export function parseS3Url(value: string): S3Address {
  const match = /^s3:\/\/([^/]+)\/(.+)$/s.exec(value);
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new InvalidArgumentError('expected s3://BUCKET/KEY');
  }
  return { bucket: match[1], key: match[2] };
}

/** An object named by `--key`: a key in the deployment's bucket, or `s3://BUCKET/KEY`. */
export interface ObjectKey {
  /** `undefined`: the deployment's bucket. */
  readonly bucket?: string | undefined;
  readonly key: string;
}

/**
 * Parses `--key`: an object key as S3 stores it (`tickets/1234/Proof.pdf`, not URL-encoded), or `s3://BUCKET/KEY`.
 * @throws InvalidArgumentError for an empty key or one with a leading `/`
 */
export function parseObjectKey(value: string): ObjectKey {
  if (value.startsWith('s3://')) return parseS3Url(value);
  if (value === '') throw new InvalidArgumentError('expected an object key, such as tickets/1234/Proof.pdf');
  if (value.startsWith('/')) {
    throw new InvalidArgumentError(`S3 keys have no leading '/'; did you mean ${value.replace(/^\/+/, '')}?`);
  }
  return { key: value };
}

/**
 * Parses `--since`: an ISO 8601 date or date-time.
 * @throws InvalidArgumentError for anything else.
 */
export function parseSinceDate(value: string): Date {
  const trimmed = value.trim();
  const time = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError(
      'expected an ISO 8601 date or date-time, such as 2026-01-31 or 2026-01-31T08:00:00Z',
    );
  }
  return new Date(time);
}

/**
 * Parses `--concurrency`: a whole number from 1 to 64.
 * @throws InvalidArgumentError for anything else.
 */
export function parseConcurrency(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64) {
    throw new InvalidArgumentError('expected a whole number from 1 to 64');
  }
  return parsed;
}

/**
 * Parses `--prefix`: an S3 key prefix, which never starts with `/` (S3 keys have no leading slash, so such a prefix
 * would list nothing).
 * @throws InvalidArgumentError for a prefix with a leading `/`, or an empty one
 */
export function parseKeyPrefix(value: string): string {
  if (value === '') throw new InvalidArgumentError('expected a key prefix, such as tickets/');
  if (value.startsWith('/')) {
    const suggestion = value.replace(/^\/+/, '');
    throw new InvalidArgumentError(
      `S3 keys have no leading '/', so this prefix lists nothing${suggestion === '' ? '' : `; did you mean ${suggestion}?`}`,
    );
  }
  return value;
}

/**
 * A path the user typed, made absolute. `npm run cli` (and `npm start`) run in the package's root folder, and npm
 * keeps the folder the command was typed in as `INIT_CWD`: there a relative path is relative to that folder, as the
 * user meant it. Anywhere else (the installed bin), relative to the process's working folder.
 * @param script the package script the process runs as (`cli`, `start`)
 */
export function resolveUserPath(path: string, env: NodeJS.ProcessEnv, script = 'cli'): string {
  const typedIn =
    env.npm_lifecycle_event === script && env.npm_package_name === 'ticket-dropbox-sync' && env.INIT_CWD
      ? env.INIT_CWD
      : process.cwd();
  return resolve(typedIn, path);
}
