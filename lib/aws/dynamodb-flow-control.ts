/**
 * The {@link FlowControlStore} on DynamoDB: one control item in the export ledger's table, whose `id` does not start
 * with `s3://`, so it never mixes with an object's item. Only `GetItem` and `UpdateItem`, which the function's role
 * allows on the table; every change is one conditional or additive update, so concurrent instances, the probe and
 * the CLI never lose each other's writes.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FlowControl, FlowControlStore, FlowHolder, ProbeResult } from '../breaker.ts';

/** The control item's `id`. */
export const FLOW_CONTROL_ID = 'control#flow';

/** Options of {@link createDynamoDbFlowControlStore}. */
export interface DynamoDbFlowControlOptions {
  readonly client: DynamoDBDocumentClient;
  /** The ledger table (`LEDGER_TABLE`). */
  readonly tableName: string;
}

/** A reason's sentence is cut here in the item. */
const MAX_MESSAGE_LENGTH = 1000;

/**
 * The `#name` placeholders of expressions, mapped to their attribute names (DynamoDB refuses unused ones, and
 * placeholders keep reserved words out of the way).
 */
function namesIn(...expressions: readonly string[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const expression of expressions) {
    for (const [placeholder, name] of expression.matchAll(/#(\w+)/g)) names[placeholder] = name as string;
  }
  return names;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function text(item: Record<string, unknown>, name: string): string | undefined {
  const value = item[name];
  return typeof value === 'string' ? value : undefined;
}

function holderOf(value: unknown): FlowHolder {
  return value === 'breaker' || value === 'operator' ? value : 'none';
}

/** The control item as the domain reads it; no item means nobody holds the flow. */
export function toFlowControl(item: Record<string, unknown> | undefined): FlowControl {
  if (item === undefined) return { holder: 'none', trips: 0 };
  const reasonCode = text(item, 'reasonCode');
  const probeAt = text(item, 'probeAt');
  const probeStatus = text(item, 'probeStatus');
  return {
    holder: holderOf(item.holder),
    since: text(item, 'since'),
    reason:
      reasonCode === undefined
        ? undefined
        : {
            code: reasonCode,
            message: text(item, 'reasonMessage') ?? '',
            object: text(item, 'reasonObject'),
          },
    trips: typeof item.trips === 'number' ? item.trips : 0,
    updatedBy: text(item, 'updatedBy'),
    updatedAt: text(item, 'updatedAt'),
    lastProbe:
      probeAt === undefined
        ? undefined
        : {
            at: probeAt,
            status: probeStatus === 'healthy' || probeStatus === 'unhealthy' ? probeStatus : 'unknown',
            code: text(item, 'probeCode') ?? '',
            message: text(item, 'probeMessage') ?? '',
          },
  };
}

const OPEN =
  'SET #holder = :breaker, #since = :at, #reasonCode = :code, #reasonMessage = :message, ' +
  '#reasonObject = :object, #updatedBy = :by, #updatedAt = :at ADD #trips :one';
const CAN_OPEN = 'attribute_not_exists(#holder) OR #holder = :none';
const COUNT_TRIP = 'SET #lastTripAt = :at ADD #trips :one';
const RELEASE = 'SET #holder = :none, #updatedBy = :by, #updatedAt = :at REMOVE #since';
const STILL_TRIPPED = '#holder = :breaker AND #trips = :trips';
const HOLD = 'SET #holder = :holder, #since = :at, #updatedBy = :by, #updatedAt = :at';
const RELEASE_ANY = 'SET #holder = :holder, #updatedBy = :by, #updatedAt = :at REMOVE #since';
const PROBED = 'SET #probeAt = :at, #probeStatus = :status, #probeCode = :code, #probeMessage = :message';

/** The control item in the ledger table. */
export function createDynamoDbFlowControlStore(options: DynamoDbFlowControlOptions): FlowControlStore {
  const { client, tableName } = options;
  const key = { id: FLOW_CONTROL_ID };
  const update = async (
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>,
    signal: AbortSignal | undefined,
  ): Promise<FlowControl> => {
    const result = await client.send(
      new UpdateCommand({ TableName: tableName, Key: key, ReturnValues: 'ALL_NEW', ...input }),
      { abortSignal: signal },
    );
    return toFlowControl(result.Attributes);
  };

  return {
    async read(signal) {
      const result = await client.send(
        new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
        {
          abortSignal: signal,
        },
      );
      return toFlowControl(result.Item);
    },

    async trip(trip, at, signal) {
      const values = {
        ':one': 1,
        ':at': at.toISOString(),
        ':by': 'function',
      };
      try {
        const control = await update(
          {
            UpdateExpression: OPEN,
            ConditionExpression: CAN_OPEN,
            ExpressionAttributeNames: namesIn(OPEN, CAN_OPEN),
            ExpressionAttributeValues: {
              ...values,
              ':breaker': 'breaker',
              ':none': 'none',
              ':code': trip.code,
              ':message': trip.message.slice(0, MAX_MESSAGE_LENGTH),
              ':object': trip.object,
            },
          },
          signal,
        );
        return { control, opened: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      // Someone holds the flow already (the breaker, or an operator): the trip is only counted.
      const control = await update(
        {
          UpdateExpression: COUNT_TRIP,
          ExpressionAttributeNames: namesIn(COUNT_TRIP),
          ExpressionAttributeValues: { ':one': 1, ':at': at.toISOString() },
        },
        signal,
      );
      return { control, opened: false };
    },

    async releaseBreaker(trips, by, at, signal) {
      try {
        await update(
          {
            UpdateExpression: RELEASE,
            ConditionExpression: STILL_TRIPPED,
            ExpressionAttributeNames: namesIn(RELEASE, STILL_TRIPPED),
            ExpressionAttributeValues: {
              ':none': 'none',
              ':breaker': 'breaker',
              ':trips': trips,
              ':by': by,
              ':at': at.toISOString(),
            },
          },
          signal,
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    async setHolder(holder: 'operator' | 'none', by, at, signal) {
      const stamp = at.toISOString();
      const expression = holder === 'operator' ? HOLD : RELEASE_ANY;
      await update(
        {
          UpdateExpression: expression,
          ExpressionAttributeNames: namesIn(expression),
          ExpressionAttributeValues: { ':holder': holder, ':by': by, ':at': stamp },
        },
        signal,
      );
    },

    async recordProbe(result: ProbeResult, at, signal) {
      await update(
        {
          UpdateExpression: PROBED,
          ExpressionAttributeNames: namesIn(PROBED),
          ExpressionAttributeValues: {
            ':at': at.toISOString(),
            ':status': result.status,
            ':code': result.code,
            ':message': result.message.slice(0, MAX_MESSAGE_LENGTH),
          },
        },
        signal,
      );
    },
  };
}
