/**
 * Memory check of the streaming uploader: uploads a generated 1 GiB stream through a sequential upload session to
 * the Dropbox API emulator (run as a child process, so its own memory is not counted) and prints this process's
 * peak RSS. Fails (exit 1) when the peak passes 2 × chunk size + 100 MiB.
 *
 *   npm run mem:dropbox -- [--size-mib 1024] [--chunk-mib 16]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_UPLOAD_TUNING, DropboxClient } from '../lib/dropbox/client.ts';
import { DropboxContentHasher } from '../lib/dropbox/content-hash.ts';

const MIB = 1024 * 1024;
const PIECE_BYTES = 64 * 1024;
const POOL_PIECES = 16;
// The emulator's test app (tools/emulators/dropbox/auth.ts); not imported, to keep the emulator out of this process.
const TEST_APP = { appKey: 'emulator-app-key', refreshToken: 'emulator-refresh-token' };

function startEmulatorProcess(root: string): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL('./emulators/dropbox/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main, '--port', '0', '--root', root], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`emulator exited early (${code ?? 'signal'})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        child.removeAllListeners('exit');
        resolve({ child, url: match[1] });
      }
    });
  });
}

/**
 * `size` bytes of varied content in 64 KiB pieces, hashed as they are produced. The pieces come from a small pool of
 * buffers reused in turn (as a file reader with its own buffer would), so that the measurement is the uploader's
 * memory, not the garbage of a generator: V8 frees dead Buffers only at its next major collection, tens of MiB later.
 * Reuse is safe because the stream holds at most two pieces ahead; the final content hash check would catch it
 * otherwise.
 */
function generated(size: number, hasher: DropboxContentHasher): Readable {
  const pool = Array.from({ length: POOL_PIECES }, () => randomBytes(PIECE_BYTES));
  let offset = 0;
  let count = 0;
  return new Readable({
    highWaterMark: PIECE_BYTES,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const buffer = pool[count % POOL_PIECES] as Buffer;
      const piece = buffer.subarray(0, Math.min(PIECE_BYTES, size - offset));
      piece.writeUInt32LE(count % 2 ** 32, 0);
      hasher.update(piece);
      offset += piece.byteLength;
      count += 1;
      this.push(piece);
    },
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'size-mib': { type: 'string' }, 'chunk-mib': { type: 'string' } },
    strict: true,
  });
  const size = Number(values['size-mib'] ?? 1024) * MIB;
  const chunkBytes =
    values['chunk-mib'] === undefined ? DEFAULT_UPLOAD_TUNING.chunkBytes : Number(values['chunk-mib']) * MIB;
  if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    process.stderr.write('usage: node tools/dropbox-memory.ts [--size-mib N] [--chunk-mib N]\n');
    return 2;
  }
  const boundBytes = 2 * chunkBytes + 100 * MIB;
  const root = await mkdtemp(join(tmpdir(), 'dropbox-memory-'));
  const { child, url } = await startEmulatorProcess(root);
  try {
    const client = new DropboxClient({
      credentials: { ...TEST_APP, pathRoot: 'auto' },
      endpointUrl: url,
      upload: {
        chunkBytes,
        singleUploadMaxBytes: Math.min(chunkBytes, DEFAULT_UPLOAD_TUNING.singleUploadMaxBytes),
      },
    });
    const hasher = new DropboxContentHasher();
    const baselineBytes = process.memoryUsage().rss;
    const started = Date.now();
    const file = await client.upload({
      path: '/Memory check/1 GiB.bin',
      size,
      clientModified: new Date(),
      onConflict: 'overwrite',
      body: generated(size, hasher),
    });
    const seconds = (Date.now() - started) / 1000;
    // maxRSS is the kernel's high-water mark for this process, in KiB.
    const peakBytes = process.resourceUsage().maxRSS * 1024;
    const intact = file.size === size && file.contentHash === hasher.digest();
    const within = peakBytes <= boundBytes;
    const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;
    process.stdout.write(
      [
        `uploaded ${mib(size)} in ${mib(chunkBytes)} chunks in ${seconds.toFixed(1)} s (${mib(size / seconds)}/s)`,
        `content hash ${intact ? 'verified' : 'MISMATCH'}: ${file.contentHash}`,
        `RSS before the upload ${mib(baselineBytes)}`,
        `peak RSS ${mib(peakBytes)}; bound 2 × chunk + 100 MiB = ${mib(boundBytes)}: ${within ? 'OK' : 'EXCEEDED'}`,
      ]
        .map((line) => `${line}\n`)
        .join(''),
    );
    return intact && within ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
