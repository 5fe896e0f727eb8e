/**
 * The soak's incidents besides the steady faults (issue 12): one hung S3 call, and an account-wide outage in the
 * middle of the run. Each one is started by the run, watched, and described in the report with what the verifier
 * then found for it.
 */
import { existsSync } from 'node:fs';
import { sleep } from '../../lib/retry.ts';
import type { RecordFailure } from '../../lib/sqs-record.ts';
import type { LocalS3 } from '../emulators/s3/server.ts';
import { expectationOf, type SoakObject } from './population.ts';
import type { RecordedOutcome } from './verify.ts';

/** The S3 operation left unanswered once. */
const HUNG_ACTION = 'HeadObject';

/** A hung S3 call being watched. */
export interface HungCall {
  readonly key: string;
  readonly action: string;
  /** When the call was left unanswered (epoch ms), once it was. */
  hungAt(): number | undefined;
  /** Lifts the fault if it is still in force. */
  stop(): void;
}

/**
 * The object whose S3 call hangs: a small ticket file that exports at upload, has a name of its own and is left
 * alone during the run, so that its one outcome tells what the hang did.
 */
export function pickHangTarget(objects: readonly SoakObject[]): SoakObject | undefined {
  return objects.find(
    (object) =>
      object.kind === 'ticket' &&
      object.nameGroup === undefined &&
      object.mutation === 'none' &&
      (object.versions[0]?.size ?? 0) > 0 &&
      (object.versions[0]?.size ?? 0) < 1024 * 1024 &&
      expectationOf(object).export,
  );
}

/**
 * Makes the first `HeadObject` of `key` hang (the local S3 never answers it), then lifts the fault as soon as one
 * request hung, so that exactly one call hangs: the function's S3 client must give up on it at its request timeout
 * (`AWS_REQUEST_TIMEOUT_MS`, 30 s by default) and the record still export, while the other records go on.
 */
export function hangOneS3Call(s3: LocalS3, key: string): HungCall {
  let hungAt: number | undefined;
  const before = s3.hungRequests;
  s3.setFaults({ hang: { actions: [HUNG_ACTION], keyIncludes: key } });
  const watch = setInterval(() => {
    if (s3.hungRequests > before) {
      hungAt = Date.now();
      s3.setFaults({});
      clearInterval(watch);
    }
  }, 20);
  watch.unref();
  return {
    key,
    action: HUNG_ACTION,
    hungAt: () => hungAt,
    stop() {
      clearInterval(watch);
      if (hungAt === undefined) s3.setFaults({});
    },
  };
}

/** The report's line of the hung call: when it hung, how the record failed meanwhile, and when it exported. */
export function describeHungCall(
  call: HungCall,
  outcomes: readonly RecordedOutcome[],
  failures: readonly RecordFailure[],
  exportedPath: string | undefined,
): string {
  const at = call.hungAt();
  if (at === undefined) return `FAILED: no ${call.action} of ${call.key} was ever made, so none hung`;
  const exported = outcomes.find(
    (recorded) => recorded.outcome.key === call.key && recorded.outcome.decision === 'exported',
  );
  const failed = failures.filter((failure) => failure.key === call.key);
  const meanwhile =
    failed.length === 0
      ? 'the SDK gave up on it and its retry answered, within the record'
      : `the record failed ${failed.length} time(s) meanwhile (${[...new Set(failed.map((f) => `${f.kind}/${f.code}`))].join(', ')})`;
  if (exported === undefined || exportedPath === undefined) {
    return `FAILED: ${call.action} of ${call.key} hung, and the object was not exported afterwards`;
  }
  return `${call.action} of ${call.key} left unanswered; ${meanwhile}; exported ${Math.round((exported.at - at) / 1000)} s later to ${exportedPath}`;
}

/** Options of {@link runOutage}. */
export interface OutageOptions {
  /** Switches Dropbox full (the emulator's `insufficient_space` on every write) on and off. */
  readonly setInsufficientSpace: (on: boolean) => Promise<void>;
  /** The local poller's pause file: present while the flow is stopped. */
  readonly pauseFile: string;
  readonly durationMs: number;
  /** Reads the breaker's control item (the ledger table's `control#flow`). */
  readonly readControl: () => Promise<Record<string, unknown> | undefined>;
}

/** What happened during the outage, as watched. */
export interface OutageRecord {
  readonly startedAt: number;
  readonly endedAt: number;
  /** When the flow stopped (the pause file appeared) after the outage began. */
  readonly pausedAt: number | undefined;
  /** When the flow ran again (the pause file went) after the outage ended. */
  readonly resumedAt: number | undefined;
  /** Who released the breaker's hold, as the control item says (`probe`). */
  readonly releasedBy: string | undefined;
}

/** How often the pause file and the control item are looked at. */
const WATCH_MS = 250;
/** How long after the outage the flow must run again (the probe's interval and a margin). */
const RESUME_WAIT_MS = 120_000;

/**
 * Dropbox is full for `durationMs` (every write fails `insufficient_space`, an account-wide failure): the breaker must
 * stop the flow, the records wait in the queue, and once there is room the probe must start the flow again by itself.
 * Resolves when the flow runs again (or the wait for it ran out), with what was seen.
 */
export async function runOutage(options: OutageOptions): Promise<OutageRecord> {
  const startedAt = Date.now();
  let pausedAt: number | undefined;
  await options.setInsufficientSpace(true);
  const watch = setInterval(() => {
    if (pausedAt === undefined && existsSync(options.pauseFile)) pausedAt = Date.now();
  }, WATCH_MS);
  try {
    await sleep(options.durationMs);
  } finally {
    clearInterval(watch);
    await options.setInsufficientSpace(false);
  }
  const endedAt = Date.now();
  let resumedAt: number | undefined;
  while (Date.now() - endedAt < RESUME_WAIT_MS) {
    if (!existsSync(options.pauseFile)) {
      resumedAt = Date.now();
      break;
    }
    await sleep(WATCH_MS);
  }
  const control = resumedAt === undefined ? undefined : await options.readControl();
  const releasedBy = typeof control?.updatedBy === 'string' ? control.updatedBy : undefined;
  return { startedAt, endedAt, pausedAt, resumedAt, releasedBy };
}

function seconds(ms: number): string {
  const whole = Math.round(ms / 1000);
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s` : `${whole} s`;
}

/**
 * The report's line of the outage. It fails unless the breaker stopped the flow during the outage and the probe
 * (nobody else) started it again afterwards; the DLQ check (poison only) and lost 0 are the verifier's.
 */
export function describeOutage(
  record: OutageRecord | undefined,
  runStartedAt: number,
  failures: readonly RecordFailure[],
  cycles: string,
): string {
  if (record === undefined) return 'FAILED: the outage never started';
  const during = failures.filter(
    (failure) => failure.kind === 'account' && failure.code === 'dropbox-insufficient-space',
  );
  const head = `Dropbox full (insufficient_space) from ${seconds(record.startedAt - runStartedAt)} into the run for ${seconds(record.endedAt - record.startedAt)} (${cycles})`;
  if (record.pausedAt === undefined) return `FAILED: ${head}; the breaker never stopped the flow`;
  if (record.resumedAt === undefined) {
    return `FAILED: ${head}; the flow was still stopped ${seconds(RESUME_WAIT_MS)} after the outage`;
  }
  if (record.releasedBy !== 'probe') {
    return `FAILED: ${head}; the flow was started again by ${record.releasedBy ?? 'nobody known'}, not the probe`;
  }
  return (
    `${head}; the breaker stopped the flow ${seconds(record.pausedAt - record.startedAt)} after it began; ` +
    `${during.length} account-wide failures, each requeued as a fresh copy (never counted toward the DLQ); ` +
    `the probe found room and started the flow ${seconds(record.resumedAt - record.endedAt)} after the outage ended; no redrive, no person`
  );
}
