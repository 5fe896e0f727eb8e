/**
 * The large scenario's raw baseline: streams one S3 `GetObject` (the function's S3 client configuration) into a plain
 * HTTP POST to the sink on loopback, with no chunking, no hashing of its own and no Dropbox rules, and reports the
 * time, the bytes the sink counted and hashed, and its own peak RSS. Bundled before it runs.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../lib/aws/clients.ts';
import { readPeakRss } from './support/child.ts';
import { readOwnCpuSeconds } from './support/cpu.ts';

interface Config {
  readonly bucket: string;
  readonly key: string;
  readonly sinkUrl: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const s3 = createS3Client();

async function run(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const object = await s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: config.key }));
  if (!(object.Body instanceof Readable)) throw new Error('GetObject returned no stream');
  const answer = await new Promise<string>((resolve, reject) => {
    const req = request(config.sinkUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(object.ContentLength ?? 0),
      },
    });
    req.once('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      res.once('error', reject);
    });
    req.once('error', reject);
    pipeline(object.Body as Readable, req).catch(reject);
  });
  const ms = performance.now() - started;
  const sink = JSON.parse(answer) as { bytes: number; contentHash: string };
  return { ms, bytes: sink.bytes, contentHash: sink.contentHash };
}

process.on('message', (raw: unknown) => {
  const message = raw as { type: string };
  if (message.type === 'run') {
    run().then(
      (result) => process.send?.({ type: 'done', ...result }),
      (error: unknown) => process.send?.({ type: 'done', error: String(error) }),
    );
  } else if (message.type === 'exit') {
    void readPeakRss().then((peakRssBytes) => {
      process.send?.({ type: 'peak', peakRssBytes, cpuSeconds: readOwnCpuSeconds() });
      process.disconnect?.();
    });
  }
});
process.send?.({ type: 'ready', peakRssBytes: await readPeakRss() });
