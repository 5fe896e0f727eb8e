/**
 * The commit group of one invocation: the records of a batch run in parallel, and those with a small file queue its
 * commit here instead of committing it alone. The group flushes (one `finish_batch_v2` per Dropbox client) once
 * every record still running has queued a commit or finished, so that a batch of small files takes the Dropbox
 * namespace's write lock once instead of once per file. Pure coordination: what a flush does is the committer's.
 */
import type { CommitGroupMember, GroupCommitter } from './ports.ts';

/** The commit group of one invocation, with one member per record. */
export class CommitGroup {
  readonly #ids: readonly string[];
  readonly #taken = new Set<number>();
  readonly #committers = new Set<GroupCommitter>();
  #left = 0;
  #apart = 0;
  #queued = 0;
  #flushing = false;
  readonly #commitSignal: AbortSignal | undefined;

  /**
   * `ids` are the records' ids (SQS message ids) in the batch's order; `commitSignal` bounds the queued commits (the
   * invocation's final deadline).
   */
  constructor(ids: readonly string[], options: { readonly commitSignal?: AbortSignal | undefined } = {}) {
    this.#ids = ids;
    this.#commitSignal = options.commitSignal;
  }

  /** Members that have not finished yet. */
  get running(): number {
    return this.#ids.length - this.#left;
  }

  /**
   * The member for the record `id`; it must {@link CommitGroupMember} `leave` once its record is done. An id the
   * group does not know (or one asked for twice) gets a member that commits alone.
   */
  member(id: string): CommitGroupMember & { leave(): void } {
    const index = this.#ids.findIndex(
      (candidate, position) => candidate === id && !this.#taken.has(position),
    );
    if (index < 0) return createSoloMember();
    this.#taken.add(index);
    let left = false;
    const group = this;
    return {
      group,
      index,
      commitSignal: this.#commitSignal,
      get othersRunning() {
        return group.running - (left ? 0 : 1);
      },
      wait: (committer, settled) => this.#wait(committer, settled),
      runApart: (work) => this.#runApart(work),
      leave: () => {
        if (left) return;
        left = true;
        this.#left += 1;
        this.#flushWhenReady();
      },
    };
  }

  #wait<T>(committer: GroupCommitter, settled: Promise<T>): Promise<T> {
    this.#queued += 1;
    this.#committers.add(committer);
    this.#flushWhenReady();
    return settled;
  }

  async #runApart<T>(work: () => Promise<T>): Promise<T> {
    this.#apart += 1;
    this.#flushWhenReady();
    try {
      return await work();
    } finally {
      this.#apart -= 1;
    }
  }

  /** Flushes when something is queued and every member still running (and not apart) has queued. */
  #flushWhenReady(): void {
    if (this.#flushing || this.#queued === 0) return;
    if (this.#queued < this.running - this.#apart) return;
    const committers = [...this.#committers];
    this.#committers.clear();
    this.#queued = 0;
    this.#flushing = true;
    // Committers settle their own items and never reject; one flush at a time keeps commits of one invocation serial.
    void Promise.allSettled(committers.map((committer) => committer.flush())).then(() => {
      this.#flushing = false;
      this.#flushWhenReady();
    });
  }
}

/** A member alone in its group: nothing waits for it, and its commits are flushed at once. */
function createSoloMember(): CommitGroupMember & { leave(): void } {
  return {
    group: {},
    index: 0,
    othersRunning: 0,
    wait: (committer, settled) => {
      void committer.flush();
      return settled;
    },
    runApart: (work) => work(),
    leave: () => undefined,
  };
}
