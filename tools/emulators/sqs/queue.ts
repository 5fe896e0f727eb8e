/**
 * One standard SQS queue's state and semantics, apart from HTTP: messages with their delay, visibility and receive
 * count, receipt handles (a new one per receive), long-poll waiting, retention, and the redrive to a dead-letter
 * queue when a receive would exceed `maxReceiveCount`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalidParameterValue, receiptHandleIsInvalid } from './errors.ts';
import { type MessageAttributeValue, md5Hex, md5OfMessageAttributes } from './message-attributes.ts';

/** A queue's redrive policy, as the `RedrivePolicy` attribute's JSON holds it. */
export interface RedrivePolicy {
  readonly deadLetterTargetArn: string;
  readonly maxReceiveCount: number;
}

/** One stored message. A duplicate delivery (the at-least-once fault) is a second record with the same `messageId`. */
interface StoredMessage {
  /** Unique per record; receipt handles point at it. */
  readonly recordId: string;
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>> | undefined;
  readonly md5OfMessageAttributes: string | undefined;
  readonly sentTimestamp: number;
  readonly senderId: string;
  /** Until when the message is delayed (never received yet) or invisible (received), epoch ms. */
  availableAt: number;
  receiveCount: number;
  firstReceiveTimestamp: number | undefined;
  /** When the latest receive happened: the 12-hour visibility limit counts from it. */
  receivedAt: number | undefined;
  /** The nonce of the latest receipt handle; older handles are stale. */
  receiptNonce: string | undefined;
}

/** A message as one receive delivers it. */
export interface Delivery {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>> | undefined;
  readonly systemAttributes: Readonly<Record<string, string>>;
}

/** What a receive asks for. */
export interface ReceiveRequest {
  readonly maxMessages: number;
  readonly visibilityTimeoutSeconds: number;
  readonly now: number;
  /** The order visible messages are considered in (sent order unless the emulator's `reorder` fault shuffles it). */
  readonly order: (candidates: number) => number[];
  /** Whether a delivered message is also delivered once more later (the emulator's at-least-once fault). */
  readonly duplicate: () => boolean;
  /** The dead-letter queue of the redrive policy, if it exists. */
  readonly deadLetterQueue: (arn: string) => Queue | undefined;
}

/** Counts for `GetQueueAttributes`. */
export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  /** Seconds since the oldest message was sent; 0 when the queue is empty. */
  readonly oldestAgeSeconds: number;
}

/** Visibility timeouts are capped at 12 hours, counted from the receive. */
export const MAX_VISIBILITY_SECONDS = 43_200;
const HANDLE_PREFIX = 'AQEB';

/** A standard queue. */
export class Queue {
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly createdAt: number;
  lastModifiedAt: number;
  /** The queue's attributes as `GetQueueAttributes` returns them (strings), defaults included. */
  attributes: Record<string, string>;
  lastPurgeAt: number | undefined;
  readonly #messages: StoredMessage[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(init: {
    name: string;
    arn: string;
    url: string;
    attributes: Record<string, string>;
    now: number;
  }) {
    this.name = init.name;
    this.arn = init.arn;
    this.url = init.url;
    this.attributes = init.attributes;
    this.createdAt = init.now;
    this.lastModifiedAt = init.now;
  }

  /** `VisibilityTimeout`, in seconds. */
  get visibilityTimeoutSeconds(): number {
    return Number(this.attributes.VisibilityTimeout);
  }

  /** `ReceiveMessageWaitTimeSeconds`: the default long-poll wait. */
  get receiveWaitSeconds(): number {
    return Number(this.attributes.ReceiveMessageWaitTimeSeconds);
  }

  /** `MaximumMessageSize`, in bytes. */
  get maximumMessageSize(): number {
    return Number(this.attributes.MaximumMessageSize);
  }

  /** The parsed `RedrivePolicy`, if set. */
  get redrivePolicy(): RedrivePolicy | undefined {
    const raw = this.attributes.RedrivePolicy;
    return raw === undefined || raw === '' ? undefined : (JSON.parse(raw) as RedrivePolicy);
  }

  /** Stores a new message and wakes long polls. */
  send(input: {
    body: string;
    messageAttributes: Record<string, MessageAttributeValue> | undefined;
    delaySeconds: number | undefined;
    now: number;
  }): { messageId: string; md5OfBody: string; md5OfMessageAttributes: string | undefined } {
    const delaySeconds = input.delaySeconds ?? Number(this.attributes.DelaySeconds);
    const message: StoredMessage = {
      recordId: randomUUID(),
      messageId: randomUUID(),
      body: input.body,
      md5OfBody: md5Hex(input.body),
      messageAttributes: input.messageAttributes,
      md5OfMessageAttributes:
        input.messageAttributes === undefined ? undefined : md5OfMessageAttributes(input.messageAttributes),
      sentTimestamp: input.now,
      senderId: 'AIDAEMULATOR000000000',
      availableAt: input.now + delaySeconds * 1000,
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      receivedAt: undefined,
      receiptNonce: undefined,
    };
    this.#messages.push(message);
    this.#wake();
    return {
      messageId: message.messageId,
      md5OfBody: message.md5OfBody,
      md5OfMessageAttributes: message.md5OfMessageAttributes,
    };
  }

  /**
   * Delivers up to `maxMessages` visible messages, each with a new receipt handle. A message whose receive would
   * exceed the redrive policy's `maxReceiveCount` moves to the dead-letter queue instead (keeping its id, body and
   * `SentTimestamp`).
   */
  receive(request: ReceiveRequest): Delivery[] {
    this.#expire(request.now);
    const visible = this.#messages.filter((message) => message.availableAt <= request.now);
    const policy = this.redrivePolicy;
    const deliveries: Delivery[] = [];
    for (const index of request.order(visible.length)) {
      if (deliveries.length >= request.maxMessages) break;
      const message = visible[index];
      if (message === undefined) continue;
      if (policy !== undefined && message.receiveCount >= policy.maxReceiveCount) {
        const deadLetterQueue = request.deadLetterQueue(policy.deadLetterTargetArn);
        if (deadLetterQueue !== undefined) {
          this.#remove(message);
          deadLetterQueue.#adopt(message, request.now);
          continue;
        }
      }
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= request.now;
      message.receivedAt = request.now;
      message.receiptNonce = randomBytes(12).toString('hex');
      message.availableAt = request.now + request.visibilityTimeoutSeconds * 1000;
      deliveries.push(this.#deliver(message));
      if (request.duplicate()) {
        // At-least-once: the same message (same MessageId) becomes receivable once more, as its own record.
        this.#messages.push({
          ...message,
          recordId: randomUUID(),
          availableAt: request.now,
          receiptNonce: undefined,
          receivedAt: undefined,
        });
      }
    }
    return deliveries;
  }

  /**
   * `DeleteMessage`. A handle this queue never issued is `ReceiptHandleIsInvalid`; a message already gone succeeds
   * (deletes are idempotent); a stale handle (the message was received again since) succeeds without deleting,
   * as AWS documents: "the request succeeds, but the message might not be deleted".
   */
  delete(handle: string): void {
    const { recordId, nonce } = this.#parseHandle(handle);
    const message = this.#messages.find((candidate) => candidate.recordId === recordId);
    if (message === undefined || message.receiptNonce !== nonce) return;
    this.#remove(message);
  }

  /**
   * `ChangeMessageVisibility`: makes the message visible again after `seconds` from now. A message gone or received
   * again since is `InvalidParameterValue`, as AWS answers; a message whose visibility already expired (and that
   * nobody received again) is left as it is, and the call succeeds, as AWS does. The total visibility stays within
   * 12 hours of the receive.
   */
  changeVisibility(handle: string, seconds: number, now: number): void {
    const { recordId, nonce } = this.#parseHandle(handle);
    const message = this.#messages.find((candidate) => candidate.recordId === recordId);
    if (message === undefined || message.receiptNonce !== nonce) {
      throw invalidParameterValue(
        `Value ${handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    if (message.availableAt <= now) return;
    if ((message.receivedAt ?? now) + MAX_VISIBILITY_SECONDS * 1000 < now + seconds * 1000) {
      throw invalidParameterValue(
        `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`,
      );
    }
    message.availableAt = now + seconds * 1000;
    if (seconds === 0) this.#wake();
  }

  /** `PurgeQueue`: drops every message, in flight or not. */
  purge(now: number): void {
    this.#messages.length = 0;
    this.lastPurgeAt = now;
  }

  /** Counts by state, for `GetQueueAttributes`. */
  counts(now: number): QueueCounts {
    this.#expire(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    let oldest = now;
    for (const message of this.#messages) {
      oldest = Math.min(oldest, message.sentTimestamp);
      if (message.availableAt <= now) visible += 1;
      else if (message.receiveCount > 0) inFlight += 1;
      else delayed += 1;
    }
    return { visible, inFlight, delayed, oldestAgeSeconds: Math.floor((now - oldest) / 1000) };
  }

  /** When the next delayed or invisible message becomes visible, if any. */
  nextAvailableAt(now: number): number | undefined {
    let next: number | undefined;
    for (const message of this.#messages) {
      if (message.availableAt > now && (next === undefined || message.availableAt < next))
        next = message.availableAt;
    }
    return next;
  }

  /** Resolves when a message may have become receivable, after `ms`, or when `signal` aborts. */
  waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #adopt(message: StoredMessage, now: number): void {
    this.#messages.push({ ...message, availableAt: now, receiptNonce: undefined, receivedAt: undefined });
    this.#wake();
  }

  #deliver(message: StoredMessage): Delivery {
    const handle = `${HANDLE_PREFIX}${Buffer.from(
      `${this.name}\n${message.recordId}\n${message.receiptNonce ?? ''}`,
      'utf8',
    ).toString('base64')}`;
    return {
      messageId: message.messageId,
      receiptHandle: handle,
      body: message.body,
      md5OfBody: message.md5OfBody,
      messageAttributes: message.messageAttributes,
      systemAttributes: {
        SenderId: message.senderId,
        SentTimestamp: String(message.sentTimestamp),
        ApproximateReceiveCount: String(message.receiveCount),
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
      },
    };
  }

  #parseHandle(handle: string): { recordId: string; nonce: string } {
    if (!handle.startsWith(HANDLE_PREFIX)) throw receiptHandleIsInvalid(handle);
    const parts = Buffer.from(handle.slice(HANDLE_PREFIX.length), 'base64').toString('utf8').split('\n');
    const [queueName, recordId, nonce] = parts;
    if (parts.length !== 3 || queueName !== this.name || !recordId || !nonce)
      throw receiptHandleIsInvalid(handle);
    return { recordId, nonce };
  }

  #remove(message: StoredMessage): void {
    const index = this.#messages.indexOf(message);
    if (index >= 0) this.#messages.splice(index, 1);
  }

  #expire(now: number): void {
    const retentionMs = Number(this.attributes.MessageRetentionPeriod) * 1000;
    for (let index = this.#messages.length - 1; index >= 0; index -= 1) {
      const message = this.#messages[index];
      if (message !== undefined && message.sentTimestamp + retentionMs <= now)
        this.#messages.splice(index, 1);
    }
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
