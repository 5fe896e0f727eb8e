/**
 * What every command runs with: the streams, the deployment the global options select, and its clients, all
 * created on first use and closed when the command ends.
 */
import type { Command } from 'commander';
import type { Deployment, DeploymentClients, DeploymentOptions } from './deployment.ts';
import { CliUsageError, EXIT_OK } from './errors.ts';
import type { CliIo } from './io.ts';

/** The context a command's action receives. */
export interface CommandContext {
  readonly io: CliIo;
  /** The deployment the global options select (resolved once). */
  deployment(): Promise<Deployment>;
  /** The AWS clients of that deployment (created once). */
  clients(): Promise<DeploymentClients>;
}

/** The exit code the program ends with; actions that fail without throwing set it. */
export interface ExitState {
  exitCode: number;
}

function readDeploymentOptions(command: Command): DeploymentOptions {
  const globals: Record<string, unknown> = command.optsWithGlobals();
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return {
    instance: text(globals.instance),
    local: globals.local === true,
    localDir: text(globals.localDir),
    region: text(globals.region),
  };
}

/** Creates the context of one command run. */
export function createCommandContext(
  io: CliIo,
  options: DeploymentOptions,
): CommandContext & { close(): void } {
  let deployment: Promise<Deployment> | undefined;
  let clients: DeploymentClients | undefined;
  const context = {
    io,
    deployment(): Promise<Deployment> {
      // Loaded on first use: the SDK clients behind it are not needed for help and usage errors.
      deployment ??= import('./deployment.ts').then((module) => module.resolveDeployment(options, io.env));
      return deployment;
    },
    async clients(): Promise<DeploymentClients> {
      const resolved = await context.deployment();
      const { createDeploymentClients } = await import('./deployment.ts');
      clients ??= createDeploymentClients(resolved, io.env);
      return clients;
    },
    close(): void {
      clients?.destroy();
    },
  };
  return context;
}

/**
 * Runs a command's work with its context: the exit code it returns is kept, a {@link CliUsageError} becomes the
 * command's own usage error (message, usage line, exit code 2), and the clients are closed in every case.
 */
export async function runAction(
  io: CliIo,
  state: ExitState,
  command: Command,
  work: (context: CommandContext) => Promise<number | undefined>,
): Promise<void> {
  const context = createCommandContext(io, readDeploymentOptions(command));
  try {
    const exitCode = await work(context);
    state.exitCode = exitCode ?? EXIT_OK;
  } catch (error) {
    if (error instanceof CliUsageError) {
      command.error(`error: ${error.message}`, { exitCode: error.exitCode, code: 'cli.usage' });
    }
    throw error;
  } finally {
    context.close();
  }
}
