/**
 * Whether the flow runs, and who stopped it: on AWS the function's SQS event source mapping (enabled or disabled),
 * on the local stack the poller's pause file; and the control item of the ledger table, which says whether the
 * circuit breaker holds the flow (since when, why) or an operator does (`pause`). Paused, messages wait in the
 * queue (their retention, 14 days, still counts).
 */
import { stat } from 'node:fs/promises';
import { createDynamoDbFlowControlStore } from '../lib/aws/dynamodb-flow-control.ts';
import { createLambdaFlowSwitch } from '../lib/aws/lambda-flow-switch.ts';
import {
  type FlowControl,
  type FlowControlStore,
  type FlowHolder,
  type FlowSwitch,
  releaseFlow,
} from '../lib/breaker.ts';
import { createFileFlowSwitch } from '../lib/file-flow-switch.ts';
import type { Deployment, DeploymentClients } from './deployment.ts';
import { CommandFailedError } from './errors.ts';

/** The flow's state. `pausing` / `resuming`: Lambda is still applying a change. */
export type FlowState = 'running' | 'paused' | 'pausing' | 'resuming' | 'unknown';

/** What {@link readFlowState} found. */
export interface FlowStatus {
  readonly state: FlowState;
  /** Where the state comes from: the mapping's id and Lambda state, or the pause file. */
  readonly detail: string;
  /** Who holds the flow, from the control item; absent when the deployment has none (no ledger table). */
  readonly holder?: FlowHolder | undefined;
  /** When the holder stopped the flow (ISO 8601). */
  readonly since?: string | undefined;
  /** Why the breaker opened. */
  readonly reason?: FlowControl['reason'];
  /** The breaker probe's last look. */
  readonly lastProbe?: FlowControl['lastProbe'];
  /**
   * One line: `paused by the breaker since T: reason`, `paused by an operator since T`, `running`, …
   */
  readonly summary: string;
}

function requireMappingId(deployment: Deployment): string {
  const id = deployment.outputs.eventSourceMappingId;
  if (id === undefined) {
    throw new CommandFailedError(
      `${deployment.label} reports no EventSourceMappingId: cannot pause or resume it`,
    );
  }
  return id;
}

function stateOfMapping(lambdaState: string | undefined): FlowState {
  switch (lambdaState) {
    case 'Enabled':
      return 'running';
    case 'Disabled':
      return 'paused';
    case 'Disabling':
      return 'pausing';
    case 'Enabling':
      return 'resuming';
    default:
      return 'unknown';
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return false;
    throw error;
  }
}

/** The control item's store, when the deployment has a ledger table. */
export function flowControlOf(
  deployment: Deployment,
  clients: DeploymentClients,
): FlowControlStore | undefined {
  const tableName = deployment.outputs.ledgerTableName;
  if (tableName === undefined) return undefined;
  if (deployment.kind === 'local' && deployment.endpoints.dynamodb === undefined) return undefined;
  return createDynamoDbFlowControlStore({ client: clients.dynamodb, tableName });
}

/** The flow switch: the pause file, or the event source mapping. */
export function flowSwitchOf(deployment: Deployment): FlowSwitch {
  if (deployment.kind === 'local') return createFileFlowSwitch(deployment.pauseFile);
  return createLambdaFlowSwitch({ region: deployment.region, mapping: { id: requireMappingId(deployment) } });
}

/** The one line of {@link FlowStatus.summary}. */
export function summarizeFlow(state: FlowState, control: FlowControl | undefined): string {
  if (control?.holder === 'breaker') {
    const reason =
      control.reason === undefined
        ? 'an account-wide failure'
        : `${control.reason.code}: ${control.reason.message}`;
    const trial =
      state === 'running' || state === 'resuming' ? ' (the probe is letting records through to try)' : '';
    return `paused by the breaker since ${control.since ?? '?'}: ${reason}${trial}`;
  }
  if (control?.holder === 'operator') {
    return state === 'running'
      ? `running (an operator's pause since ${control.since ?? '?'} was lifted outside the CLI)`
      : `paused by an operator since ${control.since ?? '?'} (\`resume\` starts it)`;
  }
  return state === 'paused' && control !== undefined ? 'paused (outside the CLI)' : state;
}

/** Reads whether the flow runs, and who holds it. */
export async function readFlowState(deployment: Deployment, clients: DeploymentClients): Promise<FlowStatus> {
  const store = flowControlOf(deployment, clients);
  const control = store === undefined ? undefined : await store.read();
  let state: FlowState;
  let detail: string;
  if (deployment.kind === 'local') {
    const paused = await fileExists(deployment.pauseFile);
    state = paused ? 'paused' : 'running';
    detail = `the poller's pause file ${deployment.pauseFile} is ${paused ? 'present' : 'absent'}`;
  } else {
    const id = requireMappingId(deployment);
    // Lambda's SDK is loaded for an AWS deployment only: the local stack has no event source mapping.
    const { GetEventSourceMappingCommand } = await import('@aws-sdk/client-lambda');
    const mapping = await (await clients.lambda()).send(new GetEventSourceMappingCommand({ UUID: id }));
    state = stateOfMapping(mapping.State);
    detail = `event source mapping ${id} (${mapping.State ?? '?'})`;
  }
  return {
    state,
    detail,
    holder: control?.holder,
    since: control?.holder === 'none' ? undefined : control?.since,
    reason: control?.holder === 'breaker' ? control.reason : undefined,
    lastProbe: control?.lastProbe,
    summary: summarizeFlow(state, control),
  };
}

/**
 * Pauses (an operator's hold, which the breaker's probe never lifts) or resumes the flow, whoever held it.
 * Idempotent: pausing a paused flow changes nothing.
 * @returns the state after the change (Lambda may still be applying it: `pausing` / `resuming`).
 */
export async function setFlowPaused(
  deployment: Deployment,
  clients: DeploymentClients,
  paused: boolean,
): Promise<FlowStatus> {
  const store = flowControlOf(deployment, clients);
  const inner = flowSwitchOf(deployment);
  // Lambda's answer to the change (`Disabling`, `Enabling`) says more than a read right after it.
  let switched: string | undefined;
  const flow: FlowSwitch = {
    async setEnabled(enabled, note, signal) {
      switched = await inner.setEnabled(enabled, note, signal);
      return switched;
    },
  };
  if (paused) {
    // The hold first: were the switch first, the probe could take a breaker's pause for its own and lift it.
    await store?.setHolder('operator', 'cli pause', new Date());
    await flow.setEnabled(false, `paused by ticket-dropbox-sync pause at ${new Date().toISOString()}`);
  } else if (store === undefined) {
    await flow.setEnabled(true, 'resumed by ticket-dropbox-sync resume');
  } else {
    await releaseFlow(store, flow, 'cli resume', { onlyBreaker: false });
  }
  const after = await readFlowState(deployment, clients);
  if (deployment.kind === 'local' || switched === undefined) return after;
  const state = stateOfMapping(switched);
  const control = store === undefined ? undefined : await store.read();
  return {
    ...after,
    state,
    detail: `event source mapping ${requireMappingId(deployment)} (${switched})`,
    summary: summarizeFlow(state, control),
  };
}

/**
 * After a fix (`connect`, `config set`): when the breaker holds the flow, starts it at once instead of waiting
 * for the probe. An operator's pause stays. Returns a sentence for the command's output, or `undefined` when the
 * breaker held nothing.
 */
export async function releaseBreakerAfterFix(
  deployment: Deployment,
  clients: DeploymentClients,
  by: string,
): Promise<string | undefined> {
  const store = flowControlOf(deployment, clients);
  if (store === undefined) return undefined;
  const heldBy = await releaseFlow(store, flowSwitchOf(deployment), by, { onlyBreaker: true });
  return heldBy === 'breaker' ? 'The circuit breaker was open: the flow runs again.' : undefined;
}
