/**
 * How the S3 adapter classifies a 403 (lib/aws/s3-object-store.ts): account-wide only when the role's own reads fail
 * in the deployment's scope; a forged or misrouted event (another bucket, a key outside the prefix), or an object
 * whose own key refuses its content, is blocked, so that one message can never stop the flow through the breaker.
 */
import { type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createS3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { rejectionOf } from '../support/rejection.ts';

/** An S3 client whose every call S3 refuses with 403 AccessDenied. */
function deniedClient(): S3Client {
  const denied = new S3ServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'Access Denied',
  });
  return { send: async () => Promise.reject(denied) } as unknown as S3Client;
}

const SCOPE = { bucket: 'ticket-files', keyPrefix: 'tickets/' };

describe('a 403 from S3', () => {
  it.each([
    ['HeadObject in scope', 'ticket-files', 'tickets/a.pdf', 'head', 'account', 's3-access-denied'],
    ['GetObjectTagging in scope', 'ticket-files', 'tickets/a.pdf', 'tags', 'account', 's3-access-denied'],
    ['HeadObject of another bucket', 'someone-else', 'tickets/a.pdf', 'head', 'blocked', 's3-out-of-scope'],
    ['HeadObject outside the prefix', 'ticket-files', 'private/a.pdf', 'head', 'blocked', 's3-out-of-scope'],
    ['GetObject in scope', 'ticket-files', 'tickets/a.pdf', 'get', 'blocked', 's3-object-access-denied'],
  ])('on %s is %s (%s)', async (_case, bucket, key, call, kind, code) => {
    // Prepare
    const store = createS3ObjectStore(deniedClient(), SCOPE);

    // Act
    const error = await rejectionOf(
      call === 'head'
        ? store.headObject(bucket, key)
        : call === 'tags'
          ? store.getObjectTags(bucket, key)
          : store.openObject(bucket, key, { eTag: 'e' }),
    );

    // Assess
    expect(error).toMatchObject({ kind, code });
  });
});
