/**
 * `pause` / `resume`: stop and restart the flow. On AWS this disables / enables the function's SQS event source
 * mapping; on the local stack it creates / removes the file the poller honours. Messages wait in the queue.
 */
import type { Command } from 'commander';
import { type CommandContext, type ExitState, runAction } from '../context.ts';
import { EXIT_OK } from '../errors.ts';
import { setFlowPaused } from '../flow.ts';
import { type CliIo, printJson, printLines } from '../io.ts';

async function changeFlow(
  context: CommandContext,
  paused: boolean,
  options: { readonly json?: boolean },
): Promise<number> {
  const deployment = await context.deployment();
  const status = await setFlowPaused(deployment, await context.clients(), paused);
  if (options.json === true) {
    printJson(context.io, { state: status.state, detail: status.detail });
    return EXIT_OK;
  }
  const verb = paused ? 'Paused' : 'Resumed';
  const consequence = paused
    ? 'New uploads wait in the queue (kept for its retention period) until `resume`.'
    : 'Messages waiting in the queue are processed again.';
  printLines(
    context.io,
    `${verb} the flow of ${deployment.label}: ${status.state} (${status.detail}).`,
    consequence,
  );
  return EXIT_OK;
}

/** Adds `pause` and `resume` to the program. */
export function registerPauseCommands(program: Command, io: CliIo, state: ExitState): void {
  program
    .command('pause')
    .description("stop the flow (disable the function's queue event source); messages wait in the queue")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) =>
      runAction(io, state, command, (context) => changeFlow(context, true, options)),
    );
  program
    .command('resume')
    .description("restart the flow (enable the function's queue event source)")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) =>
      runAction(io, state, command, (context) => changeFlow(context, false, options)),
    );
}
