/**
 * The receipts of one invocation, sent together: each record queues its receipt here and waits, and the invocation's
 * commit group (lib/commit-group.ts) flushes once every record still running has queued something or finished, so
 * the receipts of a batch of records go out in one `PutEvents` call (or as few as its limits allow) instead of one
 * call each. Without a group member a receipt is sent at once, alone.
 */
import { errorMessage, SyncError } from './errors.ts';
import type { CommitGroupMember, GroupCommitter, ReceiptSender, ReceiptSendResult } from './ports.ts';
import type { Receipt } from './receipts.ts';

interface QueuedReceipt {
  readonly receipt: Receipt;
  readonly signal: AbortSignal | undefined;
  readonly settle: (result: ReceiptSendResult) => void;
}

/** The receipts queued by one invocation's records; a {@link GroupCommitter} of its commit group. */
export class ReceiptBatch implements GroupCommitter {
  readonly #sender: ReceiptSender;
  #queued: QueuedReceipt[] = [];

  constructor(sender: ReceiptSender) {
    this.#sender = sender;
  }

  /**
   * Sends `receipt` with the receipts the invocation's other records queue meanwhile, and resolves with how its
   * send ended; never rejects.
   */
  send(
    receipt: Receipt,
    member: CommitGroupMember | undefined,
    signal?: AbortSignal,
  ): Promise<ReceiptSendResult> {
    let settle: (result: ReceiptSendResult) => void = () => undefined;
    const settled = new Promise<ReceiptSendResult>((resolve) => {
      settle = resolve;
    });
    this.#queued.push({ receipt, signal, settle });
    if (member === undefined) {
      void this.flush();
      return settled;
    }
    return member.wait(this, settled);
  }

  /** Sends everything queued so far and settles each queued receipt; never rejects. */
  async flush(): Promise<void> {
    const items = this.#queued;
    this.#queued = [];
    if (items.length === 0) return;
    // The records of one invocation share its deadline: any of their signals stands for all of them.
    const signal = items.find((item) => item.signal !== undefined)?.signal;
    let results: readonly ReceiptSendResult[] = [];
    let failure = 'the sender gave no result';
    try {
      results = await this.#sender.send(
        items.map((item) => item.receipt),
        signal,
      );
    } catch (error) {
      failure = errorMessage(error);
    }
    items.forEach((item, index) => {
      item.settle(
        results[index] ?? {
          sent: false,
          error: new SyncError(`The receipt could not be sent: ${failure}`, {
            kind: 'transient',
            code: 'receipt-not-sent',
          }),
        },
      );
    });
  }
}
