/** `redrive`: moves the dead-letter queue's messages back to the queue and reports how many. */
import type { CommandContext } from '../context.ts';
import { EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { printJson, printLines } from '../io.ts';
import { createProgressBar } from '../progress.ts';
import { redriveDeadLetters } from '../queues.ts';

/** `redrive`: moves the dead letters back and reports the count. */
export async function redrive(
  context: CommandContext,
  options: { readonly json?: boolean; readonly wait?: boolean },
): Promise<number> {
  const deployment = await context.deployment();
  const clients = await context.clients();
  const progress = options.json === true ? undefined : createProgressBar(context.io, 'Redriving');
  const result = await redriveDeadLetters({
    sqs: clients.sqs,
    queueUrl: deployment.outputs.queueUrl,
    queueArn: deployment.outputs.queueArn,
    deadLetterQueueUrl: deployment.outputs.deadLetterQueueUrl,
    deadLetterQueueArn: deployment.outputs.deadLetterQueueArn,
    wait: options.wait,
    onProgress: (moved, total) => progress?.update(moved, total),
  });
  progress?.done();
  const failedTask = result.status === 'FAILED' || result.status === 'CANCELLED' || result.failed > 0;
  if (options.json === true) {
    printJson(context.io, result);
  } else {
    const how =
      result.method === 'message-move-task'
        ? `SQS message move task${result.taskHandle === undefined ? '' : ` ${result.taskHandle}`}`
        : 'receive, send, delete';
    const lines = [
      result.status === 'RUNNING'
        ? `Started moving the dead-letter queue's messages back to the queue (${how}); ${result.moved} moved so far. Check with \`status\`.`
        : `Moved ${result.moved} message(s) from the dead-letter queue back to the queue (${how}).`,
    ];
    if (result.failed > 0)
      lines.push(`${result.failed} message(s) could not be sent back; they stay in the dead-letter queue.`);
    if (result.failureReason !== undefined)
      lines.push(`The move task ended ${result.status}: ${result.failureReason}`);
    else if (failedTask && result.method === 'message-move-task')
      lines.push(`The move task ended ${result.status}.`);
    printLines(context.io, ...lines);
  }
  return failedTask ? EXIT_FAILED : EXIT_OK;
}
