/**
 * The oldest-message age that `status` reads from CloudWatch. CloudWatch cannot run here, so a fake endpoint on
 * 127.0.0.1 stands in for it; it checks each request's SigV4 signature with the AWS SDK's own signer
 * (`@smithy/signature-v4`, which the SDK clients sign with), so the CLI's small signer is held to the real one.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { readNewestMaximum, readOldestMessageAge, signQueryRequest } from '../../cli/cloudwatch.ts';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

/** The `Checksum` constructor the SDK's signer asks for, on node:crypto. */
class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret = secret === undefined ? undefined : toBuffer(secret);
    this.#hash = this.#create();
  }

  #create(): ReturnType<typeof createHash> | ReturnType<typeof createHmac> {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#create();
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Signs the same GET as the SDK would, and returns its `authorization` header. */
async function signWithSdk(
  url: URL,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  at: Date,
): Promise<string> {
  const signer = new SignatureV4({
    credentials,
    region: 'eu-west-1',
    service: 'monitoring',
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query,
      headers: { host: url.host },
    },
    { signingDate: at },
  );
  return String(signed.headers.authorization);
}

const METRIC_XML = `<GetMetricStatisticsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricStatisticsResult>
    <Datapoints>
      <member><Timestamp>2026-03-02T09:10:00Z</Timestamp><Maximum>30.0</Maximum><Unit>Seconds</Unit></member>
      <member><Timestamp>2026-03-02T09:12:00Z</Timestamp><Maximum>245.0</Maximum><Unit>Seconds</Unit></member>
      <member><Timestamp>2026-03-02T09:11:00Z</Timestamp><Maximum>180.0</Maximum><Unit>Seconds</Unit></member>
    </Datapoints>
    <Label>ApproximateAgeOfOldestMessage</Label>
  </GetMetricStatisticsResult>
</GetMetricStatisticsResponse>`;

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

async function startFakeCloudWatch(
  answer: (request: IncomingMessage, url: URL) => Promise<{ status: number; body: string }>,
): Promise<string> {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
    answer(request, url).then(
      ({ status, body }) => response.writeHead(status, { 'content-type': 'text/xml' }).end(body),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

describe('the oldest message age from CloudWatch', () => {
  it('signs a query request exactly as the AWS SDK signer does, with and without a session token', async () => {
    // Prepare
    const url = new URL('https://monitoring.eu-west-1.amazonaws.com/');
    url.search =
      'Action=GetMetricStatistics&Version=2010-08-01&Dimensions.member.1.Value=my%20queue&StartTime=2026-03-02T09%3A00%3A00.000Z';
    const at = new Date('2026-03-02T09:15:27Z');
    const withToken = { ...CREDENTIALS, sessionToken: 'session/token+with=odd&chars' };

    // Act
    const ours = signQueryRequest({
      url,
      region: 'eu-west-1',
      service: 'monitoring',
      credentials: CREDENTIALS,
      now: at,
    });
    const oursWithToken = signQueryRequest({
      url,
      region: 'eu-west-1',
      service: 'monitoring',
      credentials: withToken,
      now: at,
    });

    // Assess
    expect(ours.authorization).toBe(await signWithSdk(url, CREDENTIALS, at));
    expect(oursWithToken.authorization).toBe(await signWithSdk(url, withToken, at));
    expect(oursWithToken['x-amz-security-token']).toBe(withToken.sessionToken);
    expect(ours['x-amz-date']).toBe('20260302T091527Z');
  });

  it('reads the newest datapoint of the queue when the signed request is accepted', async () => {
    // Prepare
    const seen: { action: string | null; queue: string | null; signatureValid: boolean }[] = [];
    const endpoint = await startFakeCloudWatch(async (request, url) => {
      const date = String(request.headers['x-amz-date']);
      const at = new Date(
        `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
      );
      const expected = await signWithSdk(url, CREDENTIALS, at);
      seen.push({
        action: url.searchParams.get('Action'),
        queue: url.searchParams.get('Dimensions.member.1.Value'),
        signatureValid: request.headers.authorization === expected,
      });
      return { status: 200, body: METRIC_XML };
    });
    const sqs = new SQSClient({ region: 'eu-west-1', credentials: CREDENTIALS });

    // Act
    const age = await readOldestMessageAge(
      sqs,
      'https://sqs.eu-west-1.amazonaws.com/123456789012/ticket-dropbox-sync-queue',
      { AWS_ENDPOINT_URL_CLOUDWATCH: endpoint },
    );
    sqs.destroy();

    // Assess
    expect(age).toBe(245);
    expect(seen).toEqual([
      { action: 'GetMetricStatistics', queue: 'ticket-dropbox-sync-queue', signatureValid: true },
    ]);
  });

  it('reports the age unknown when CloudWatch refuses the request', async () => {
    // Prepare
    const endpoint = await startFakeCloudWatch(async () => ({
      status: 403,
      body: '<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>',
    }));
    const sqs = new SQSClient({ region: 'eu-west-1', credentials: CREDENTIALS });

    // Act
    const age = await readOldestMessageAge(sqs, 'https://sqs.eu-west-1.amazonaws.com/1/q', {
      AWS_ENDPOINT_URL_CLOUDWATCH: endpoint,
    });
    sqs.destroy();

    // Assess
    expect(age).toBeNull();
  });

  it('finds no age in a response without datapoints', () => {
    // Prepare
    const empty =
      '<GetMetricStatisticsResponse><GetMetricStatisticsResult><Datapoints/></GetMetricStatisticsResult></GetMetricStatisticsResponse>';

    // Act
    const age = readNewestMaximum(empty);

    // Assess
    expect(age).toBeNull();
  });
});
