import { describe, expect, it } from 'vitest';
import { forEachLimited } from '../../cli/for-each-limited.ts';

describe('forEachLimited', () => {
  it('runs every item once and never more than the limit at once', async () => {
    // Prepare
    const items = Array.from({ length: 25 }, (_, index) => index);
    const seen: number[] = [];
    let running = 0;
    let most = 0;

    // Act
    await forEachLimited(items, 4, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(item);
      running -= 1;
    });

    // Assess
    expect([...seen].sort((a, b) => a - b)).toEqual(items);
    expect(most).toBe(4);
  });

  it('rejects with the failure of an item when work throws', async () => {
    // Prepare
    const failure = new Error('item 3 failed');

    // Act
    const run = forEachLimited([1, 2, 3, 4], 2, async (item) => {
      if (item === 3) throw failure;
    });

    // Assess
    await expect(run).rejects.toBe(failure);
  });

  it('does nothing when there are no items', async () => {
    // Prepare
    const seen: number[] = [];

    // Act
    await forEachLimited<number>([], 8, async (item) => {
      seen.push(item);
    });

    // Assess
    expect(seen).toEqual([]);
  });
});
