/**
 * A PutObject slower than the clients' request timeout (lib/aws/clients.ts): the SDK's request timeout runs until
 * the response, so an upload that takes longer than `AWS_REQUEST_TIMEOUT_MS` to send fails unless its call gets
 * `uploadSendOptions(bytes)` (the CLI's `upload`, the demo, the bench). A plain HTTP server stands in for S3: it
 * reads the body at 32 MiB/s, so that sending it takes twice the request timeout, and answers at its end.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Client, uploadSendOptions } from '../../lib/aws/clients.ts';
import { rejectionOf } from '../support/rejection.ts';

const REQUEST_TIMEOUT_MS = 1000;
const READ_BYTES_PER_SECOND = 32 * 1024 * 1024;
const BODY = Buffer.alloc(64 * 1024 * 1024, 7);
const PIECE = 64 * 1024;

describe('a PutObject that takes longer than the request timeout', () => {
  let server: Server;
  let received: number[];
  const env = { AWS_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), AWS_REGION: 'us-east-1' };

  beforeAll(async () => {
    // The SDK's default credential chain reads the process's environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    received = [];
    server = createServer((request, response) => {
      // Reads at READ_BYTES_PER_SECOND: the upload takes longer than the request timeout, never idle for long.
      const started = Date.now();
      let bytes = 0;
      request.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        const ahead = (bytes / READ_BYTES_PER_SECOND) * 1000 - (Date.now() - started);
        if (ahead > 0) {
          request.pause();
          setTimeout(() => request.resume(), ahead);
        }
      });
      request.on('end', () => {
        received.push(bytes);
        response.writeHead(200, { etag: '"d41d8cd98f00b204e9800998ecf8427e"', 'content-length': '0' });
        response.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  function client() {
    const { port } = server.address() as AddressInfo;
    return createS3Client({ env: { ...env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` } });
  }

  /** The body streamed in 64 KiB pieces, as a file is: each piece written is activity on the socket. */
  const put = () =>
    new PutObjectCommand({
      Bucket: 'ticket-files',
      Key: 'tickets/big.bin',
      Body: Readable.from(
        Array.from({ length: BODY.length / PIECE }, (_, index) =>
          BODY.subarray(index * PIECE, (index + 1) * PIECE),
        ),
      ),
      ContentLength: BODY.length,
    });

  it('fails with the plain request timeout while the body is still being sent', async () => {
    // Act
    const error = await rejectionOf(client().send(put()));

    // Assess
    expect((error as Error).name).toBe('TimeoutError');
  });

  it('succeeds with the upload options, which add the time the body takes at the slowest rate allowed', async () => {
    // Prepare
    const options = uploadSendOptions(BODY.length, env);

    // Act
    const sent = await client().send(put(), options);

    // Assess
    expect(options.requestTimeout).toBe(REQUEST_TIMEOUT_MS + 1_024_000);
    expect(sent.ETag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
    expect(received.at(-1)).toBe(BODY.length);
  });
});
