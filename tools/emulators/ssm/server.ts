/**
 * A local AWS Systems Manager Parameter Store speaking AWS JSON 1.1 exactly as `@aws-sdk/client-ssm` sends it
 * (`POST /`, `X-Amz-Target: AmazonSSM.<Operation>`), for tests and the local stack.
 *
 * ```ts
 * const ssm = await startSsmEmulator({ file: '.local/ssm.json' });
 * const client = new SSMClient({ endpoint: ssm.url, region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 * Requests are not authenticated (any credentials do). Operations: `GetParametersByPath`, `GetParameter`,
 * `GetParameters`, `PutParameter`, `DeleteParameter`, `DeleteParameters`; any other target gets AWS's
 * `UnknownOperationException`. SecureString values read as opaque ciphertext unless `WithDecryption` is true;
 * the state file holds plaintext (it is a local development store, never a secret store).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  AwsJsonError,
  BodyTooLargeError,
  type CallRecord,
  type JsonObject,
  startAwsJsonServer,
} from '../http.ts';
import { type ParameterHistories, ParameterStore } from './parameter-store.ts';

/** A running SSM emulator. */
export interface SsmEmulator {
  /** The endpoint origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  close(): Promise<void>;
  /** Every request served, in order (`action` is the operation name). */
  readonly calls: CallRecord[];
}

/** Options of {@link startSsmEmulator}. */
export interface SsmEmulatorOptions {
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
  /** A JSON file holding the parameters: loaded at start when it exists, rewritten after each change. */
  readonly file?: string;
  /** Region used in parameter ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Account id used in parameter ARNs. @default '000000000000' */
  readonly accountId?: string;
}

/** A state file that cannot be read back. */
export class SsmStateFileError extends Error {
  constructor(file: string, options: { cause: unknown }) {
    super(`The SSM emulator state file ${file} is not a valid parameter store snapshot.`, options);
    this.name = 'SsmStateFileError';
  }
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AmazonSSM.';
const MAX_REQUEST_BYTES = 1024 * 1024;
const STATE_FORMAT = 1;

function loadState(file: string): ParameterHistories {
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; parameters?: unknown };
    if (
      parsed.format !== STATE_FORMAT ||
      parsed.parameters === null ||
      typeof parsed.parameters !== 'object'
    ) {
      throw new TypeError(`expected {"format": ${STATE_FORMAT}, "parameters": {…}}`);
    }
    return parsed.parameters as ParameterHistories;
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof TypeError)
      throw new SsmStateFileError(file, { cause: error });
    throw error;
  }
}

function saveState(file: string, parameters: ParameterHistories): void {
  mkdirSync(dirname(file), { recursive: true });
  // Write then rename, so that a crash never leaves a half-written state file behind.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ format: STATE_FORMAT, parameters }, null, 2)}\n`);
  renameSync(temporary, file);
}

/** Starts an SSM Parameter Store emulator on 127.0.0.1. */
export async function startSsmEmulator(options: SsmEmulatorOptions = {}): Promise<SsmEmulator> {
  const file = options.file;
  const store = new ParameterStore({
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '000000000000',
    histories: file === undefined ? undefined : loadState(file),
    onChange: file === undefined ? undefined : (parameters) => saveState(file, parameters),
  });
  const operations: Record<string, (input: JsonObject) => JsonObject> = {
    GetParametersByPath: (input) => store.getParametersByPath(input),
    GetParameter: (input) => store.getParameter(input),
    GetParameters: (input) => store.getParameters(input),
    PutParameter: (input) => store.putParameter(input),
    DeleteParameter: (input) => store.deleteParameter(input),
    DeleteParameters: (input) => store.deleteParameters(input),
  };
  return startAwsJsonServer({
    targetPrefix: TARGET_PREFIX,
    contentType: CONTENT_TYPE,
    maxRequestBytes: MAX_REQUEST_BYTES,
    operations,
    port: options.port,
    describeError: (error) => {
      if (error instanceof BodyTooLargeError) return new AwsJsonError('ValidationException', error.message);
      const message = error instanceof Error ? error.message : String(error);
      return new AwsJsonError('InternalServerError', message, { status: 500 });
    },
  });
}
