/**
 * The commit group of one invocation: when it flushes its committers, whom it waits for, and that it flushes one
 * batch at a time. The committer here records what each flush committed (the Dropbox one is tested against the
 * emulator in test/dropbox/batch-commit.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { CommitGroup } from '../../lib/commit-group.ts';
import type { CommitGroupMember, GroupCommitter } from '../../lib/ports.ts';

/** Commits names; each flush is one batch. `hold` keeps a flush from finishing until released. */
class RecordingCommitter implements GroupCommitter {
  readonly batches: string[][] = [];
  #queue: Array<{ name: string; index: number; resolve: (batch: number) => void }> = [];
  hold: Promise<void> | undefined;

  commit(member: CommitGroupMember, name: string): Promise<number> {
    const settled = new Promise<number>((resolve) => {
      this.#queue.push({ name, index: member.index, resolve });
    });
    return member.wait(this, settled);
  }

  async flush(): Promise<void> {
    const queued = this.#queue.sort((a, b) => a.index - b.index);
    this.#queue = [];
    this.batches.push(queued.map((item) => item.name));
    await this.hold;
    for (const item of queued) item.resolve(this.batches.length);
  }
}

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe('CommitGroup', () => {
  it('flushes once every member has queued, in the members’ order, whatever order they queued in', async () => {
    // Prepare
    const group = new CommitGroup(['a', 'b', 'c']);
    const committer = new RecordingCommitter();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => group.member(id));

    // Act
    const pending = [c, a].map((member) =>
      committer.commit(member as CommitGroupMember, `file-${member?.index}`),
    );
    await settle();
    const before = committer.batches.length;
    const last = committer.commit(b as CommitGroupMember, 'file-1');

    // Assess
    expect(before).toBe(0);
    expect(await Promise.all([...pending, last])).toEqual([1, 1, 1]);
    expect(committer.batches).toEqual([['file-0', 'file-1', 'file-2']]);
  });

  it('stops waiting for a member once it has left', async () => {
    // Prepare
    const group = new CommitGroup(['a', 'b']);
    const committer = new RecordingCommitter();
    const a = group.member('a');
    const b = group.member('b');
    const queued = committer.commit(a, 'only');
    await settle();
    const before = committer.batches.length;

    // Act
    b.leave();

    // Assess
    expect(before).toBe(0);
    expect(await queued).toBe(1);
    expect(committer.batches).toEqual([['only']]);
  });

  it('does not wait for a member that runs a large upload apart', async () => {
    // Prepare
    const group = new CommitGroup(['small', 'large']);
    const committer = new RecordingCommitter();
    const small = group.member('small');
    const large = group.member('large');
    let finishLarge = (): void => undefined;
    const largeUpload = large.runApart(
      () =>
        new Promise<string>((resolve) => {
          finishLarge = () => resolve('large done');
        }),
    );

    // Act
    const committed = await committer.commit(small, 'small file');
    finishLarge();

    // Assess
    expect(committed).toBe(1);
    expect(await largeUpload).toBe('large done');
    expect(small.othersRunning).toBe(1);
  });

  it('flushes one batch at a time: commits queued meanwhile go in the next one', async () => {
    // Prepare
    const group = new CommitGroup(['a', 'b', 'c']);
    const committer = new RecordingCommitter();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => group.member(id)) as [
      ReturnType<CommitGroup['member']>,
      ReturnType<CommitGroup['member']>,
      ReturnType<CommitGroup['member']>,
    ];
    let release = (): void => undefined;
    committer.hold = new Promise((resolve) => {
      release = resolve;
    });
    c.leave();
    const first = [committer.commit(a, 'a1'), committer.commit(b, 'b1')];
    await settle();

    // Act: a's second file is queued while the first flush is still running, then b finishes
    const aDone = first[0]?.then(() => committer.commit(a, 'a2'));
    release();
    await Promise.all(first);
    await settle();
    b.leave();

    // Assess
    expect(await aDone).toBe(2);
    expect(committer.batches).toEqual([['a1', 'b1'], ['a2']]);
  });

  it('lets a member the group does not know commit alone, at once', async () => {
    // Prepare
    const group = new CommitGroup(['a', 'b']);
    const committer = new RecordingCommitter();
    const stranger = group.member('not-in-the-batch');

    // Act
    const committed = await committer.commit(stranger, 'alone');

    // Assess
    expect(committed).toBe(1);
    expect(stranger.othersRunning).toBe(0);
    expect(group.running).toBe(2);
  });
});
