/**
 * The local export ledger: the `dynalite` package (DynamoDB on LevelDB) serving the ledger table over HTTP, on disk
 * under the stack's data folder or in memory, so the function's real DynamoDB client and adapter run against it.
 * The table is created at start when absent, with the deployed table's key schema (partition key `id`, a string).
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/** Options of {@link startLocalLedger}. */
export interface LocalLedgerOptions {
  /** LevelDB folder; in memory when absent. */
  readonly path?: string | undefined;
  readonly tableName: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  readonly region: string;
}

/** A running local ledger. */
export interface LocalLedger {
  /** The value for `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly url: string;
  readonly tableName: string;
  /** Every request served, in order: its operation (`GetItem`, `UpdateItem`, …). */
  readonly calls: { readonly action: string }[];
  close(): Promise<void>;
}

/** Starts dynalite and makes sure the ledger table exists. */
export async function startLocalLedger(options: LocalLedgerOptions): Promise<LocalLedger> {
  // Tables are ACTIVE at once (dynalite keeps a new table CREATING for 500 ms by default).
  const server = dynalite({ path: options.path, createTableMs: 0 });
  const calls: { action: string }[] = [];
  server.on('request', (request: IncomingMessage) => {
    // The DynamoDB JSON protocol names the operation in X-Amz-Target: `DynamoDB_20120810.GetItem`.
    const target = String(request.headers['x-amz-target'] ?? '');
    calls.push({ action: target.slice(target.indexOf('.') + 1) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const close = (): Promise<void> =>
    new Promise((resolve, reject) => server.close((error?: Error) => (error ? reject(error) : resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint: url,
    region: options.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await ensureTable(client, options.tableName);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  } finally {
    client.destroy();
  }
  return { url, tableName: options.tableName, calls, close };
}

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  for (let tries = 0; tries < 100; tries += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the local ledger table ${tableName} did not become ACTIVE`);
}
