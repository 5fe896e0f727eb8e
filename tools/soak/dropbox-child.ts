/**
 * The Dropbox API emulator in a child process of its own (started by {@link startDropboxProcess}), so that its
 * hashing and disk writes use another core than the function under test. Optionally fronted by a proxy that answers
 * `503` to every call naming a path that holds the poison marker: the soak's poison messages, which fail every time.
 * Controlled over the IPC channel: `set-faults`, `set-insufficient-space`, `stats`, `close`.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FaultOptions, startDropboxEmulator } from '../emulators/dropbox/server.ts';
import type { ChildOptions, DropboxStats, FromChild, ToChild } from './dropbox-process.ts';

function send(message: FromChild): void {
  process.send?.(message);
}

function readOptions(): ChildOptions {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('dropbox-child: options (JSON) expected as the first argument');
  return JSON.parse(raw) as ChildOptions;
}

const options = readOptions();
const emulator = await startDropboxEmulator({
  root: options.root,
  team: options.team ?? false,
  faults: options.faults,
  requestLogLimit: 1_000_000,
  keepBytes: options.keepBytes ?? true,
});
let faults: FaultOptions = options.faults ?? {};
let poisonRefusals = 0;
const target = new URL(emulator.url);

/** Dropbox answers a server error like this one; the client classifies it as transient. */
function refusePoison(res: ServerResponse): void {
  poisonRefusals += 1;
  res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('Service Unavailable (soak poison path)');
}

async function readSmallBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/**
 * Passes one request to the emulator and its answer back. A connection the emulator resets (an injected fault)
 * is reset towards the client too, so the client sees what it would have seen without the proxy.
 */
function forward(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const upstream = request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers:
        body === undefined ? req.headers : { ...req.headers, 'content-length': String(body.byteLength) },
    });
    const reset = (): void => {
      upstream.destroy();
      req.socket.destroy();
      resolve();
    };
    upstream.once('error', reset);
    req.once('error', reset);
    res.once('close', () => resolve());
    upstream.once('response', (response) => {
      response.once('error', reset);
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    if (body === undefined) req.pipe(upstream);
    else upstream.end(body);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, marker: string): Promise<void> {
  const arg = req.headers['dropbox-api-arg'];
  if (typeof arg === 'string' && arg.includes(marker)) {
    req.resume();
    refusePoison(res);
    return;
  }
  const isRpc = (req.headers['content-type'] ?? '').startsWith('application/json');
  if (!isRpc) {
    await forward(req, res, undefined);
    return;
  }
  const body = await readSmallBody(req);
  if (body.toString('utf8').includes(marker)) {
    refusePoison(res);
    return;
  }
  await forward(req, res, body);
}

let url = emulator.url;
let stop = (): Promise<void> => emulator.close();
const marker = options.poisonMarker;
if (marker !== undefined && marker !== '') {
  const proxy = createServer((req, res) => {
    handle(req, res, marker).catch((error: unknown) => {
      // The client sees a dropped connection, as after a network failure.
      if (!(error instanceof Error)) throw error;
      res.destroy(error);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  stop = async () => {
    await new Promise<void>((resolve) => {
      proxy.close(() => resolve());
      proxy.closeAllConnections();
    });
    await emulator.close();
  };
}

let closing: Promise<void> | undefined;
function close(): Promise<void> {
  closing ??= stop();
  return closing;
}

function stats(): DropboxStats {
  const faultsByKind: Record<string, number> = {};
  const requestsByRoute: Record<string, number> = {};
  let bytesIn = 0;
  for (const entry of emulator.requestLog) {
    requestsByRoute[entry.route] = (requestsByRoute[entry.route] ?? 0) + 1;
    bytesIn += entry.bytesIn;
    if (entry.fault !== undefined) faultsByKind[entry.fault] = (faultsByKind[entry.fault] ?? 0) + 1;
  }
  return { requests: emulator.requestLog.length, faultsByKind, requestsByRoute, bytesIn, poisonRefusals };
}

process.on('message', (message: ToChild) => {
  switch (message.type) {
    case 'set-faults':
      faults = message.faults;
      emulator.setFaults(faults);
      send({ type: 'done', id: message.id });
      break;
    case 'set-insufficient-space':
      emulator.setInsufficientSpace(message.on);
      send({ type: 'done', id: message.id });
      break;
    case 'stats':
      send({ type: 'stats', id: message.id, stats: stats() });
      break;
    case 'log':
      send({ type: 'log', id: message.id, entries: emulator.requestLog.slice(message.from) });
      break;
    case 'close':
      close().then(
        () => {
          send({ type: 'done', id: message.id });
          process.disconnect();
        },
        (error: unknown) => {
          process.stderr.write(`dropbox-child: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exit(1);
        },
      );
      break;
  }
});
process.once('disconnect', () => {
  close().finally(() => process.exit(0));
});
send({ type: 'ready', url });
