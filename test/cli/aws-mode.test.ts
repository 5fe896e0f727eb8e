/**
 * The CLI against an AWS deployment (`--instance`), run as a process. S3, SSM and SQS are the local stack's
 * emulators, reached through the SDK's standard endpoint variables; CloudFormation (the stack's outputs), Lambda
 * (the event source mapping) and CloudWatch (the oldest message's age) cannot run here, so one fake control plane on
 * 127.0.0.1 answers the few calls the CLI makes, in the protocols the SDK speaks (awsQuery, restJson1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.ts';
import { type CliRun, runCliProcess } from './run-cli.ts';

const MAPPING_ID = '6f1c2b4a-0000-4000-8000-000000000001';
const KMS_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

interface ControlPlane {
  readonly url: string;
  /** Lambda's answers: the mapping's state, changed by UpdateEventSourceMapping. */
  mappingState: 'Enabled' | 'Disabled' | 'Enabling' | 'Disabling';
  readonly updates: { Enabled?: boolean }[];
  readonly close: () => Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function escapeXml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

async function startControlPlane(stackName: string, outputs: Record<string, string>): Promise<ControlPlane> {
  const plane: Omit<ControlPlane, 'url' | 'close'> = { mappingState: 'Enabled', updates: [] };
  const server: Server = createServer((request, response) => {
    readBody(request).then(
      (body) => {
        const path = request.url ?? '/';
        if (path.startsWith(`/2015-03-31/event-source-mappings/${MAPPING_ID}`)) {
          if (request.method === 'PUT') {
            const update = JSON.parse(body) as { Enabled?: boolean };
            plane.updates.push(update);
            plane.mappingState = update.Enabled === false ? 'Disabling' : 'Enabling';
            const answer = { UUID: MAPPING_ID, State: plane.mappingState };
            // Lambda finishes the change a moment later.
            plane.mappingState = update.Enabled === false ? 'Disabled' : 'Enabled';
            response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
            return;
          }
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ UUID: MAPPING_ID, State: plane.mappingState }));
          return;
        }
        const form = new URLSearchParams(request.method === 'GET' ? (path.split('?')[1] ?? '') : body);
        if (form.get('Action') === 'DescribeStacks') {
          if (form.get('StackName') !== stackName) {
            response
              .writeHead(400, { 'content-type': 'text/xml' })
              .end(
                `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>` +
                  `<Code>ValidationError</Code><Message>Stack with id ${escapeXml(form.get('StackName') ?? '')} does not exist</Message>` +
                  `</Error><RequestId>r1</RequestId></ErrorResponse>`,
              );
            return;
          }
          const members = Object.entries(outputs)
            .map(
              ([key, value]) =>
                `<member><OutputKey>${key}</OutputKey><OutputValue>${escapeXml(value)}</OutputValue></member>`,
            )
            .join('');
          response
            .writeHead(200, { 'content-type': 'text/xml' })
            .end(
              `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks>` +
                `<member><StackName>${stackName}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/1</StackId>` +
                `<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>` +
                `<Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult>` +
                `<ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DescribeStacksResponse>`,
            );
          return;
        }
        if (form.get('Action') === 'GetMetricStatistics') {
          response
            .writeHead(200, { 'content-type': 'text/xml' })
            .end(
              '<GetMetricStatisticsResponse><GetMetricStatisticsResult><Datapoints>' +
                '<member><Timestamp>2026-03-02T09:12:00Z</Timestamp><Maximum>95.0</Maximum><Unit>Seconds</Unit></member>' +
                '</Datapoints></GetMetricStatisticsResult></GetMetricStatisticsResponse>',
            );
          return;
        }
        response.writeHead(400).end(`unexpected request ${request.method} ${path}`);
      },
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(plane, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

let harness: Harness;
let plane: ControlPlane;
let home: string;
let env: NodeJS.ProcessEnv;

async function cli(args: readonly string[]): Promise<CliRun> {
  return runCliProcess(args, { env });
}

beforeAll(async () => {
  harness = await startHarness();
  const { outputs } = harness.stack;
  plane = await startControlPlane('TicketDropboxSync-staging', {
    BucketName: outputs.BucketName,
    KeyPrefix: outputs.KeyPrefix,
    QueueUrl: outputs.QueueUrl,
    QueueArn: outputs.QueueArn,
    DeadLetterQueueUrl: outputs.DeadLetterQueueUrl,
    DeadLetterQueueArn: outputs.DeadLetterQueueArn,
    SettingsPath: outputs.SettingsPath,
    SettingsKmsKeyId: KMS_KEY_ARN,
    FunctionName: 'TicketDropboxSync-staging-SyncToDropbox',
    EventSourceMappingId: MAPPING_ID,
  });
  home = mkdtempSync(join(tmpdir(), 'tds-cli-aws-'));
  const { TICKET_DROPBOX_SYNC_LOCAL: _local, ...stackEnv } = harness.stack.env;
  const { TICKET_DROPBOX_SYNC_LOCAL: _inherited, ...processEnv } = process.env;
  env = {
    ...processEnv,
    ...stackEnv,
    HOME: home,
    AWS_ENDPOINT_URL_CLOUDFORMATION: plane.url,
    AWS_ENDPOINT_URL_LAMBDA: plane.url,
    AWS_ENDPOINT_URL_CLOUDWATCH: plane.url,
  };
});

afterAll(async () => {
  await harness?.close();
  await plane?.close();
  if (home !== undefined) rmSync(home, { recursive: true, force: true });
});

describe('ticket-dropbox-sync against an AWS deployment (--instance)', () => {
  it("finds the deployment from the stack's outputs and reports its status, oldest message age included", async () => {
    // Prepare: the stack outputs name the local emulators' queue and settings.

    // Act
    const run = await cli(['status', '--instance', 'staging', '--json']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      deployment: { kind: 'aws', label: 'stack TicketDropboxSync-staging' },
      flow: { state: 'running' },
      queue: { visible: 0, oldestMessageAgeSeconds: 95 },
      settings: { valid: true },
      dropbox: { works: true },
    });
  });

  it('pauses and resumes by disabling and enabling the event source mapping', async () => {
    // Prepare
    plane.updates.length = 0;

    // Act
    const paused = await cli(['pause', '--instance', 'staging']);
    const whilePaused = await cli(['status', '--instance', 'staging', '--json']);
    const resumed = await cli(['resume', '--instance', 'staging', '--json']);

    // Assess
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`pausing (event source mapping ${MAPPING_ID} (Disabling))`);
    expect(JSON.parse(whilePaused.stdout)).toMatchObject({ flow: { state: 'paused' } });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'resuming' });
    expect(plane.updates).toEqual([{ Enabled: false }, { Enabled: true }]);
  });

  it("stores a secret under the stack's KMS key", async () => {
    // Prepare
    const secret = 'an-app-secret-for-the-test';

    // Act
    const run = await runCliProcess(['config', 'set', 'dropbox/app-secret', '-', '--instance', 'staging'], {
      env,
      input: `${secret}\n`,
    });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`SecureString, KMS key ${KMS_KEY_ARN}`);
    expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
  });

  it('fails with exit 1 naming the stack when the instance has no stack', async () => {
    // Prepare: no stack TicketDropboxSync-nowhere.

    // Act
    const run = await cli(['status', '--instance', 'nowhere']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Stack TicketDropboxSync-nowhere does not exist');
  });
});
