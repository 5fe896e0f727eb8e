/**
 * Whether the flow runs: on AWS the function's SQS event source mapping (enabled or disabled), on the local
 * stack the poller's pause file. Paused, messages wait in the queue (their retention still counts).
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import type { Deployment, DeploymentClients } from './deployment.ts';
import { CommandFailedError } from './errors.ts';

/** The flow's state. `pausing` / `resuming`: Lambda is still applying a change. */
export type FlowState = 'running' | 'paused' | 'pausing' | 'resuming' | 'unknown';

/** What {@link readFlowState} found. */
export interface FlowStatus {
  readonly state: FlowState;
  /** Where the state comes from: the mapping's id and Lambda state, or the pause file. */
  readonly detail: string;
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

/** Reads whether the flow runs. */
export async function readFlowState(deployment: Deployment, clients: DeploymentClients): Promise<FlowStatus> {
  if (deployment.kind === 'local') {
    const paused = await fileExists(deployment.pauseFile);
    return {
      state: paused ? 'paused' : 'running',
      detail: `the poller's pause file ${deployment.pauseFile} is ${paused ? 'present' : 'absent'}`,
    };
  }
  const id = requireMappingId(deployment);
  // Lambda's SDK is loaded for an AWS deployment only: the local stack has no event source mapping.
  const { GetEventSourceMappingCommand } = await import('@aws-sdk/client-lambda');
  const mapping = await (await clients.lambda()).send(new GetEventSourceMappingCommand({ UUID: id }));
  return {
    state: stateOfMapping(mapping.State),
    detail: `event source mapping ${id} (${mapping.State ?? '?'})`,
  };
}

/**
 * Pauses or resumes the flow. Idempotent: pausing a paused flow changes nothing.
 * @returns the state after the change (Lambda may still be applying it: `pausing` / `resuming`).
 */
export async function setFlowPaused(
  deployment: Deployment,
  clients: DeploymentClients,
  paused: boolean,
): Promise<FlowStatus> {
  if (deployment.kind === 'local') {
    if (paused) {
      await writeFile(
        deployment.pauseFile,
        `paused by ticket-dropbox-sync pause at ${new Date().toISOString()}\n`,
      );
    } else {
      await rm(deployment.pauseFile, { force: true });
    }
    return readFlowState(deployment, clients);
  }
  const id = requireMappingId(deployment);
  const { UpdateEventSourceMappingCommand } = await import('@aws-sdk/client-lambda');
  const updated = await (await clients.lambda()).send(
    new UpdateEventSourceMappingCommand({ UUID: id, Enabled: !paused }),
  );
  return {
    state: stateOfMapping(updated.State),
    detail: `event source mapping ${id} (${updated.State ?? '?'})`,
  };
}
