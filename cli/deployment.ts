/**
 * Which deployment a command talks to, and the clients to reach it. On AWS, the outputs of the CloudFormation
 * stack `TicketDropboxSync-<instance>`; on the local stack, `<dir>/outputs.json`, which holds the same keys plus
 * the emulators' endpoints and the poller's pause file.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import {
  awsClientConfig,
  createDynamoDbClient,
  createS3Client,
  createSqsClient,
  createSsmClient,
} from '../lib/aws/clients.ts';
import { errorMessage } from '../lib/errors.ts';
import { INSTANCE_NAME_RULE, isValidInstanceName } from '../lib/instance-name.ts';
import { resolveUserPath } from './arguments.ts';
import { DEFAULT_INSTANCE, DEFAULT_LOCAL_DIR, LOCAL_ENV } from './defaults.ts';
import { CliUsageError, CommandFailedError } from './errors.ts';

/** The name of the CloudFormation stack of an instance. */
export function stackNameFor(instance: string): string {
  return `TicketDropboxSync-${instance}`;
}

/** The stack outputs the CLI reads (the same keys in CloudFormation and in the local `outputs.json`). */
export interface DeploymentOutputs {
  readonly bucketName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  /** The SSM path of the settings, `/ticket-dropbox-sync/<instance>/`. */
  readonly settingsPath: string;
  /** The KMS key the SecureStrings are encrypted with. */
  readonly settingsKmsKeyId: string | undefined;
  readonly functionName: string | undefined;
  /** The function's SQS event source mapping (`pause` / `resume` on AWS). */
  readonly eventSourceMappingId: string | undefined;
  /** The key prefix the notifications watch, when the deployment reports it. */
  readonly keyPrefix: string | undefined;
  /** The export ledger's table (output `LedgerTableName`); absent in a stack deployed before the ledger.
   * It holds the circuit breaker's control item too. */
  readonly ledgerTableName: string | undefined;
}

/** Endpoints of the local emulators. */
export interface LocalEndpoints {
  readonly s3: string;
  readonly ssm: string;
  readonly sqs: string;
  /** dynalite, which holds the export ledger. */
  readonly dynamodb: string | undefined;
  readonly dropbox: string | undefined;
}

/** A resolved deployment. */
export type Deployment =
  | {
      readonly kind: 'aws';
      /** A human label: `stack TicketDropboxSync-default`. */
      readonly label: string;
      readonly region: string | undefined;
      readonly outputs: DeploymentOutputs;
      /** A Dropbox-compatible origin from `DROPBOX_ENDPOINT_URL`, else the real Dropbox. */
      readonly dropboxEndpointUrl: string | undefined;
    }
  | {
      readonly kind: 'local';
      readonly label: string;
      readonly region: string;
      readonly outputs: DeploymentOutputs;
      readonly dropboxEndpointUrl: string | undefined;
      /** The local stack's folder. */
      readonly dir: string;
      /** The poller does not poll while this file exists. */
      readonly pauseFile: string;
      readonly endpoints: LocalEndpoints;
    };

/** The global options that select a deployment. */
export interface DeploymentOptions {
  readonly instance?: string | undefined;
  /** `--local`: the local stack, in the folder the environment names or the default one. */
  readonly local?: boolean | undefined;
  /** `--local-dir DIR`: the local stack in that folder. */
  readonly localDir?: string | undefined;
  readonly region?: string | undefined;
}

const requiredText = z.string().min(1);

const localOutputsSchema = z.object({
  BucketName: requiredText,
  QueueUrl: requiredText,
  QueueArn: requiredText,
  DeadLetterQueueUrl: requiredText,
  DeadLetterQueueArn: requiredText,
  SettingsPath: requiredText,
  SettingsKmsKeyId: z.string().optional(),
  FunctionName: z.string().optional(),
  EventSourceMappingId: z.string().optional(),
  KeyPrefix: z.string().optional(),
  LedgerTableName: z.string().optional(),
  Region: z.string().optional(),
  PauseFile: requiredText,
  Endpoints: z.object({
    s3: requiredText,
    ssm: requiredText,
    sqs: requiredText,
    dynamodb: z.string().optional(),
    dropbox: z.string().optional(),
  }),
});

const REQUIRED_STACK_OUTPUTS = [
  'BucketName',
  'QueueUrl',
  'QueueArn',
  'DeadLetterQueueUrl',
  'DeadLetterQueueArn',
  'SettingsPath',
] as const;

function toOutputs(values: Readonly<Record<string, string | undefined>>): DeploymentOutputs {
  const text = (name: string): string => values[name] ?? '';
  const optional = (name: string): string | undefined => {
    const value = values[name];
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    bucketName: text('BucketName'),
    queueUrl: text('QueueUrl'),
    queueArn: text('QueueArn'),
    deadLetterQueueUrl: text('DeadLetterQueueUrl'),
    deadLetterQueueArn: text('DeadLetterQueueArn'),
    settingsPath: text('SettingsPath'),
    settingsKmsKeyId: optional('SettingsKmsKeyId'),
    functionName: optional('FunctionName'),
    eventSourceMappingId: optional('EventSourceMappingId'),
    keyPrefix: optional('KeyPrefix'),
    ledgerTableName: optional('LedgerTableName'),
  };
}

/**
 * Which local folder the options and environment select, or `undefined` for AWS: `--local-dir DIR`, else (with
 * `--local`, or without `--instance`) the folder `TICKET_DROPBOX_SYNC_LOCAL` names, else `.local` with `--local`.
 * @throws CliUsageError for `--local` / `--local-dir` with `--instance`, an empty folder, or an invalid instance name
 */
export function selectLocalDir(options: DeploymentOptions, env: NodeJS.ProcessEnv): string | undefined {
  const localDir = options.localDir?.trim();
  const local = options.local === true || localDir !== undefined;
  if (local && options.instance !== undefined) {
    throw new CliUsageError(
      `${localDir === undefined ? '--local' : '--local-dir'} and --instance exclude each other: the local stack has one instance`,
    );
  }
  if (localDir === '') throw new CliUsageError('--local-dir needs a folder, such as .local');
  if (localDir !== undefined) return resolveUserPath(localDir, env);
  if (options.instance !== undefined) {
    // An explicit --instance names an AWS stack even when the environment selects the local stack.
    if (!isValidInstanceName(options.instance)) {
      throw new CliUsageError(
        `--instance must be ${INSTANCE_NAME_RULE} (the name the stack was deployed with), got ${JSON.stringify(options.instance)}`,
      );
    }
    return undefined;
  }
  const fromEnv = env[LOCAL_ENV]?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return resolveUserPath(fromEnv, env);
  return local ? resolve(DEFAULT_LOCAL_DIR) : undefined;
}

/** How to start the local stack whose data is in `dir` (`npm start` uses the folder the environment names). */
function startCommandFor(dir: string, env: NodeJS.ProcessEnv): string {
  const fromEnv = env[LOCAL_ENV]?.trim();
  const started = fromEnv ? resolveUserPath(fromEnv, env) : resolve(DEFAULT_LOCAL_DIR);
  return resolve(dir) === started ? 'npm start' : `npm start -- --dir ${dir}`;
}

/** The error of a local stack that is not running. */
function notRunningError(
  dir: string,
  env: NodeJS.ProcessEnv,
  why: string,
  cause?: unknown,
): CommandFailedError {
  return new CommandFailedError(
    `the local stack is not running; start it with \`${startCommandFor(dir, env)}\` (${why})`,
    cause === undefined ? undefined : { cause },
  );
}

/** How long a local endpoint may take to accept a connection before it counts as not answering. */
const LOCAL_PROBE_TIMEOUT_MS = 2000;

/**
 * Whether something accepts connections at a local endpoint: a refused connection means the stack that wrote
 * `outputs.json` has stopped. A timeout counts as answering, so a slow machine gets the command's own error.
 */
export function acceptsConnections(url: string): Promise<boolean> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise<boolean>((settle) => {
    const socket = connect({
      host: hostname.replace(/^\[|\]$/g, ''),
      port: Number(port) || (protocol === 'https:' ? 443 : 80),
    });
    const done = (answering: boolean): void => {
      socket.destroy();
      settle(answering);
    };
    socket.setTimeout(LOCAL_PROBE_TIMEOUT_MS, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Reads and checks a local stack's `outputs.json`. */
export async function readLocalDeployment(
  dir: string,
  options: DeploymentOptions,
  env: NodeJS.ProcessEnv,
): Promise<Deployment> {
  const file = resolve(dir, 'outputs.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      throw notRunningError(dir, env, `${file} does not exist`, error);
    }
    throw new CommandFailedError(`Could not read ${file}: ${errorMessage(error)}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new CommandFailedError(`${file} is not JSON: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const parsed = localOutputsSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
    throw new CommandFailedError(`${file} lacks or misstates: ${fields}`);
  }
  const { Endpoints: _endpoints, ...named } = parsed.data;
  const local = parsed.data;
  const endpoints = [local.Endpoints.s3, local.Endpoints.ssm, local.Endpoints.sqs];
  const answering = await Promise.all(endpoints.map((url) => acceptsConnections(url)));
  const silent = endpoints.filter((_url, index) => answering[index] === false);
  if (silent.length > 0) {
    throw notRunningError(dir, env, `nothing answers at ${silent.join(', ')}, named in ${file}`);
  }
  return {
    kind: 'local',
    label: `local stack in ${resolve(dir)}`,
    region: options.region ?? local.Region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    outputs: toOutputs(named),
    dropboxEndpointUrl: local.Endpoints.dropbox ?? env.DROPBOX_ENDPOINT_URL,
    dir: resolve(dir),
    pauseFile: resolve(dir, local.PauseFile),
    endpoints: {
      s3: local.Endpoints.s3,
      ssm: local.Endpoints.ssm,
      sqs: local.Endpoints.sqs,
      dynamodb: local.Endpoints.dynamodb,
      dropbox: local.Endpoints.dropbox,
    },
  };
}

/** Reads the outputs of the instance's CloudFormation stack. */
export async function readAwsDeployment(
  options: DeploymentOptions,
  env: NodeJS.ProcessEnv,
): Promise<Deployment> {
  const instance = options.instance ?? DEFAULT_INSTANCE;
  const stackName = stackNameFor(instance);
  // Loaded here only: the local stack has no CloudFormation.
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cloudFormation = new CloudFormationClient({ region: options.region });
  let outputs: Record<string, string | undefined>;
  try {
    const described = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = described.Stacks?.[0];
    outputs = {};
    for (const output of stack?.Outputs ?? []) {
      if (output.OutputKey !== undefined) outputs[output.OutputKey] = output.OutputValue;
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      throw new CommandFailedError(
        `Stack ${stackName} does not exist in this region: deploy it, or pass --instance / --region`,
        { cause: error },
      );
    }
    throw new CommandFailedError(`Could not read the stack ${stackName}: ${errorMessage(error)}`, {
      cause: error,
    });
  } finally {
    cloudFormation.destroy();
  }
  const missing = REQUIRED_STACK_OUTPUTS.filter((name) => !outputs[name]);
  if (missing.length > 0) {
    throw new CommandFailedError(`Stack ${stackName} lacks the outputs ${missing.join(', ')}`);
  }
  return {
    kind: 'aws',
    label: `stack ${stackName}`,
    region: options.region,
    outputs: toOutputs(outputs),
    dropboxEndpointUrl: env.DROPBOX_ENDPOINT_URL,
  };
}

/** Resolves the deployment the options and environment select. */
export async function resolveDeployment(
  options: DeploymentOptions,
  env: NodeJS.ProcessEnv,
): Promise<Deployment> {
  const localDir = selectLocalDir(options, env);
  return localDir === undefined
    ? readAwsDeployment(options, env)
    : readLocalDeployment(localDir, options, env);
}

/** The AWS clients of a deployment, created on first use and destroyed together. */
export interface DeploymentClients {
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  readonly sqs: SQSClient;
  /** The Lambda client (loaded on first use: only `pause`, `resume` and `status` on AWS need it). */
  lambda(): Promise<LambdaClient>;
  /** The DynamoDB document client of the export ledger's table. */
  readonly dynamodb: DynamoDBDocumentClient;
  /** Closes every client that was created. */
  destroy(): void;
}

/** Dummy credentials for the emulators, which check no signature. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Builds the clients through the project's shared factories. For the local stack the CLI process points the
 * SDK's standard endpoint variables at the emulators named in `outputs.json`, as the local stack does for the
 * function, and supplies dummy credentials when none are set.
 */
export function createDeploymentClients(deployment: Deployment, env: NodeJS.ProcessEnv): DeploymentClients {
  if (deployment.kind === 'local') {
    env.AWS_ENDPOINT_URL_S3 = deployment.endpoints.s3;
    env.AWS_ENDPOINT_URL_SSM = deployment.endpoints.ssm;
    env.AWS_ENDPOINT_URL_SQS = deployment.endpoints.sqs;
    if (deployment.endpoints.dynamodb !== undefined)
      env.AWS_ENDPOINT_URL_DYNAMODB = deployment.endpoints.dynamodb;
    if (!env.AWS_ACCESS_KEY_ID) {
      env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
    }
  }
  const options = { region: deployment.region, env };
  const created: { destroy(): void }[] = [];
  const remember = <T extends { destroy(): void }>(client: T): T => {
    created.push(client);
    return client;
  };
  let s3: S3Client | undefined;
  let ssm: SSMClient | undefined;
  let sqs: SQSClient | undefined;
  let lambda: LambdaClient | undefined;
  let dynamodb: DynamoDBDocumentClient | undefined;
  return {
    get s3() {
      s3 ??= remember(createS3Client(options));
      return s3;
    },
    get ssm() {
      ssm ??= remember(createSsmClient(options));
      return ssm;
    },
    get sqs() {
      sqs ??= remember(createSqsClient(options));
      return sqs;
    },
    async lambda() {
      const { LambdaClient } = await import('@aws-sdk/client-lambda');
      lambda ??= remember(new LambdaClient(awsClientConfig('AWS_ENDPOINT_URL_LAMBDA', options)));
      return lambda;
    },
    get dynamodb() {
      dynamodb ??= remember(createDynamoDbClient(options));
      return dynamodb;
    },
    destroy() {
      for (const client of created.splice(0)) client.destroy();
    },
  };
}
