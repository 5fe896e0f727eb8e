import { describe, expect, it } from 'vitest';
import { anySignal, deadlineOf, withDeadline } from '../../lib/deadline.ts';
import { SyncError } from '../../lib/errors.ts';
import {
  backoffDelayMs,
  NotBefore,
  nextDelayMs,
  parseRetryAfter,
  sleep,
  withRetry,
} from '../../lib/retry.ts';
import { retryDelaySeconds } from '../../lib/sqs-record.ts';

describe('backoffDelayMs', () => {
  it('grows exponentially up to the cap, with jitter between half the base and the ceiling', () => {
    // Prepare
    const options = { baseMs: 100, capMs: 1000 };
    // Act
    const lowest = [0, 1, 2, 3, 10].map((attempt) =>
      backoffDelayMs(attempt, { ...options, random: () => 0 }),
    );
    const highest = [0, 1, 2, 3, 10].map((attempt) =>
      backoffDelayMs(attempt, { ...options, random: () => 0.999999 }),
    );
    // Assess
    expect(lowest).toEqual([50, 50, 50, 50, 50]);
    expect(highest).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('nextDelayMs', () => {
  it("uses the server's Retry-After in full when given: the cap bounds only the backoff", () => {
    expect(nextDelayMs(0, 3000, { baseMs: 100, capMs: 10_000 })).toBe(3000);
    expect(nextDelayMs(0, 60_000, { baseMs: 100, capMs: 10_000 })).toBe(60_000);
    expect(nextDelayMs(5, undefined, { baseMs: 100, capMs: 10_000, random: () => 0.999999 })).toBe(3200);
  });
});

describe('NotBefore', () => {
  it('only ever moves later, and waits until the latest time asked', async () => {
    // Prepare
    const gate = new NotBefore();
    const now = Date.now();
    gate.defer(80, now);
    gate.defer(20, now);

    // Act
    const started = Date.now();
    await gate.wait(undefined, () => new Error('not expected'));

    // Assess
    expect(gate.at).toBe(now + 80);
    expect(Date.now()).toBeGreaterThanOrEqual(now + 80);
    expect(Date.now() - started).toBeGreaterThan(0);
    expect(gate.waitMs()).toBe(0);
  });

  it('gives up at once, with the wait, when the wait ends after the deadline of the signal', async () => {
    // Prepare
    const gate = new NotBefore();
    gate.defer(30_000);
    const signal = withDeadline(new AbortController().signal, Date.now() + 1000);

    // Act
    const error = await gate
      .wait(
        signal,
        (waitMs) => new SyncError(`wait ${waitMs}`, { kind: 'transient', code: 'x', retryAfterMs: waitMs }),
      )
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );

    // Assess
    expect(error).toMatchObject({
      code: 'x',
      retryAfterMs: expect.toSatisfy((ms: number) => ms > 29_000 && ms <= 30_000),
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores garbage', () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Fri, 27 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('withRetry', () => {
  it('retries a retryable failure and returns the later success', async () => {
    // Prepare
    let calls = 0;
    const delays: number[] = [];
    // Act
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('flaky');
        return 'ok';
      },
      {
        maxAttempts: 5,
        baseMs: 1,
        capMs: 2,
        classify: () => ({ retry: true }),
        onRetry: (_e, _a, d) => delays.push(d),
      },
    );
    // Assess
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('gives up at once on a failure classified as not retryable', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error('fatal');
        },
        { maxAttempts: 5, baseMs: 1, capMs: 2, classify: () => ({ retry: false }) },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('throws at once, without waiting, when the next wait would end after the deadline of the signal', async () => {
    // Prepare
    let calls = 0;
    const signal = withDeadline(new AbortController().signal, Date.now() + 5000);
    const rateLimited = new SyncError('429', {
      kind: 'transient',
      code: 'dropbox-rate-limited',
      retryAfterMs: 60_000,
    });

    // Act
    const error = await withRetry(
      async () => {
        calls += 1;
        throw rateLimited;
      },
      {
        maxAttempts: 5,
        baseMs: 1,
        capMs: 2,
        signal,
        classify: (failure) => ({ retry: true, retryAfterMs: (failure as SyncError).retryAfterMs }),
      },
    ).then(
      () => undefined,
      (failure: unknown) => failure,
    );

    // Assess
    expect(error).toBe(rateLimited);
    expect(calls).toBe(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('deadline'));
    await expect(pending).rejects.toThrow('deadline');
  });
});

describe('deadlines of signals', () => {
  it('keeps the earliest deadline when signals are combined', () => {
    // Prepare
    const early = withDeadline(new AbortController().signal, 1000);
    const late = withDeadline(new AbortController().signal, 5000);
    const none = new AbortController().signal;

    // Act
    const combined = anySignal([late, none, early, undefined]);

    // Assess
    expect(deadlineOf(combined)).toBe(1000);
    expect(deadlineOf(anySignal([none]))).toBeUndefined();
    expect(anySignal([undefined])).toBeUndefined();
  });
});

describe('retryDelaySeconds', () => {
  it('backs an account-wide failure off for minutes', () => {
    const error = new SyncError('revoked', { kind: 'account', code: 'dropbox-auth' });
    expect(retryDelaySeconds(error, 1, () => 0)).toBeGreaterThanOrEqual(150);
  });

  it("honours Dropbox's Retry-After for a transient failure", () => {
    const error = new SyncError('429', {
      kind: 'transient',
      code: 'dropbox-rate-limited',
      retryAfterMs: 42_000,
    });
    expect(retryDelaySeconds(error, 1)).toBe(42);
  });

  it('does not cut a Retry-After longer than the transient backoff cap short', () => {
    const error = new SyncError('429', {
      kind: 'transient',
      code: 'dropbox-rate-limited',
      retryAfterMs: 20 * 60_000,
    });
    expect(retryDelaySeconds(error, 1)).toBe(20 * 60);
  });

  it('backs a record that met another instance’s claim off briefly, never past the claim’s end', () => {
    // Prepare
    const claimed = (remainingMs: number) =>
      new SyncError('claimed', { kind: 'transient', code: 'export-in-progress', retryByMs: remainingMs });

    // Act
    const early = [1, 2, 3].map((receive) => retryDelaySeconds(claimed(600_000), receive, () => 0.999));
    const cappedByClaim = retryDelaySeconds(claimed(7_000), 3, () => 0.999);
    const lastBeforeDlq = retryDelaySeconds(claimed(600_000), 4, () => 0.999);
    const late = retryDelaySeconds(claimed(600_000), 9, () => 0.999);

    // Assess
    expect(early).toEqual([10, 20, 40]);
    expect(cappedByClaim).toBe(7);
    expect(lastBeforeDlq).toBe(600);
    expect(late).toBe(600);
  });

  it('backs off exponentially with the receive count otherwise, within the SQS limit', () => {
    const error = new SyncError('503', { kind: 'transient', code: 'dropbox-unavailable' });
    const first = retryDelaySeconds(error, 1, () => 0.999);
    const fourth = retryDelaySeconds(error, 4, () => 0.999);
    expect(first).toBeLessThanOrEqual(10);
    expect(fourth).toBeGreaterThan(first);
    expect(retryDelaySeconds(error, 50, () => 0.999)).toBeLessThanOrEqual(15 * 60);
  });
});
