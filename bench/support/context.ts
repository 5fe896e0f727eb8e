/** What every scenario gets: the stack, the bundles, and the shared helpers for counting and summarising. */
import type { Bundle } from './bundle.ts';
import type { BenchStack } from './stack.ts';

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** The bundles the scenarios run. */
export interface Bundles {
  /** functions/sync-to-dropbox/handler.ts, bundled as infra does. */
  readonly handler: Bundle;
  readonly syncChild: Bundle;
  readonly rawChild: Bundle;
}

/** The context of a scenario. */
export interface BenchContext {
  readonly stack: BenchStack;
  readonly bundles: Bundles;
  /** Where scenarios may write scratch files. */
  readonly scratch: string;
  /** Prints a progress line. */
  log(line: string): void;
}

/** A target and how a run compares. */
export interface Target {
  readonly target: string;
  readonly measured: number;
  readonly met: boolean;
  /** What holds a missed target back, when the bench can tell. */
  readonly reason?: string;
}

/** Counts `items` by `key`. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const name = key(item);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Dropbox routes that carry data (each counts against a team's monthly data-transport limit). */
export function isUploadRoute(route: string): boolean {
  return route === 'files/upload' || route.startsWith('files/upload_session/');
}
