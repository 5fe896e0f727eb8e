/**
 * The breaker's adapters as the environment configures them, for the sync function, the probe and the local stack:
 * - the control item in the ledger table `LEDGER_TABLE` (endpoint `AWS_ENDPOINT_URL_DYNAMODB`, else AWS's);
 * - the flow switch: the pause file `FLOW_PAUSE_FILE` (the local stack's poller), else the event source mapping
 *   `EVENT_SOURCE_MAPPING_ID` (the probe, which may reference it), else the mapping whose id the SSM parameter
 *   `EVENT_SOURCE_MAPPING_PARAMETER` holds (the sync function, which may not).
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { FlowControlStore, FlowSwitch } from '../breaker.ts';
import { createFileFlowSwitch } from '../file-flow-switch.ts';
import { createDynamoDbClient } from './clients.ts';
import { createDynamoDbFlowControlStore } from './dynamodb-flow-control.ts';
import { createLambdaFlowSwitch } from './lambda-flow-switch.ts';

/** The control item's store, or `undefined` when no ledger table is configured. */
export function flowControlStoreFromEnv(env: NodeJS.ProcessEnv): FlowControlStore | undefined {
  const tableName = env.LEDGER_TABLE?.trim();
  if (!tableName) return undefined;
  return createDynamoDbFlowControlStore({ client: createDynamoDbClient({ env }), tableName });
}

/** The flow switch the environment names, or `undefined` when it names none. */
export function flowSwitchFromEnv(env: NodeJS.ProcessEnv, ssm: SSMClient): FlowSwitch | undefined {
  const pauseFile = env.FLOW_PAUSE_FILE?.trim();
  if (pauseFile) return createFileFlowSwitch(pauseFile);
  const id = env.EVENT_SOURCE_MAPPING_ID?.trim();
  if (id) return createLambdaFlowSwitch({ env, mapping: { id } });
  const parameterName = env.EVENT_SOURCE_MAPPING_PARAMETER?.trim();
  if (parameterName) return createLambdaFlowSwitch({ env, mapping: { parameterName, ssm } });
  return undefined;
}
