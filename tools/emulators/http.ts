/**
 * Small HTTP helpers shared by the project's AWS emulators (SSM, SQS, the S3 proxy): listening on 127.0.0.1,
 * closing with open keep-alive connections, bounded body reads, and the AWS JSON protocol's server and error shape.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request an emulator served, in arrival order: the test seam for "how many calls did X make". */
export interface CallRecord {
  /** The operation name (`GetParametersByPath`, `ReceiveMessage`, `PutObject`, …). */
  readonly action: string;
  /** `Date.now()` when the request arrived. */
  readonly at: number;
}

/** Starts `server` on 127.0.0.1 (port 0 = an ephemeral port) and returns its origin, `http://127.0.0.1:PORT`. */
export function listen(server: Server, port = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

/** Stops accepting connections, drops idle and in-flight keep-alive connections, and resolves once closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => {
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
      else resolve();
    });
    server.closeAllConnections();
  });
}

/** A request body above the allowed size. */
export class BodyTooLargeError extends Error {
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`The request body is larger than ${limitBytes} bytes.`);
    this.name = 'BodyTooLargeError';
    this.limitBytes = limitBytes;
  }
}

/** Reads a whole (small) request body; rejects with {@link BodyTooLargeError} past `limitBytes`. */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    length += buffer.length;
    if (length > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Options of an {@link AwsJsonError}. */
export interface AwsJsonErrorOptions {
  /** HTTP status. @default 400 */
  readonly status?: number;
  /**
   * The member that carries the message. Most AWS shapes use `message`; a few SSM shapes (`InvalidNextToken`,
   * `InvalidParameters`, `ValidationException`) model it as `Message`. @default 'message'
   */
  readonly messageField?: 'message' | 'Message';
  /**
   * Value of the `x-amzn-query-error` header (`Code;Sender`) that services migrated from the AWS query protocol
   * (SQS) send, so that SDKs in query-compatible mode map the error to its modelled class.
   */
  readonly queryError?: string;
}

/** An error answered in the AWS JSON 1.0/1.1 shape: `{"__type": …, "message": …}` with a 4xx status. */
export class AwsJsonError extends Error {
  /** The `__type` value, e.g. `ParameterNotFound` or `com.amazonaws.sqs#QueueDoesNotExist`. */
  readonly type: string;
  readonly status: number;
  readonly messageField: 'message' | 'Message';
  readonly queryError: string | undefined;

  constructor(type: string, message: string, options: AwsJsonErrorOptions = {}) {
    super(message);
    this.name = 'AwsJsonError';
    this.type = type;
    this.status = options.status ?? 400;
    this.messageField = options.messageField ?? 'message';
    this.queryError = options.queryError;
  }
}

/** Writes a JSON response with the AWS request-id header. */
export function sendJson(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': String(payload.length),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(payload);
}

/** Writes `error` in the AWS JSON error shape. */
export function sendJsonError(response: ServerResponse, contentType: string, error: AwsJsonError): void {
  const headers: Record<string, string> = {};
  if (error.queryError !== undefined) headers['x-amzn-query-error'] = error.queryError;
  sendJson(
    response,
    error.status,
    contentType,
    { __type: error.type, [error.messageField]: error.message },
    headers,
  );
}

/**
 * The error a JSON-protocol AWS endpoint answers for an `X-Amz-Target` it does not know, as the service
 * framework behind AWS's JSON APIs sends it.
 */
export function unknownOperationError(target: string): AwsJsonError {
  return new AwsJsonError(
    'com.amazon.coral.service#UnknownOperationException',
    `Unknown operation ${target || '(no X-Amz-Target header)'}`,
  );
}

/** Parses a JSON request body into a plain object, or throws the AWS `SerializationException`. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.length === 0 ? '{}' : body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new AwsJsonError('com.amazon.coral.service#SerializationException', 'Malformed JSON body.');
    }
    throw error;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AwsJsonError(
      'com.amazon.coral.service#SerializationException',
      'The body must be a JSON object.',
    );
  }
  return value as Record<string, unknown>;
}

/** A JSON request object, as the AWS JSON protocols send an operation's input. */
export type JsonObject = Record<string, unknown>;

function serializationError(field: string, expected: string): AwsJsonError {
  return new AwsJsonError(
    'com.amazon.coral.service#SerializationException',
    `Field ${field} must be ${expected}.`,
  );
}

/** Reads an optional string member; a value of another JSON type is a `SerializationException`, as AWS answers. */
export function readString(input: JsonObject, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serializationError(field, 'a string');
  return value;
}

/** Reads an optional number member. */
export function readNumber(input: JsonObject, field: string): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw serializationError(field, 'a number');
  return value;
}

/** Reads an optional boolean member. */
export function readBoolean(input: JsonObject, field: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw serializationError(field, 'a boolean');
  return value;
}

/** Reads an optional list of strings. */
export function readStringList(input: JsonObject, field: string): string[] | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw serializationError(field, 'a list of strings');
  }
  return value as string[];
}

/** Reads an optional list of objects. */
export function readObjectList(input: JsonObject, field: string): JsonObject[] | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.some((item) => item === null || typeof item !== 'object' || Array.isArray(item))
  ) {
    throw serializationError(field, 'a list of structures');
  }
  return value as JsonObject[];
}

/** Reads an optional map of strings to strings. */
export function readStringMap(input: JsonObject, field: string): Record<string, string> | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw serializationError(field, 'a map');
  const entries = Object.entries(value as JsonObject);
  if (entries.some(([, item]) => typeof item !== 'string'))
    throw serializationError(field, 'a map of strings');
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Reads an optional map of strings to structures. */
export function readObjectMap(input: JsonObject, field: string): Record<string, JsonObject> | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw serializationError(field, 'a map');
  const entries = Object.entries(value as JsonObject);
  if (entries.some(([, item]) => item === null || typeof item !== 'object' || Array.isArray(item))) {
    throw serializationError(field, 'a map of structures');
  }
  return Object.fromEntries(entries) as Record<string, JsonObject>;
}

/** One operation of an AWS JSON-protocol emulator; `signal` fires when the client leaves or the emulator closes. */
export type AwsJsonOperation = (input: JsonObject, signal: AbortSignal) => JsonObject | Promise<JsonObject>;

/** What an AWS JSON-protocol emulator serves, for {@link startAwsJsonServer}. */
export interface AwsJsonServiceProps {
  /** The `X-Amz-Target` prefix, e.g. `AmazonSSM.`. */
  readonly targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`, as the service speaks. */
  readonly contentType: string;
  /** The largest request body accepted; a larger one is answered with `describeError(BodyTooLargeError)`. */
  readonly maxRequestBytes: number;
  /** The operations by name (the target without its prefix); any other target is `UnknownOperationException`. */
  readonly operations: Readonly<Record<string, AwsJsonOperation>>;
  /** The service's own answer to an error that is not an {@link AwsJsonError}: a body too large, or a fault. */
  readonly describeError: (error: unknown) => AwsJsonError;
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
}

/** A running AWS JSON-protocol server. */
export interface AwsJsonServer {
  /** The endpoint origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request served, in order (`action` is the operation name). */
  readonly calls: CallRecord[];
  /** Aborts the operations in progress (a long poll, …) and stops the server. */
  close(): Promise<void>;
}

/**
 * Starts an AWS JSON 1.0/1.1 endpoint on 127.0.0.1: `POST /` with `X-Amz-Target: <prefix><Operation>`, a bounded
 * body parsed as a JSON object, the operation's output as 200, and every error in the service's JSON error shape.
 */
export async function startAwsJsonServer(props: AwsJsonServiceProps): Promise<AwsJsonServer> {
  const { targetPrefix, contentType, maxRequestBytes, operations, describeError } = props;
  const calls: CallRecord[] = [];
  const shutdown = new AbortController();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = request.headers['x-amz-target'];
    const targetText = typeof target === 'string' ? target : '';
    const action = targetText.startsWith(targetPrefix) ? targetText.slice(targetPrefix.length) : targetText;
    calls.push({ action, at: Date.now() });
    // A client that gives up on a long poll must not be handed messages it will never see.
    const requestAbort = new AbortController();
    response.on('close', () => requestAbort.abort());
    const signal = AbortSignal.any([requestAbort.signal, shutdown.signal]);
    try {
      const body = await readBody(request, maxRequestBytes);
      const operation = request.method === 'POST' ? operations[action] : undefined;
      if (operation === undefined || !targetText.startsWith(targetPrefix))
        throw unknownOperationError(targetText);
      const output = await operation(parseJsonObject(body), signal);
      if (!response.writableEnded && !response.destroyed) sendJson(response, 200, contentType, output);
    } catch (error) {
      if (response.destroyed) return;
      sendJsonError(response, contentType, error instanceof AwsJsonError ? error : describeError(error));
    }
  };

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const url = await listen(server, props.port);
  return {
    url,
    calls,
    close: async () => {
      shutdown.abort();
      await closeServer(server);
    },
  };
}
