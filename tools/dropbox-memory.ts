/**
 * Memory check of the streaming uploader: uploads a generated 1 GiB stream through a sequential upload session to
 * the Dropbox API emulator (run as a child process, so its own memory is not counted) and prints this process's
 * peak RSS. Fails (exit 1) when the peak passes 2 × chunk size + 100 MiB.
 *
 *   npm run mem:dropbox -- [--size-mib 1024] [--chunk-mib 16]
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_UPLOAD_TUNING, DropboxClient } from '../lib/dropbox/client.ts';
import { DropboxContentHasher } from '../lib/dropbox/content-hash.ts';
import { generateStream } from './generated-content.ts';

const MIB = 1024 * 1024;
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
      // Pooled pieces (tools/generated-content.ts): the measurement is the uploader's memory, not a generator's garbage.
      body: generateStream(size, 20261127, (piece) => hasher.update(piece)),
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
