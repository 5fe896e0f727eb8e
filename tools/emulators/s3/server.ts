/**
 * The local S3: s3rver (run in a child process) behind a thin streaming proxy that makes it behave like S3 where the
 * sync path depends on it, and that sends AWS-shaped event notifications.
 *
 * ```ts
 * const s3 = await startLocalS3({ directory: '.local/s3', buckets: ['ticket-files'], prefix: 'tickets/',
 *   notify: async (body) => { await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body })); } });
 * const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true,
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 * What the proxy adds to s3rver 3.7.1:
 * - Notifications: after each successful PutObject, CopyObject, CompleteMultipartUpload, PutObjectTagging and
 *   DeleteObjectTagging under `prefix`, it reads the object back (HeadObject) and calls `notify` with a
 *   {@link buildS3Notification} body (URL-encoded key, eTag, size, and for a write a monotonic hex sequencer)
 *   before answering the client. s3rver's own events carry raw keys and eventVersion 2.0, and none exist for tag
 *   changes.
 * - Conditional reads: `If-Match`, `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since` on GetObject and
 *   HeadObject are evaluated against the object's ETag (412 `PreconditionFailed` in S3's XML shape, or 304), since
 *   s3rver ignores `If-Match`.
 * - Tagging: kept by the proxy beside the object (`x-amz-tagging` on PutObject and CreateMultipartUpload, the
 *   `x-amz-tagging-directive` of CopyObject, Get/Put/DeleteObjectTagging, `x-amz-tagging-count` on reads): s3rver's
 *   own tagging alters values.
 * - `aws-chunked` request bodies (the SDK's default flexible checksums on a streamed upload) are decoded, and a
 *   trailing CRC32/SHA-1/SHA-256 checksum verified; s3rver would store the frames as the content. Clients may also
 *   set `requestChecksumCalculation: 'WHEN_REQUIRED'` and `responseChecksumValidation: 'WHEN_REQUIRED'`
 *   (the project's S3 client does so for custom endpoints); the proxy accepts both.
 * - Any credentials: the proxy drops the signature (s3rver knows only its own `S3RVER` key and does not verify
 *   SigV4 anyway). Path-style addressing only (`forcePathStyle: true`).
 * - A fault for tests and the soak ({@link LocalS3.setFaults}): requests of the named operations on keys that
 *   contain a marker are never answered (a hung call), until the client gives up or the proxy closes.
 *
 * Bodies are streamed both ways (a 5 GiB upload is never buffered); headers (`x-amz-meta-*`, `Range`, …) and status
 * codes pass through. s3rver has no versioning: each write replaces the object and its ETag is the content's MD5,
 * so a rewrite with the same content keeps its ETag (real S3 without versioning behaves the same for single-part
 * uploads). Multipart ETags are the whole content's MD5 too, not S3's `md5-of-parts-N`.
 */
import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildS3Notification } from '../../../lib/s3-notification.ts';
import { BodyTooLargeError, type CallRecord, closeServer, listen, readBody } from '../http.ts';
import { AwsChunkedDecodeError, AwsChunkedDecoder, isAwsChunked } from './aws-chunked.ts';
import {
  escapeXml,
  InvalidTagError,
  type ObjectTag,
  parseTaggingHeader,
  parseTaggingXml,
  TagStore,
  taggingXml,
} from './object-tags.ts';
import { type S3rverProcess, startS3rverProcess } from './s3rver-process.ts';

/** A running local S3. */
export interface LocalS3 {
  /** The endpoint origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  close(): Promise<void>;
  /** How many notifications `notify` accepted so far. */
  readonly notifications: number;
  /** Every request served, in order (`action` is the S3 operation name, e.g. `PutObject`). */
  readonly calls: CallRecord[];
  /** Replaces the faults in force (`{}` turns them off). */
  setFaults(faults: S3Faults): void;
  /** Requests left unanswered by the `hang` fault so far. */
  readonly hungRequests: number;
}

/** Faults of the local S3. */
export interface S3Faults {
  /** Requests of these operations (`HeadObject`, `GetObjectTagging`, …) on keys containing `keyIncludes` hang. */
  readonly hang?: { readonly actions: readonly string[]; readonly keyIncludes: string } | undefined;
}

/** Options of {@link startLocalS3}. */
export interface LocalS3Options {
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** Where s3rver keeps the buckets. */
  readonly directory: string;
  /** Buckets created at start (existing ones are kept). */
  readonly buckets: readonly string[];
  /** Receives each notification body (the SQS message body S3 would send). */
  readonly notify: (body: string) => Promise<void>;
  /** Only keys under this prefix notify. @default '' (all) */
  readonly prefix?: string;
  /** `awsRegion` of the notifications. @default 'us-east-1' */
  readonly region?: string;
  /** Told when `notify` fails; the write itself still succeeds, as in S3. @default a line on stderr */
  readonly onNotifyError?: (error: unknown, bucket: string, key: string) => void;
}

/** Query parameters of presigned URLs (SigV4 and SigV2), removed before s3rver sees the request. */
const PRESIGN_PARAMETERS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'AWSAccessKeyId',
  'Signature',
  'Expires',
];
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'expect',
];
const CONDITIONAL_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];
/** Object subresources that are not plain object reads or writes. */
const OBJECT_SUBRESOURCES = [
  'acl',
  'tagging',
  'uploads',
  'uploadId',
  'partNumber',
  'legal-hold',
  'retention',
  'torrent',
  'select',
  'restore',
  'attributes',
];
const MAX_XML_BODY = 1024 * 1024;

/** An error the proxy answers itself, in S3's XML error shape. */
class S3ProxyError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, extra: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'S3ProxyError';
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function sendXml(
  response: ServerResponse,
  status: number,
  xml: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = Buffer.from(xml, 'utf8');
  response.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': String(body.length),
    'x-amz-request-id': requestId(),
    ...headers,
  });
  response.end(body);
}

function sendError(response: ServerResponse, error: S3ProxyError, method: string | undefined): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (method === 'HEAD') {
    // S3 answers HEAD errors without a body.
    response.writeHead(error.status, { 'x-amz-request-id': requestId() });
    response.end();
    return;
  }
  const extra = Object.entries(error.extra)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  const id = requestId();
  sendXml(
    response,
    error.status,
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${extra}<RequestId>${id}</RequestId><HostId>${Buffer.from(id).toString('base64')}</HostId></Error>`,
  );
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** ETags of an `If-Match` / `If-None-Match` header, quotes and weak markers removed. */
function listedETags(value: string): string[] {
  return value.split(',').map((item) => item.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
}

function etagMatches(value: string, eTag: string): boolean {
  const tags = listedETags(value);
  return tags.includes('*') || tags.includes(eTag);
}

/**
 * RFC 7232 precedence, as S3 documents it: a true `If-Match` wins over a false `If-Unmodified-Since`, and
 * `If-None-Match` decides alone when present.
 */
function evaluatePreconditions(
  headers: IncomingHttpHeaders,
  eTag: string,
  lastModified: number,
): { status: 412; condition: string } | { status: 304 } | undefined {
  const ifMatch = header(headers, 'if-match');
  const ifUnmodifiedSince = header(headers, 'if-unmodified-since');
  const ifNoneMatch = header(headers, 'if-none-match');
  const ifModifiedSince = header(headers, 'if-modified-since');
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, eTag)) return { status: 412, condition: 'If-Match' };
  } else if (ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(since) && lastModified > since)
      return { status: 412, condition: 'If-Unmodified-Since' };
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, eTag)) return { status: 304 };
  } else if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (!Number.isNaN(since) && lastModified <= since) return { status: 304 };
  }
  return undefined;
}

function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function readResponse(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function responseHeaders(
  upstream: IncomingMessage,
  overrides: OutgoingHttpHeaders = {},
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value !== undefined && !HOP_BY_HOP.includes(name)) headers[name] = value;
  }
  return { ...headers, ...overrides };
}

/** Starts s3rver and the notifying proxy in front of it. */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const upstream: S3rverProcess = await startS3rverProcess({
    directory: options.directory,
    buckets: options.buckets,
  });
  const upstreamUrl = new URL(upstream.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const tags = new TagStore(options.directory);
  const prefix = options.prefix ?? '';
  const region = options.region ?? 'us-east-1';
  const pendingUploadTags = new Map<string, readonly ObjectTag[]>();
  const calls: CallRecord[] = [];
  let faults: S3Faults = {};
  let hungRequests = 0;
  let notifications = 0;
  let lastSequencer = 0n;
  const onNotifyError =
    options.onNotifyError ??
    ((error: unknown, bucket: string, key: string) => {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`local S3: the notification for s3://${bucket}/${key} failed: ${message}\n`);
    });

  /** Sends a request to s3rver; `body` is streamed when given. */
  const forward = (
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body?: Readable,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        { host: upstreamUrl.hostname, port: upstreamUrl.port, method, path, headers, agent },
        resolve,
      );
      outgoing.once('error', reject);
      if (body === undefined) {
        outgoing.end();
        return;
      }
      pipeline(body, outgoing).catch((error: unknown) => {
        outgoing.destroy();
        reject(error);
      });
    });

  const headObject = async (
    bucket: string,
    key: string,
  ): Promise<{ eTag: string; size: number } | undefined> => {
    const response = await forward('HEAD', objectPath(bucket, key), { host: upstreamUrl.host });
    response.resume();
    if (response.statusCode === 404) return undefined;
    if (response.statusCode !== 200) {
      throw new S3ProxyError(502, 'InternalError', `s3rver answered HeadObject with ${response.statusCode}.`);
    }
    return {
      eTag: String(response.headers.etag ?? '').replace(/^"|"$/g, ''),
      size: Number(response.headers['content-length'] ?? 0),
    };
  };

  const nextSequencer = (): string => {
    const candidate = BigInt(Date.now()) << 20n;
    lastSequencer = candidate > lastSequencer ? candidate : lastSequencer + 1n;
    return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
  };

  const notifyEvent = async (
    eventName: string,
    bucket: string,
    key: string,
    withSize: boolean,
  ): Promise<void> => {
    if (!key.startsWith(prefix)) return;
    try {
      const head = await headObject(bucket, key);
      if (head === undefined) return;
      const body = buildS3Notification([
        {
          eventName,
          bucket,
          key,
          size: withSize ? head.size : undefined,
          eTag: head.eTag,
          // S3 documents a sequencer on the events of writes that create or delete objects ("only used with PUTs
          // and DELETEs": https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
          // so a tag change gets none here (the stricter reading): its order is unknown to the function.
          sequencer: eventName.startsWith('ObjectCreated:') ? nextSequencer() : undefined,
          eventTime: new Date(),
          region,
        },
      ]);
      await options.notify(body);
      notifications += 1;
    } catch (error) {
      onNotifyError(error, bucket, key);
    }
  };

  const requireObject = async (bucket: string, key: string) => {
    const head = await headObject(bucket, key);
    if (head === undefined) {
      throw new S3ProxyError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    }
    return head;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    // Parsed by hand: the URL class would resolve "." and ".." segments that s3rver then sees unresolved.
    const rawUrl = request.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
    const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
    let bucket: string;
    let key: string;
    try {
      const segments = rawPath.split('/').slice(1).map(decodeURIComponent);
      bucket = segments[0] ?? '';
      key = segments.slice(1).join('/');
    } catch (error) {
      if (!(error instanceof URIError)) throw error;
      calls.push({ action: 'Invalid', at: Date.now() });
      sendError(response, new S3ProxyError(400, 'InvalidURI', "Couldn't parse the specified URI."), method);
      return;
    }
    let strippedQuery = false;
    for (const name of PRESIGN_PARAMETERS) {
      if (query.has(name)) {
        query.delete(name);
        strippedQuery = true;
      }
    }
    const path = strippedQuery ? `${rawPath}${query.size > 0 ? `?${query.toString()}` : ''}` : rawUrl;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && name !== 'authorization' && !HOP_BY_HOP.includes(name))
        headers[name] = value;
    }
    const isObject = bucket !== '' && key !== '';
    const plain = !OBJECT_SUBRESOURCES.some((name) => query.has(name));
    const action = !isObject
      ? bucket === ''
        ? 'ListBuckets'
        : `${method === 'GET' ? 'ListObjects' : method === 'PUT' ? 'CreateBucket' : method === 'POST' ? 'DeleteObjects' : `${method}Bucket`}`
      : query.has('tagging')
        ? `${method === 'GET' ? 'Get' : method === 'PUT' ? 'Put' : 'Delete'}ObjectTagging`
        : method === 'PUT' && query.has('uploadId')
          ? 'UploadPart'
          : method === 'PUT' && plain
            ? request.headers['x-amz-copy-source'] !== undefined
              ? 'CopyObject'
              : 'PutObject'
            : method === 'POST' && query.has('uploads')
              ? 'CreateMultipartUpload'
              : method === 'POST' && query.has('uploadId')
                ? 'CompleteMultipartUpload'
                : method === 'DELETE' && query.has('uploadId')
                  ? 'AbortMultipartUpload'
                  : (method === 'GET' || method === 'HEAD') && plain
                    ? method === 'GET'
                      ? 'GetObject'
                      : 'HeadObject'
                    : method === 'DELETE' && plain
                      ? 'DeleteObject'
                      : `${method}Object`;
    calls.push({ action, at: Date.now() });
    const hang = faults.hang;
    if (isObject && hang?.actions.includes(action) && key.includes(hang.keyIncludes)) {
      // Never answered: only the client's own timeout or abort (or the proxy closing) ends the request.
      hungRequests += 1;
      request.resume();
      return;
    }
    if (isObject && key.split('/').some((segment) => segment === '.' || segment === '..')) {
      // s3rver maps keys to file paths: such a segment would collide with another key or leave its directory.
      sendError(
        response,
        new S3ProxyError(
          400,
          'InvalidArgument',
          'The local S3 does not accept keys with "." or ".." segments.',
        ),
        method,
      );
      return;
    }

    /** The request body as s3rver should store it: `aws-chunked` frames removed. */
    const payload = (): Readable => {
      if (!isAwsChunked(request.headers)) return request;
      const decodedLength = header(request.headers, 'x-amz-decoded-content-length');
      const decoder = new AwsChunkedDecoder({
        expectedLength: decodedLength === undefined ? undefined : Number(decodedLength),
        trailerName: header(request.headers, 'x-amz-trailer'),
      });
      const encoding = (header(request.headers, 'content-encoding') ?? '')
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '' && part !== 'aws-chunked')
        .join(',');
      if (encoding === '') delete headers['content-encoding'];
      else headers['content-encoding'] = encoding;
      delete headers['x-amz-decoded-content-length'];
      delete headers['x-amz-trailer'];
      delete headers['content-length'];
      headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      if (decodedLength !== undefined) headers['content-length'] = decodedLength;
      request.pipe(decoder);
      request.once('error', (error) => decoder.destroy(error));
      return decoder;
    };

    /** Forwards and answers with s3rver's response, streamed. */
    const relay = async (body?: Readable, overrides: OutgoingHttpHeaders = {}): Promise<IncomingMessage> => {
      const upstreamResponse = await forward(method, path, headers, body);
      response.writeHead(upstreamResponse.statusCode ?? 502, responseHeaders(upstreamResponse, overrides));
      await pipeline(upstreamResponse, response);
      return upstreamResponse;
    };

    /** Forwards, then runs `after` on success before answering with s3rver's (small) response. */
    const forwardThen = async (
      body: Readable | undefined,
      after: (responseBody: Buffer) => Promise<void> | void,
    ): Promise<void> => {
      let upstreamResponse: IncomingMessage;
      try {
        upstreamResponse = await forward(method, path, headers, body ?? request);
      } catch (error) {
        if (error instanceof AwsChunkedDecodeError) {
          // s3rver may hold a partial object now: remove it, as S3 keeps no object for a failed upload.
          (await forward('DELETE', objectPath(bucket, key), { host: upstreamUrl.host })).resume();
          throw new S3ProxyError(400, error.code, error.message);
        }
        throw error;
      }
      const responseBody = await readResponse(upstreamResponse);
      const status = upstreamResponse.statusCode ?? 502;
      if (status >= 200 && status < 300 && !responseBody.includes('<Error>')) await after(responseBody);
      response.writeHead(
        status,
        responseHeaders(upstreamResponse, { 'content-length': String(responseBody.length) }),
      );
      response.end(responseBody);
    };

    try {
      switch (action) {
        case 'PutObject': {
          const given = header(request.headers, 'x-amz-tagging');
          const objectTags = given === undefined ? [] : parseTaggingHeader(given);
          await forwardThen(payload(), async () => {
            tags.write(bucket, key, objectTags);
            await notifyEvent('ObjectCreated:Put', bucket, key, true);
          });
          return;
        }
        case 'CopyObject': {
          const source = header(request.headers, 'x-amz-copy-source') ?? '';
          const [sourceBucket = '', ...sourceKeyParts] = decodeURIComponent(source.split('?')[0] ?? '')
            .replace(/^\//, '')
            .split('/');
          const sourceKey = sourceKeyParts.join('/');
          // s3rver reads the header with decodeURI, which would leave %2B, %3D, … encoded.
          headers['x-amz-copy-source'] = encodeURI(`/${sourceBucket}/${sourceKey}`);
          const replace = header(request.headers, 'x-amz-tagging-directive') === 'REPLACE';
          const objectTags = replace
            ? parseTaggingHeader(header(request.headers, 'x-amz-tagging') ?? '')
            : tags.read(sourceBucket, sourceKey);
          await forwardThen(undefined, async () => {
            tags.write(bucket, key, objectTags);
            await notifyEvent('ObjectCreated:Copy', bucket, key, true);
          });
          return;
        }
        case 'CreateMultipartUpload': {
          const given = header(request.headers, 'x-amz-tagging');
          const objectTags = given === undefined ? [] : parseTaggingHeader(given);
          await forwardThen(undefined, (responseBody) => {
            const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(responseBody.toString('utf8'))?.[1];
            if (uploadId !== undefined) pendingUploadTags.set(uploadId, objectTags);
          });
          return;
        }
        case 'CompleteMultipartUpload': {
          const uploadId = query.get('uploadId') ?? '';
          await forwardThen(undefined, async () => {
            tags.write(bucket, key, pendingUploadTags.get(uploadId) ?? []);
            pendingUploadTags.delete(uploadId);
            await notifyEvent('ObjectCreated:CompleteMultipartUpload', bucket, key, true);
          });
          return;
        }
        case 'UploadPart':
          await relay(payload());
          return;
        case 'GetObjectTagging': {
          await requireObject(bucket, key);
          sendXml(response, 200, taggingXml(tags.read(bucket, key)));
          return;
        }
        case 'PutObjectTagging': {
          const objectTags = parseTaggingXml((await readBody(request, MAX_XML_BODY)).toString('utf8'));
          await requireObject(bucket, key);
          tags.write(bucket, key, objectTags);
          await notifyEvent('ObjectTagging:Put', bucket, key, false);
          response.writeHead(200, { 'x-amz-request-id': requestId(), 'content-length': '0' });
          response.end();
          return;
        }
        case 'DeleteObjectTagging': {
          await requireObject(bucket, key);
          tags.write(bucket, key, []);
          await notifyEvent('ObjectTagging:Delete', bucket, key, false);
          response.writeHead(204, { 'x-amz-request-id': requestId() });
          response.end();
          return;
        }
        case 'GetObject':
        case 'HeadObject': {
          for (const name of CONDITIONAL_HEADERS) delete headers[name];
          const upstreamResponse = await forward(method, path, headers, request);
          const status = upstreamResponse.statusCode ?? 502;
          if (status === 200 || status === 206) {
            const eTag = String(upstreamResponse.headers.etag ?? '').replace(/^"|"$/g, '');
            const lastModified = Date.parse(String(upstreamResponse.headers['last-modified'] ?? ''));
            const failed = evaluatePreconditions(request.headers, eTag, lastModified);
            if (failed !== undefined) {
              upstreamResponse.destroy();
              if (failed.status === 412) {
                throw new S3ProxyError(
                  412,
                  'PreconditionFailed',
                  'At least one of the pre-conditions you specified did not hold',
                  {
                    Condition: failed.condition,
                  },
                );
              }
              response.writeHead(304, {
                etag: upstreamResponse.headers.etag ?? '',
                'last-modified': upstreamResponse.headers['last-modified'] ?? '',
                'x-amz-request-id': requestId(),
              });
              response.end();
              return;
            }
          }
          const objectTags = status === 200 || status === 206 ? tags.read(bucket, key) : [];
          response.writeHead(
            status,
            responseHeaders(
              upstreamResponse,
              objectTags.length > 0 ? { 'x-amz-tagging-count': String(objectTags.length) } : {},
            ),
          );
          await pipeline(upstreamResponse, response);
          return;
        }
        case 'DeleteObject': {
          const upstreamResponse = await relay(request);
          if ((upstreamResponse.statusCode ?? 500) < 300) tags.remove(bucket, key);
          return;
        }
        default:
          await relay(request);
      }
    } catch (error) {
      if (error instanceof S3ProxyError) sendError(response, error, method);
      else if (error instanceof InvalidTagError)
        sendError(response, new S3ProxyError(400, 'InvalidTag', error.message), method);
      else if (error instanceof BodyTooLargeError) {
        sendError(response, new S3ProxyError(400, 'MalformedXML', error.message), method);
      } else if (error instanceof Error) {
        // The client went away or s3rver failed mid-stream: nothing sensible can be answered any more.
        if (response.headersSent || request.destroyed) response.destroy();
        else
          sendError(
            response,
            new S3ProxyError(503, 'ServiceUnavailable', `Local S3 error: ${error.message}`),
            method,
          );
      } else {
        throw error;
      }
    }
  };

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  // No limit on a request's whole time (Node's default ends one after 300 s): S3 never cuts a PUT in progress, and a
  // 5 GiB PUT takes longer than that on a busy machine.
  server.requestTimeout = 0;
  let url: string;
  try {
    url = await listen(server, options.port);
  } catch (error) {
    await upstream.stop();
    throw error;
  }
  return {
    url,
    calls,
    get notifications() {
      return notifications;
    },
    get hungRequests() {
      return hungRequests;
    },
    setFaults(next) {
      faults = next;
    },
    close: async () => {
      await closeServer(server);
      agent.destroy();
      await upstream.stop();
    },
  };
}
