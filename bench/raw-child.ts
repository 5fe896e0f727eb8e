/**
 * The large scenario's raw baseline: what any correct client must do to move an object into Dropbox, and no more.
 * One S3 `GetObject` (the function's S3 client configuration), the SHA-256 of each 4 MiB block as the bytes pass (a
 * Dropbox `content_hash`), and one plain HTTP POST of the bytes to the sink on loopback: no pieces, no reading twice,
 * no Dropbox rules. Reports the time, the bytes the sink counted and hashed, its own hash, and its peak RSS and CPU
 * time. Bundled before it runs.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../lib/aws/clients.ts';
import { BlockDigester, combineBlockDigests } from '../lib/dropbox/content-hash.ts';
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
  const cpuFrom = readOwnCpuSeconds();
  const digester = new BlockDigester();
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
    pipeline(
      object.Body as Readable,
      async function* hashed(pieces: AsyncIterable<Buffer>) {
        for await (const piece of pieces) {
          digester.update(piece);
          yield piece;
        }
      },
      req,
    ).catch(reject);
  });
  const ms = performance.now() - started;
  const cpuSeconds = readOwnCpuSeconds() - cpuFrom;
  const sink = JSON.parse(answer) as { bytes: number; contentHash: string };
  const own = combineBlockDigests(digester.digests());
  return {
    ms,
    cpuSeconds,
    bytes: sink.bytes,
    contentHash: own === sink.contentHash ? own : `mismatch ${own}`,
  };
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
