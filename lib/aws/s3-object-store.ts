/** The {@link ObjectStore} port on Amazon S3 (or any S3-compatible endpoint). */
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SyncError } from '../errors.ts';
import type { ByteRange, ObjectHead, ObjectStore } from '../ports.ts';

/** Removes the quotes S3 puts around an ETag. */
export function stripETag(eTag: string | undefined): string {
  return (eTag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  return undefined;
}

function isNotFound(error: unknown): boolean {
  return (
    statusOf(error) === 404 ||
    (error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey'))
  );
}

/** What the deployment reads: its bucket and key prefix (the role's grants). */
export interface ObjectScope {
  readonly bucket?: string | undefined;
  readonly keyPrefix?: string | undefined;
}

function inScope(scope: ObjectScope, bucket: string, key: string): boolean {
  return (
    (scope.bucket === undefined || scope.bucket === bucket) &&
    (scope.keyPrefix === undefined || key.startsWith(scope.keyPrefix))
  );
}

/**
 * Translates an S3 failure that is not a 404 into the sync's error classification. A 403 is account-wide (the role
 * lost its reads: every record fails alike) only for an object in the deployment's scope and on a call that needs
 * no more than those reads; a 403 for an object outside the scope (a forged or misrouted event), or on the GetObject
 * of an object whose HeadObject was allowed (the object's own encryption key refuses us), concerns that one record:
 * blocked, so that no single message can stop the whole flow through the circuit breaker.
 */
function translateS3Error(
  error: unknown,
  operation: string,
  bucket: string,
  key: string,
  scope: ObjectScope,
): SyncError {
  if (error instanceof SyncError) return error;
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : 'Error';
  if (status === 403) {
    const outOfScope = !inScope(scope, bucket, key);
    const thisObject = outOfScope || operation === 'GetObject';
    const why = outOfScope
      ? `: the object is outside what this deployment reads (s3://${scope.bucket ?? '*'}/${scope.keyPrefix ?? ''}*)`
      : thisObject
        ? ': its metadata could be read but not its content (its encryption key?)'
        : '';
    return new SyncError(`S3 ${operation} on s3://${bucket}/${key} was denied (403 ${name})${why}`, {
      kind: thisObject ? 'blocked' : 'account',
      code: outOfScope ? 's3-out-of-scope' : thisObject ? 's3-object-access-denied' : 's3-access-denied',
      cause: error,
    });
  }
  return new SyncError(`S3 ${operation} on s3://${bucket}/${key} failed (${status ?? 'network'} ${name})`, {
    kind: 'transient',
    code: 's3-error',
    cause: error,
  });
}

/** Builds an {@link ObjectStore} on an S3 client; `scope` is what the deployment reads (for the 403 classification). */
export function createS3ObjectStore(s3: S3Client, scope: ObjectScope = {}): ObjectStore {
  return {
    async headObject(bucket, key, signal): Promise<ObjectHead | null> {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
          abortSignal: signal,
        });
        return {
          eTag: stripETag(head.ETag),
          size: head.ContentLength ?? 0,
          lastModified: head.LastModified ?? new Date(0),
          metadata: head.Metadata ?? {},
          versionId: head.VersionId,
        };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw translateS3Error(error, 'HeadObject', bucket, key, scope);
      }
    },

    async getObjectTags(bucket, key, signal) {
      try {
        const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }), {
          abortSignal: signal,
        });
        const tags: Record<string, string> = {};
        for (const tag of tagging.TagSet ?? []) {
          if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
        }
        return tags;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw translateS3Error(error, 'GetObjectTagging', bucket, key, scope);
      }
    },

    async openObject(bucket, key, options: { eTag: string; range?: ByteRange; signal?: AbortSignal }) {
      try {
        const object = await s3.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            IfMatch: `"${options.eTag}"`,
            Range: options.range ? `bytes=${options.range.start}-${options.range.end}` : undefined,
          }),
          { abortSignal: options.signal },
        );
        if (!(object.Body instanceof Readable)) {
          throw new SyncError(`S3 GetObject on s3://${bucket}/${key} returned no stream`, {
            kind: 'transient',
            code: 's3-error',
          });
        }
        return object.Body;
      } catch (error) {
        if (statusOf(error) === 412 || (error instanceof Error && error.name === 'PreconditionFailed')) {
          throw new SyncError(
            `s3://${bucket}/${key} changed since its event: a newer version exports itself`,
            {
              kind: 'permanent',
              code: 'superseded',
              cause: error,
            },
          );
        }
        if (isNotFound(error)) {
          throw new SyncError(`s3://${bucket}/${key} no longer exists`, {
            kind: 'permanent',
            code: 'object-missing',
            cause: error,
          });
        }
        throw translateS3Error(error, 'GetObject', bucket, key, scope);
      }
    },
  };
}
