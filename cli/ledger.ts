/**
 * The CLI's read access to the export ledger (one `GetItem` per object), through the function's own adapter
 * (lib/aws/dynamodb-ledger.ts), on the table the deployment's outputs name (`LedgerTableName`).
 */
import { createDynamoDbLedger } from '../lib/aws/dynamodb-ledger.ts';
import { isSyncError } from '../lib/errors.ts';
import type { LedgerRecord } from '../lib/ledger.ts';
import type { ExportLedger } from '../lib/ports.ts';
import type { CommandContext } from './context.ts';
import { CommandFailedError } from './errors.ts';

/** The deployment's export ledger, or `undefined` when its outputs name no table (a stack from before the ledger). */
export async function openLedger(context: CommandContext): Promise<ExportLedger | undefined> {
  const deployment = await context.deployment();
  const tableName = deployment.outputs.ledgerTableName;
  if (tableName === undefined) return undefined;
  const clients = await context.clients();
  return createDynamoDbLedger({ client: clients.dynamodb, tableName });
}

/** Like {@link openLedger}, but a deployment without a ledger table is an error that says what to do. */
export async function requireLedger(context: CommandContext): Promise<ExportLedger> {
  const ledger = await openLedger(context);
  if (ledger !== undefined) return ledger;
  const deployment = await context.deployment();
  throw new CommandFailedError(
    `${deployment.label} names no export ledger (no LedgerTableName output): deploy the current version of the stack`,
  );
}

/**
 * The object's ledger record (`null` when it has none). A refused read says which permission the operator needs.
 */
export async function readLedgerRecord(ledger: ExportLedger, id: string): Promise<LedgerRecord | null> {
  try {
    return await ledger.read(id);
  } catch (error) {
    if (isSyncError(error) && error.code === 'ledger-unavailable') {
      throw new CommandFailedError(
        `${error.message}; reading the ledger needs dynamodb:GetItem on its table`,
        { cause: error },
      );
    }
    throw error;
  }
}
