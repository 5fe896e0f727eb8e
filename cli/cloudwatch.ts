/**
 * The age of a queue's oldest message. SQS's own API does not report it (GetQueueAttributes has no such
 * attribute, and receiving a message to look at it would count as a receive toward the DLQ); CloudWatch's
 * `AWS/SQS ApproximateAgeOfOldestMessage` does. The package ships no CloudWatch client, so this one read is a
 * SigV4-signed `GetMetricStatistics` query request, with the credentials and region the SQS client resolved.
 */
import { createHash, createHmac } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** Credentials as the AWS SDK resolves them. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** What {@link signQueryRequest} needs. */
export interface SignQueryRequestInput {
  readonly url: URL;
  readonly region: string;
  readonly service: string;
  readonly credentials: SigningCredentials;
  readonly now: Date;
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as SigV4 canonicalises query strings. */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Signs a GET request whose parameters are all in the query string (AWS Signature Version 4).
 * @returns the headers to send with it.
 */
export function signQueryRequest(input: SignQueryRequestInput): Record<string, string> {
  const amzDate = input.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const dateStamp = amzDate.slice(0, 8);
  const query = [...input.url.searchParams.entries()]
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a, aValue], [b, bValue]) => (a === b ? (aValue < bValue ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const headers: Record<string, string> = { host: input.url.host, 'x-amz-date': amzDate };
  if (input.credentials.sessionToken !== undefined)
    headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${(headers[name] ?? '').trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    'GET',
    input.url.pathname === '' ? '/' : input.url.pathname,
    query,
    canonicalHeaders,
    signedHeaders,
    sha256Hex(''),
  ].join('\n');
  const scope = `${dateStamp}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, dateStamp), input.region), input.service),
    'aws4_request',
  );
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  const { host: _host, ...sent } = headers;
  return {
    ...sent,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

/** The CloudWatch endpoint of a region; `AWS_ENDPOINT_URL_CLOUDWATCH` (the SDK's standard variable) overrides it. */
export function cloudWatchEndpoint(region: string, env: NodeJS.ProcessEnv): string {
  const custom = env.AWS_ENDPOINT_URL_CLOUDWATCH ?? env.AWS_ENDPOINT_URL;
  if (custom !== undefined && custom !== '') return custom;
  return `https://monitoring.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** Reads the newest `Maximum` datapoint of a `GetMetricStatistics` XML response; `null` when there is none. */
export function readNewestMaximum(xml: string): number | null {
  let newest: { readonly at: number; readonly value: number } | null = null;
  for (const member of xml.matchAll(/<member>([\s\S]*?)<\/member>/g)) {
    const body = member[1] ?? '';
    const value = Number(/<Maximum>([^<]+)<\/Maximum>/.exec(body)?.[1]);
    const at = Date.parse(/<Timestamp>([^<]+)<\/Timestamp>/.exec(body)?.[1] ?? '');
    if (Number.isFinite(value) && !Number.isNaN(at) && (newest === null || at > newest.at))
      newest = { at, value };
  }
  return newest?.value ?? null;
}

/** How far back to look: SQS publishes its metrics every minute, a few minutes late. */
const LOOKBACK_MS = 15 * 60 * 1000;

/**
 * The age in seconds of the queue's oldest message from CloudWatch, or `null` when CloudWatch has no datapoint
 * or cannot be read (no `cloudwatch:GetMetricStatistics` permission, no network): the status shows it unknown.
 */
export async function readOldestMessageAge(
  sqs: SQSClient,
  queueUrl: string,
  env: NodeJS.ProcessEnv = process.env,
  now: Date = new Date(),
): Promise<number | null> {
  const queueName = queueUrl
    .split('/')
    .filter((part) => part !== '')
    .at(-1);
  if (queueName === undefined) return null;
  try {
    const region = await sqs.config.region();
    const credentials = await sqs.config.credentials();
    const url = new URL(cloudWatchEndpoint(region, env));
    const parameters: Record<string, string> = {
      Action: 'GetMetricStatistics',
      Version: '2010-08-01',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      'Dimensions.member.1.Name': 'QueueName',
      'Dimensions.member.1.Value': queueName,
      StartTime: new Date(now.getTime() - LOOKBACK_MS).toISOString(),
      EndTime: now.toISOString(),
      Period: '60',
      'Statistics.member.1': 'Maximum',
    };
    // RFC 3986 on the wire too, so that what is sent is exactly what was signed.
    url.search = Object.entries(parameters)
      .map(([name, value]) => `${encodeRfc3986(name)}=${encodeRfc3986(value)}`)
      .join('&');
    const headers = signQueryRequest({ url, region, service: 'monitoring', credentials, now });
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return null;
    return readNewestMaximum(await response.text());
  } catch (error) {
    if (error instanceof Error) return null;
    throw error;
  }
}
