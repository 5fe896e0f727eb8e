/**
 * Child-process entry that runs s3rver for {@link startS3rverProcess}. It runs in its own Node process because
 * s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node ≥ 17) only offers with
 * `--openssl-legacy-provider`: a flag that holds for a whole process, so the parent does not have to take it.
 *
 * Input: one JSON argument `{ directory, buckets }`. Output: one JSON line `{ "port": N }` on stdout once listening.
 * Exits when its stdin closes, so that it never outlives the process that started it.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  /** The server `run()` listens on. */
  readonly httpServer?: import('node:http').Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;

const { directory, buckets } = JSON.parse(process.argv[2] ?? '{}') as {
  directory: string;
  buckets: string[];
};
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  vhostBuckets: false,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
const { port } = await server.run();
// Node ends a request still arriving after 300 s (its default `requestTimeout`); S3 never cuts a PUT in progress, and
// a 5 GiB PUT takes longer than that on a busy machine (ECONNRESET in the middle of the body).
if (server.httpServer !== undefined) server.httpServer.requestTimeout = 0;
process.stdout.write(`${JSON.stringify({ port })}\n`);
// Ctrl-C in a terminal signals the whole process group: the parent stops the stack in its own order and closes our
// stdin, so this process must not die first under requests still in flight (ECONNRESET in the parent).
process.on('SIGINT', () => undefined);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().finally(() => process.exit(0));
});
