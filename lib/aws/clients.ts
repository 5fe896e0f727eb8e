/**
 * AWS SDK clients, configured the same way for the function, the CLI and the local stack. Endpoints come from the
 * SDK's standard variables (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_SQS`,
 * `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`), read from `options.env` so that an embedded local stack can pass
 * its own; unset, the SDK resolves AWS's endpoints.
 *
 * Every client is bounded: a connection that is not up within {@link DEFAULT_AWS_TIMEOUTS}`.connectionMs` and a
 * request without an answer (or a socket idle) for `requestMs` fail with a `TimeoutError`, which the SDK retries
 * like any network error, and every call of the sync also carries the invocation's deadline as its `abortSignal`.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Options shared by the client factories. */
export interface AwsClientOptions {
  readonly region?: string | undefined;
  /** The environment to read custom endpoints and timeouts from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the SDK's own warnings go (it writes to the console when a client has no logger). */
  readonly logger?: AwsSdkLogger | undefined;
}

/** The logger shape the AWS SDK v3 clients take (`logger` in their config). */
export interface AwsSdkLogger {
  debug(...content: unknown[]): void;
  info(...content: unknown[]): void;
  warn(...content: unknown[]): void;
  error(...content: unknown[]): void;
}

/** The bounds of one AWS call. */
export interface AwsTimeouts {
  /** Until the TCP (and TLS) connection is up. */
  readonly connectionMs: number;
  /** Until the response headers arrive, and the longest a socket may stay idle while a body streams. */
  readonly requestMs: number;
}

/**
 * The defaults: S3, SSM and SQS answer in milliseconds; 30 s leaves room for SQS long polls (at most 20 s) and for
 * a slow first byte of a large GetObject. `AWS_CONNECTION_TIMEOUT_MS` and `AWS_REQUEST_TIMEOUT_MS` override them
 * (tests shorten them).
 */
export const DEFAULT_AWS_TIMEOUTS: AwsTimeouts = { connectionMs: 3000, requestMs: 30_000 };

function positive(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isFinite(parsed) && parsed > 0
    ? parsed
    : fallback;
}

/** The timeouts in force for an environment. */
export function resolveAwsTimeouts(env: NodeJS.ProcessEnv = process.env): AwsTimeouts {
  return {
    connectionMs: positive(env.AWS_CONNECTION_TIMEOUT_MS, DEFAULT_AWS_TIMEOUTS.connectionMs),
    requestMs: positive(env.AWS_REQUEST_TIMEOUT_MS, DEFAULT_AWS_TIMEOUTS.requestMs),
  };
}

/**
 * The slowest upload a body-carrying call's request timeout allows for (64 KiB/s, half a megabit: a poor uplink), on
 * top of the usual timeout. A stalled upload ends sooner, at the socket's idle timeout.
 */
export const MIN_UPLOAD_BYTES_PER_SECOND = 64 * 1024;

/**
 * The options to send a call that carries a body of `bytes` with (a PutObject of the CLI's `upload`, the demo, the
 * bench): the SDK's request timeout runs until the response arrives (`@smithy/node-http-handler` clears it on the
 * response, after the whole body is sent), so the usual 30 s would fail any upload slower than that; it gets the
 * usual timeout plus the time the body takes at {@link MIN_UPLOAD_BYTES_PER_SECOND}. The socket's idle timeout still
 * ends a stalled upload after `AWS_REQUEST_TIMEOUT_MS`.
 */
export function uploadSendOptions(
  bytes: number,
  env: NodeJS.ProcessEnv = process.env,
): { readonly requestTimeout: number } {
  const bodyMs = Math.ceil((Math.max(0, bytes) / MIN_UPLOAD_BYTES_PER_SECOND) * 1000);
  return { requestTimeout: resolveAwsTimeouts(env).requestMs + bodyMs };
}

/**
 * The `requestHandler` option of any SDK v3 client (the `NodeHttpHandler`'s options, which the client turns into
 * its handler): connection timeout, request timeout that throws (without `throwOnRequestTimeout` the handler only
 * logs a warning), and a socket idle timeout that bounds a streamed body.
 */
export function boundedRequestHandler(env: NodeJS.ProcessEnv = process.env) {
  const timeouts = resolveAwsTimeouts(env);
  return {
    connectionTimeout: timeouts.connectionMs,
    requestTimeout: timeouts.requestMs,
    throwOnRequestTimeout: true,
    socketTimeout: timeouts.requestMs,
  };
}

/**
 * The shared part of every client's configuration: region, the service's custom endpoint when the environment
 * names one, and the bounded request handler. For clients the project has no factory for (Lambda, …).
 */
export function awsClientConfig(endpointVariable: string | undefined, options: AwsClientOptions = {}) {
  const env = options.env ?? process.env;
  const endpoint =
    (endpointVariable === undefined ? undefined : env[endpointVariable]) ?? env.AWS_ENDPOINT_URL;
  return {
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    ...(endpoint ? { endpoint } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    requestHandler: boundedRequestHandler(env),
  };
}

/**
 * An S3 client. With a custom endpoint (an S3-compatible server such as the local stack's s3rver) it uses path-style
 * addressing and sends checksums only where S3 requires them: s3rver stores a streamed body sent with the SDK's
 * default flexible checksums (aws-chunked encoding) corrupted.
 */
export function createS3Client(options: AwsClientOptions = {}): S3Client {
  const config: S3ClientConfig = awsClientConfig('AWS_ENDPOINT_URL_S3', options);
  if (config.endpoint) {
    Object.assign(config, {
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    } satisfies S3ClientConfig);
  }
  return new S3Client(config);
}

/** An SSM client. */
export function createSsmClient(options: AwsClientOptions = {}): SSMClient {
  return new SSMClient(awsClientConfig('AWS_ENDPOINT_URL_SSM', options));
}

/** An SQS client. */
export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(awsClientConfig('AWS_ENDPOINT_URL_SQS', options));
}

/**
 * An SQS client made on first use, its SDK loaded only then: the sync function calls SQS on a failure path only
 * (a retry delay, a requeue, a dead letter), so a cold start does not pay for the SDK (BENCHMARKS.md, cold start).
 */
export function createLazySqsClient(options: AwsClientOptions = {}): () => Promise<SQSClient> {
  let client: Promise<SQSClient> | undefined;
  return () => {
    client ??= import('@aws-sdk/client-sqs').then(
      ({ SQSClient: Client }) => new Client(awsClientConfig('AWS_ENDPOINT_URL_SQS', options)),
    );
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
}

/** The longest an EventBridge call may take: a receipt must never hold its record (or the invocation) for long. */
export const EVENTBRIDGE_REQUEST_TIMEOUT_MS = 5_000;

/**
 * An EventBridge client (receipts), its endpoint from `AWS_ENDPOINT_URL_EVENTBRIDGE`. Bounded like every client,
 * with a request timeout of at most {@link EVENTBRIDGE_REQUEST_TIMEOUT_MS}; the SDK makes one attempt only, since the
 * receipt sender retries failed calls and failed entries itself with the project's retry policy
 * (lib/aws/eventbridge-receipts.ts).
 */
export function createEventBridgeClient(options: AwsClientOptions = {}): EventBridgeClient {
  const config = awsClientConfig('AWS_ENDPOINT_URL_EVENTBRIDGE', options);
  const requestMs = Math.min(config.requestHandler.requestTimeout, EVENTBRIDGE_REQUEST_TIMEOUT_MS);
  return new EventBridgeClient({
    ...config,
    maxAttempts: 1,
    requestHandler: { ...config.requestHandler, requestTimeout: requestMs, socketTimeout: requestMs },
  });
}

/** The export ledger's DynamoDB client (a document client: items as plain objects, `undefined` values left out). */
export function createDynamoDbClient(options: AwsClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient(awsClientConfig('AWS_ENDPOINT_URL_DYNAMODB', options));
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
