/**
 * The queue and its dead-letter queue: their depth, and moving dead letters back (`redrive`). On AWS the move is
 * SQS's own message move task; where that API is missing (an SQS-compatible server, the local emulator) the
 * messages are received from the DLQ, sent to the queue and only then deleted from the DLQ, so none is lost.
 */
import {
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { readQueueDepth } from '../lib/aws/queue-depth.ts';
import { sleep } from '../lib/retry.ts';

/** The names under which SQS-compatible servers refuse an operation they do not implement. */
const UNSUPPORTED_NAMES = new Set([
  'UnsupportedOperation',
  'AWS.SimpleQueueService.UnsupportedOperation',
  'UnknownOperationException',
  'UnknownOperation',
  'InvalidAction',
  'NotImplemented',
]);

/** True when an SQS error says the operation is not available there. */
export function isUnsupportedOperation(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (UNSUPPORTED_NAMES.has(error.name)) return true;
  const status =
    '$metadata' in error ? (error.$metadata as { httpStatusCode?: number }).httpStatusCode : undefined;
  return status === 501 || /unknown operation|not (?:supported|implemented)|unsupported/i.test(error.message);
}

/** How a redrive went. */
export interface RedriveResult {
  readonly method: 'message-move-task' | 'receive-send-delete';
  /** Messages moved back to the queue (approximate for a move task, as SQS reports it). */
  readonly moved: number;
  /** Messages that could not be sent back; they stay in the DLQ. */
  readonly failed: number;
  /** The move task's final status (`COMPLETED`, `RUNNING` when not waited for, `FAILED`, `CANCELLED`). */
  readonly status: string;
  readonly taskHandle?: string | undefined;
  readonly failureReason?: string | undefined;
}

/** Options of {@link redriveDeadLetters}. */
export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  /** Wait for a move task to end. @default true */
  readonly wait?: boolean;
  /** Between two looks at a running move task. @default 2000 */
  readonly pollIntervalMs?: number;
  /** Called with the count moved so far. */
  readonly onProgress?: (moved: number, total: number | undefined) => void;
}

async function findMoveTask(
  sqs: SQSClient,
  sourceArn: string,
): Promise<ListMessageMoveTasksResultEntry | undefined> {
  const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
  return listed.Results?.[0];
}

async function followMoveTask(
  options: RedriveOptions,
  taskHandle: string | undefined,
): Promise<RedriveResult> {
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  for (;;) {
    const task = await findMoveTask(options.sqs, options.deadLetterQueueArn);
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const status = task?.Status ?? 'UNKNOWN';
    options.onProgress?.(moved, task?.ApproximateNumberOfMessagesToMove);
    const ended = status !== 'RUNNING' && status !== 'CANCELLING';
    if (ended || options.wait === false) {
      return {
        method: 'message-move-task',
        moved,
        failed: 0,
        status,
        taskHandle: task?.TaskHandle ?? taskHandle,
        // A task still running has no failure reason to report yet.
        ...(ended ? { failureReason: task?.FailureReason } : {}),
      };
    }
    await sleep(pollIntervalMs);
  }
}

function copyAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  if (attributes === undefined) return undefined;
  const copied: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    copied[name] = {
      DataType: value.DataType,
      StringValue: value.StringValue,
      BinaryValue: value.BinaryValue,
    };
  }
  return Object.keys(copied).length === 0 ? undefined : copied;
}

/** SQS's batch limit. */
const BATCH_SIZE = 10;
/** Long enough to send a batch back and delete it; a message not deleted reappears in the DLQ after it. */
const MOVE_VISIBILITY_TIMEOUT_S = 60;

/**
 * Moves the messages that are in the DLQ when it starts: receive, send to the queue, then delete from the DLQ.
 * A message whose send fails stays in the DLQ (visible again after the visibility timeout).
 */
export async function moveByReceiveSendDelete(options: RedriveOptions): Promise<RedriveResult> {
  const { sqs } = options;
  const depth = await readQueueDepth(sqs, options.deadLetterQueueUrl);
  const total = depth.visible;
  let moved = 0;
  let failed = 0;
  while (moved + failed < total) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(BATCH_SIZE, total - moved - failed),
        VisibilityTimeout: MOVE_VISIBILITY_TIMEOUT_S,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = (received.Messages ?? []).filter(
      (message): message is Message & { Body: string; ReceiptHandle: string } =>
        message.Body !== undefined && message.ReceiptHandle !== undefined,
    );
    if (messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body,
          MessageAttributes: copyAttributes(message.MessageAttributes),
        })),
      }),
    );
    const sentIds = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const toDelete = messages
      .map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle }))
      .filter((entry) => sentIds.has(entry.Id));
    if (toDelete.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: options.deadLetterQueueUrl, Entries: toDelete }),
      );
    }
    moved += toDelete.length;
    failed += messages.length - toDelete.length;
    options.onProgress?.(moved, total);
  }
  return { method: 'receive-send-delete', moved, failed, status: failed === 0 ? 'COMPLETED' : 'PARTIAL' };
}

/**
 * Moves the DLQ's messages back to the queue: SQS's message move task, or the receive / send / delete loop
 * where the API is missing. A move task already running is followed rather than doubled.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveResult> {
  try {
    const started = await options.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: options.deadLetterQueueArn,
        DestinationArn: options.queueArn,
      }),
    );
    return await followMoveTask(options, started.TaskHandle);
  } catch (error) {
    if (!isUnsupportedOperation(error)) throw error;
  }
  // SQS answers UnsupportedOperation too while another move task runs on the DLQ: follow that one.
  let running: ListMessageMoveTasksResultEntry | undefined;
  try {
    running = await findMoveTask(options.sqs, options.deadLetterQueueArn);
  } catch (error) {
    if (!isUnsupportedOperation(error)) throw error;
  }
  if (running?.Status === 'RUNNING') return followMoveTask(options, running.TaskHandle);
  return moveByReceiveSendDelete(options);
}
