/**
 * The raw baseline's receiving end: a plain HTTP server on loopback that counts and hashes every request body (the
 * Dropbox content hash, so the bytes can be checked against the object's) and answers with what it saw. No
 * Dropbox route caps a request at 150 MiB, so this is the fastest a 1 GiB object can cross loopback here.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DropboxContentHasher } from '../../lib/dropbox/content-hash.ts';

/** A running sink. */
export interface Sink {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the sink on 127.0.0.1 with an ephemeral port. */
export async function startSink(): Promise<Sink> {
  const server = createServer((req, res) => {
    const hasher = new DropboxContentHasher();
    let bytes = 0;
    req.on('data', (piece: Buffer) => {
      bytes += piece.byteLength;
      hasher.update(piece);
    });
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, contentHash: hasher.digest() }));
    });
    req.once('error', () => res.destroy());
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sink`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
