/**
 * `pause` / `resume`: stop and restart the flow. On AWS this disables / enables the function's SQS event source
 * mapping; on the local stack it creates / removes the file the poller honours. Messages wait in the queue. A pause
 * is an operator's hold, which the circuit breaker's probe never lifts; `resume` lifts any hold, the breaker's too.
 */
import type { CommandContext } from '../context.ts';
import { EXIT_OK } from '../errors.ts';
import { setFlowPaused } from '../flow.ts';
import { printJson, printLines } from '../io.ts';

/** `pause` (`paused` true) and `resume`. */
export async function changeFlow(
  context: CommandContext,
  paused: boolean,
  options: { readonly json?: boolean },
): Promise<number> {
  const deployment = await context.deployment();
  const status = await setFlowPaused(deployment, await context.clients(), paused);
  if (options.json === true) {
    printJson(context.io, {
      state: status.state,
      detail: status.detail,
      holder: status.holder,
      summary: status.summary,
    });
    return EXIT_OK;
  }
  const verb = paused ? 'Paused' : 'Resumed';
  const consequence = paused
    ? 'New uploads wait in the queue (kept for its retention period) until `resume`.'
    : 'Messages waiting in the queue are processed again.';
  printLines(
    context.io,
    `${verb} the flow of ${deployment.label}: ${status.summary} (${status.detail}).`,
    consequence,
  );
  return EXIT_OK;
}
