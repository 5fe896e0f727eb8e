/**
 * A pass-through HTTP proxy that logs each request it forwards: the operation (AWS JSON protocols name it in the
 * `X-Amz-Target` header, `DynamoDB_20120810.GetItem`), the status and the time the call took as the caller saw it.
 * The bench puts it in front of the local DynamoDB (dynalite) to say what the export ledger costs per file.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One forwarded request. */
export interface ProxiedCall {
  /** The operation (`GetItem`), from `X-Amz-Target` after its last dot; the path otherwise. */
  readonly operation: string;
  readonly status: number;
  readonly ms: number;
}

/** A running proxy. */
export interface CountingProxy {
  readonly url: string;
  readonly calls: ProxiedCall[];
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `target` (an http origin). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const origin = new URL(target);
  const calls: ProxiedCall[] = [];
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const header = req.headers['x-amz-target'];
    const operation =
      typeof header === 'string' ? header.slice(header.lastIndexOf('.') + 1) : (req.url ?? '/');
    const upstream = request({
      host: origin.hostname,
      port: origin.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    upstream.once('response', (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
      response.once('end', () => {
        calls.push({ operation, status: response.statusCode ?? 0, ms: performance.now() - started });
      });
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer(forward);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
