/**
 * The cold-start scenario's reference: a handler that imports only `@aws-sdk/client-s3` (creating its client at
 * module scope, as the function does) and reads the head of each object it is told about.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';

const s3 = new S3Client({});

/** Reads the head of every object the event names. */
export async function handler(event: SQSEvent): Promise<number> {
  let heads = 0;
  for (const record of event.Records) {
    const { bucket, key } = JSON.parse(record.body) as { bucket: string; key: string };
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    heads += 1;
  }
  return heads;
}
